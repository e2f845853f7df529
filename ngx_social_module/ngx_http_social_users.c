
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET, PUT, DELETE /user/{id} and PUT /user/{id}/role.
 *
 * PUT /user/{id}, the longest chain:
 *
 *   1. The body (422), the user or an admin (403), the id (404):
 *      ngx_http_social_user_update().
 *   2. PostgreSQL: the stored password hash, and whether the user is
 *      there (404): ngx_http_social_user_found().
 *   3. A new password: current_password verified in the thread pool,
 *      unless an admin asks (403): ngx_http_social_user_checked(); then
 *      the new one hashed there: ngx_http_social_user_hashed().
 *   4. PostgreSQL, one transaction (ngx_http_social_user_begin(), _begun()):
 *      the regrouping first when the attributes change, as it takes the
 *      grouping lock before the row as signup and delete do
 *      (ngx_http_social_user_regrouped()); then the other fields, the
 *      token generation moved on with a new password (_updated()); COMMIT
 *      (_committed()).
 *   5. A new password: a fresh token, and the revocation of the older ones
 *      published (ngx_http_social_revoke_publish()).
 *   6. The user's cached {user_id, username} out of the feed in Redis:
 *      ngx_http_social_user_reread().
 *   7. The committed row read again for the answer, with the fresh token:
 *      ngx_http_social_user_show_row(), _show(), _reply().
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_password.h"
#include "ngx_http_social_password_gate.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_token.h"
#include "ngx_http_social_revoke.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_feed_cache.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_access.h"
#include "ngx_http_social_counts.h"
#include "ngx_http_social_reads.h"


/*
 * the parameters of PUT: the update's ($1 the id, $2 username, $3 email,
 * $4 the new hash, NULL when unchanged), then what the regrouping takes;
 * GET, DELETE and the role have the id and one of their own
 */

enum {
    NGX_HTTP_SOCIAL_USER_ID = 0,
    NGX_HTTP_SOCIAL_USER_USERNAME,
    NGX_HTTP_SOCIAL_USER_EMAIL,
    NGX_HTTP_SOCIAL_USER_HASH,
    NGX_HTTP_SOCIAL_USER_ATTRIBUTES,
    NGX_HTTP_SOCIAL_USER_THRESHOLD,
    NGX_HTTP_SOCIAL_USER_MAX_SIZE,
    NGX_HTTP_SOCIAL_USER_PARAMS
};

#define NGX_HTTP_SOCIAL_USER_UPDATE_PARAMS  4


/* the regrouping's: the id, the attributes, the threshold, the max size */

enum {
    NGX_HTTP_SOCIAL_REGROUP_ID = 0,
    NGX_HTTP_SOCIAL_REGROUP_ATTRIBUTES,
    NGX_HTTP_SOCIAL_REGROUP_THRESHOLD,
    NGX_HTTP_SOCIAL_REGROUP_MAX_SIZE,
    NGX_HTTP_SOCIAL_REGROUP_PARAMS
};


/*
 * the columns of NGX_HTTP_SOCIAL_USER_COLUMNS: the row's
 * (NGX_HTTP_SOCIAL_USER_ROW), then its counts
 */

enum {
    NGX_HTTP_SOCIAL_USER_COL_ID = 0,
    NGX_HTTP_SOCIAL_USER_COL_USERNAME,
    NGX_HTTP_SOCIAL_USER_COL_EMAIL,
    NGX_HTTP_SOCIAL_USER_COL_ATTRIBUTES,
    NGX_HTTP_SOCIAL_USER_COL_GROUP,
    NGX_HTTP_SOCIAL_USER_COL_ROLE,
    NGX_HTTP_SOCIAL_USER_COL_CREATED_AT,
    NGX_HTTP_SOCIAL_USER_COL_TOKEN_GEN,
    NGX_HTTP_SOCIAL_USER_COL_FOLLOWERS,
    NGX_HTTP_SOCIAL_USER_COL_FOLLOWING,
    NGX_HTTP_SOCIAL_USER_COL_POSTS
};

/* the update's and the role's RETURNING: the row's, the revocation record */
#define NGX_HTTP_SOCIAL_USER_COL_REVOCATION  NGX_HTTP_SOCIAL_USER_COL_FOLLOWERS


/* the columns of the delete */

enum {
    NGX_HTTP_SOCIAL_USER_DELETE_GONE = 0,
    NGX_HTTP_SOCIAL_USER_DELETE_LIKED,
    NGX_HTTP_SOCIAL_USER_DELETE_REVOCATION,
    NGX_HTTP_SOCIAL_USER_DELETE_MEMBERS
};


typedef struct {
    int64_t                         id;
    const char                     *values[NGX_HTTP_SOCIAL_USER_PARAMS];
    const char                     *regroup[NGX_HTTP_SOCIAL_REGROUP_PARAMS];
    ngx_str_t                       password;
    ngx_str_t                       current;
    ngx_str_t                       token;
    ngx_str_t                       liked;      /* "{1,2}": the posts */
    int64_t                         gen;
    int64_t                         rev;        /* its revocation record */
    ngx_uint_t                      self;       /* unsigned:1 */
    ngx_uint_t                      attrs;      /* unsigned:1 */
    ngx_uint_t                      role_admin; /* unsigned:1 */
} ngx_http_social_user_t;


static ngx_int_t ngx_http_social_user_read(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_user_update(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_user_delete(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_user_begin(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_user_found(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_hashed(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);
static void ngx_http_social_user_checked(ngx_http_social_ctx_t *ctx,
    ngx_str_t *hash);
static void ngx_http_social_user_begun(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_regrouped(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_updated(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_committed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_deleted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_role_set(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_user_gone(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_user_reread(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_user_show_row(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_user_show(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_user_reply(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_http_social_user_t *ngx_http_social_user_state(
    ngx_http_social_ctx_t *ctx);


/* the columns of the user row "u" */
#define NGX_HTTP_SOCIAL_USER_ROW                                             \
    "u.user_id, u.username, u.email, to_json(u.attributes)::text, "          \
    "u.group_id, u.role, social_time(u.created_at), u.token_gen"

/*
 * the user object as GET, PUT and the role answer it: the row and its
 * counts, read without counting (_counts.h), from NGX_HTTP_SOCIAL_USER_FROM
 */
#define NGX_HTTP_SOCIAL_USER_COLUMNS                                         \
    NGX_HTTP_SOCIAL_USER_ROW ", " NGX_HTTP_SOCIAL_SQL_COUNTS

#define NGX_HTTP_SOCIAL_USER_FROM                                            \
    " FROM users u " NGX_HTTP_SOCIAL_SQL_COUNTS_FROM

static const char  ngx_http_social_sql_user[] =
    "SELECT " NGX_HTTP_SOCIAL_USER_COLUMNS NGX_HTTP_SOCIAL_USER_FROM
    " WHERE u.user_id = $1";

/*
 * GET, the reads of a worker's concurrent requests in one statement
 * (_reads.c): $1 the users, $2 their readers; a row for each user who
 * exists and is in no block with their reader, either way, with the
 * read's place last
 */
static ngx_http_social_reads_t  ngx_http_social_user_reads = {
    "SELECT " NGX_HTTP_SOCIAL_USER_COLUMNS ", q.i "
    "  FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY "
    "       AS q(id, reader, i) "
    "  JOIN users u ON u.user_id = q.id "
    NGX_HTTP_SOCIAL_SQL_COUNTS_FROM
    " WHERE NOT " NGX_HTTP_SOCIAL_SQL_BLOCKED("u.user_id", "q.reader"),
    2,
    NGX_HTTP_SOCIAL_USER_COL_POSTS + 1,
    NULL
};

static const char  ngx_http_social_sql_user_hash[] =
    "SELECT password_hash FROM users WHERE user_id = $1";

static const char  ngx_http_social_sql_user_regroup[] =
    "SELECT social_regroup($1, $2::text[], $3::numeric, $4::int)";

/*
 * the update and the role return the row (its role and generation) and
 * the revocation record; the answer reads the committed row again, with
 * its counts (ngx_http_social_user_reread())
 */
static const char  ngx_http_social_sql_user_update[] =
    "UPDATE users u SET username = coalesce($2, username), "
    "                   email = coalesce($3, email), "
    "                   password_hash = coalesce($4, password_hash), "
    "                   token_gen = token_gen "
    "                               + CASE WHEN $4 IS NULL THEN 0 ELSE 1 END "
    " WHERE user_id = $1 "
    "RETURNING " NGX_HTTP_SOCIAL_USER_ROW ", "
    "          current_setting('social.revocation', true)";

/*
 * and the posts the user liked: their like_count changes; the number of
 * the revocation record, once the delete has written it; and the members
 * of the user's group (as the statement began): their cached group
 * answers showed the user
 */
static const char  ngx_http_social_sql_user_delete[] =
    "WITH d AS MATERIALIZED ("
    "  SELECT social_user_delete($1, $2::int) AS gone, "
    "         (SELECT array_agg(post_id) FROM likes "
    "           WHERE user_id = $1)::text AS liked, "
    "         (SELECT array_agg(m.user_id) FROM users u "
    "            JOIN users m ON m.group_id = u.group_id "
    "           WHERE u.user_id = $1)::text AS members) "
    "SELECT gone, liked, current_setting('social.revocation', true), "
    "       members FROM d";

static const char  ngx_http_social_sql_user_role[] =
    "UPDATE users u SET token_gen = token_gen "
    "                               + CASE WHEN role = $2 THEN 0 ELSE 1 END, "
    "                   role = $2 "
    " WHERE user_id = $1 "
    "RETURNING " NGX_HTTP_SOCIAL_USER_ROW ", "
    "          current_setting('social.revocation', true)";


ngx_int_t
ngx_http_social_user(ngx_http_social_ctx_t *ctx)
{
    switch (ctx->request->method) {

    case NGX_HTTP_PUT:
        return ngx_http_social_user_update(ctx);

    case NGX_HTTP_DELETE:
        return ngx_http_social_user_delete(ctx);

    default:
        return ngx_http_social_user_read(ctx);
    }
}


static ngx_http_social_user_t *
ngx_http_social_user_state(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u;

    u = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_user_t));
    if (u == NULL) {
        return NULL;
    }

    ctx->data = u;

    if (ngx_http_social_path_id(ctx, &u->id) != NGX_OK) {
        u->id = 0;
        return u;
    }

    u->self = (u->id == ctx->user_id);
    u->values[NGX_HTTP_SOCIAL_USER_ID] = ngx_http_social_int64(ctx, u->id);

    return u->values[NGX_HTTP_SOCIAL_USER_ID] ? u : NULL;
}


/* GET /user/{id} */

static ngx_int_t
ngx_http_social_user_read(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u;

    u = ngx_http_social_user_state(ctx);
    if (u == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (u->id == 0) {
        return ngx_http_social_not_found(ctx);
    }

    u->values[1] = ngx_http_social_int64(ctx, ctx->user_id);

    return ngx_http_social_reads_add(ctx, &ngx_http_social_user_reads,
                                     u->values, ngx_http_social_user_show);
}


static void
ngx_http_social_user_show(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    ngx_http_social_done(ctx, ngx_http_social_user_reply(ctx, res));
}


/*
 * the user object: "email" for the user and an admin only, a fresh
 * "token" when the password changed
 */

static ngx_int_t
ngx_http_social_user_reply(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    yajl_gen                 g;
    ngx_http_social_user_t  *u = ctx->data;

    if (PQntuples(res) == 0) {
        return ngx_http_social_not_found(ctx);
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "user_id");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_ID,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "username");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_USERNAME,
                            NGX_HTTP_SOCIAL_JSON_STRING);

    if (u->self || ctx->admin) {
        ngx_http_social_json_str(g, "email");
        ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_EMAIL,
                                NGX_HTTP_SOCIAL_JSON_STRING);
    }

    ngx_http_social_json_str(g, "attributes");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_ATTRIBUTES,
                            NGX_HTTP_SOCIAL_JSON_ARRAY);
    ngx_http_social_json_str(g, "group_id");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_GROUP,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "role");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_ROLE,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "created_at");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_CREATED_AT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "followers");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_FOLLOWERS,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "following");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_FOLLOWING,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "posts");
    ngx_http_social_json_pg(g, res, 0, NGX_HTTP_SOCIAL_USER_COL_POSTS,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);

    if (u->token.len) {
        ngx_http_social_token_json(g, &u->token, ctx->smcf->token_lifetime);
    }

    yajl_gen_map_close(g);

    return ngx_http_social_send(ctx, NGX_HTTP_OK, g);
}


/*
 * PUT /user/{id}: 422 for the body, 403 unless the user or an admin,
 * current_password checked unless an admin, 404, then one transaction:
 * the regrouping first (it takes the grouping lock before the row, as
 * signup and delete do), then the other fields
 */

static ngx_int_t
ngx_http_social_user_update(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                rc;
    ngx_str_t                attrs, name, email;
    ngx_array_t             *list;
    ngx_http_social_json_t  *v;
    ngx_http_social_user_t  *u;

    u = ngx_http_social_user_state(ctx);
    if (u == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    v = ngx_http_social_json_get(ctx->body, "attributes");

    if (v && v->type != NGX_HTTP_SOCIAL_JSON_NULL) {
        if (ngx_http_social_attributes(ctx, v, &attrs, &list) != NGX_OK) {
            return ngx_http_social_unprocessable(ctx);
        }

        u->attrs = 1;
        u->values[NGX_HTTP_SOCIAL_USER_ATTRIBUTES] = (char *) attrs.data;
    }

    rc = ngx_http_social_json_string(ctx, ctx->body, "username", 3, 32, &name);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_http_social_check_username(ctx, &name) != NGX_OK))
    {
        return ngx_http_social_unprocessable(ctx);
    }

    u->values[NGX_HTTP_SOCIAL_USER_USERNAME] = (rc == NGX_OK)
                                               ? (char *) name.data : NULL;

    rc = ngx_http_social_json_string(ctx, ctx->body, "email", 3, 254, &email);
    if (rc == NGX_ERROR
        || (rc == NGX_OK
            && ngx_http_social_check_email(ctx, &email) != NGX_OK))
    {
        return ngx_http_social_unprocessable(ctx);
    }

    u->values[NGX_HTTP_SOCIAL_USER_EMAIL] = (rc == NGX_OK)
                                            ? (char *) email.data : NULL;

    v = ngx_http_social_json_get(ctx->body, "password");

    if (v && v->type != NGX_HTTP_SOCIAL_JSON_NULL) {
        if (v->type != NGX_HTTP_SOCIAL_JSON_STRING
            || !ngx_http_social_password_valid(&v->str))
        {
            ngx_http_social_note_invalid(ctx, "password",
                                         "must be 8 to 128 bytes long");
            return ngx_http_social_unprocessable(ctx);
        }

        u->password = v->str;

        if (!ctx->admin) {
            v = ngx_http_social_json_get(ctx->body, "current_password");

            if (v == NULL || v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
                ngx_http_social_note_invalid(ctx, "current_password",
                               "is required to change the password");
                return ngx_http_social_unprocessable(ctx);
            }

            u->current = v->str;
        }
    }

    if (u->id == 0) {
        return ngx_http_social_not_found(ctx);
    }

    if (!u->self && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    u->values[NGX_HTTP_SOCIAL_USER_THRESHOLD] =
                                   (char *) ctx->smcf->group_threshold.data;
    u->values[NGX_HTTP_SOCIAL_USER_MAX_SIZE] =
                   ngx_http_social_int64(ctx, ctx->smcf->group_max_size);

    /* a hash will be needed: a place at the gate, before the lookup */

    if (u->password.data) {
        rc = ngx_http_social_gate_admit(ctx);

        if (rc == NGX_BUSY) {
            return ngx_http_social_gate_refuse(ctx);
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_user_hash, 1,
                                     u->values, ngx_http_social_user_found);
}


static void
ngx_http_social_user_found(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t                rc;
    ngx_str_t                stored, ok;
    ngx_http_social_user_t  *u = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    if (u->current.data == NULL) {
        ngx_str_set(&ok, "ok");
        ngx_http_social_user_checked(ctx, &ok);
        return;
    }

    stored.len = PQgetlength(res, 0, 0);
    stored.data = ngx_pnalloc(ctx->request->pool, stored.len);
    if (stored.data == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(stored.data, PQgetvalue(res, 0, 0), stored.len);

    rc = ngx_http_social_password_verify(ctx, &u->current, &stored,
                                         ngx_http_social_user_checked);

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_BUSY) {
        ngx_http_social_done(ctx, ngx_http_social_gate_refuse(ctx));
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_social_done(ctx,
                       ngx_http_social_unavailable(ctx, "Password hashing"));
        return;
    }

    ngx_str_set(&ok, "ok");
    ngx_http_social_user_checked(ctx, rc == NGX_OK ? &ok : NULL);
}


static void
ngx_http_social_user_checked(ngx_http_social_ctx_t *ctx, ngx_str_t *hash)
{
    ngx_int_t                rc;
    ngx_http_social_user_t  *u = ctx->data;

    if (hash == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_error(ctx,
                                 NGX_HTTP_FORBIDDEN, "forbidden",
                                 "current_password does not match.",
                                 "current_password"));
        return;
    }

    if (u->password.data) {
        rc = ngx_http_social_password_hash(ctx, &u->password,
                                           ngx_http_social_user_hashed);

        if (rc == NGX_BUSY) {
            ngx_http_social_done(ctx, ngx_http_social_gate_refuse(ctx));

        } else if (rc != NGX_OK) {
            ngx_http_social_done(ctx,
                       ngx_http_social_unavailable(ctx, "Password hashing"));
        }

        return;
    }

    rc = ngx_http_social_user_begin(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


static void
ngx_http_social_user_hashed(ngx_http_social_ctx_t *ctx, ngx_str_t *hash)
{
    u_char                  *p;
    ngx_int_t                rc;
    ngx_http_social_user_t  *u = ctx->data;

    p = hash ? ngx_pnalloc(ctx->request->pool, hash->len + 1) : NULL;
    if (p == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *ngx_cpymem(p, hash->data, hash->len) = '\0';
    u->values[NGX_HTTP_SOCIAL_USER_HASH] = (char *) p;

    rc = ngx_http_social_user_begin(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


static ngx_int_t
ngx_http_social_user_begin(ngx_http_social_ctx_t *ctx)
{
    if (ngx_http_social_pg_begin(ctx, ngx_http_social_user_begun) != NGX_OK) {
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    return NGX_DONE;
}


static void
ngx_http_social_user_begun(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_COMMAND_OK)) {
        return;
    }

    if (!u->attrs) {
        ngx_http_social_user_regrouped(ctx, NULL);
        return;
    }

    u->regroup[NGX_HTTP_SOCIAL_REGROUP_ID] =
                                          u->values[NGX_HTTP_SOCIAL_USER_ID];
    u->regroup[NGX_HTTP_SOCIAL_REGROUP_ATTRIBUTES] =
                                  u->values[NGX_HTTP_SOCIAL_USER_ATTRIBUTES];
    u->regroup[NGX_HTTP_SOCIAL_REGROUP_THRESHOLD] =
                                   u->values[NGX_HTTP_SOCIAL_USER_THRESHOLD];
    u->regroup[NGX_HTTP_SOCIAL_REGROUP_MAX_SIZE] =
                                    u->values[NGX_HTTP_SOCIAL_USER_MAX_SIZE];

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_user_regroup,
                               NGX_HTTP_SOCIAL_REGROUP_PARAMS, u->regroup,
                               ngx_http_social_user_regrouped);
}


static void
ngx_http_social_user_regrouped(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (u->attrs
        && (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK))
    {
        ngx_http_social_done(ctx, ngx_http_social_pg_failed(ctx, res));
        return;
    }

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_user_update,
                               NGX_HTTP_SOCIAL_USER_UPDATE_PARAMS, u->values,
                               ngx_http_social_user_updated);
}


static void
ngx_http_social_user_updated(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* the request's end rolls the transaction back */
        ngx_http_social_done(ctx, ngx_http_social_conflict(ctx, res));
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    u->gen = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                         NGX_HTTP_SOCIAL_USER_COL_TOKEN_GEN),
                       PQgetlength(res, 0, NGX_HTTP_SOCIAL_USER_COL_TOKEN_GEN));
    u->rev = ngx_http_social_revoke_number(res,
                                           NGX_HTTP_SOCIAL_USER_COL_REVOCATION);
    u->role_admin = (ngx_strcmp(PQgetvalue(res, 0,
                                           NGX_HTTP_SOCIAL_USER_COL_ROLE),
                                "admin")
                     == 0);

    if (ngx_http_social_pg_end(ctx, 1, ngx_http_social_user_committed)
        != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


static void
ngx_http_social_user_committed(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_COMMAND_OK)) {
        return;
    }

    if (u->values[NGX_HTTP_SOCIAL_USER_HASH]) {
        /* a new password: older tokens stop working, a new one is given */

        if (ngx_http_social_token(ctx, u->id, u->role_admin, u->gen,
                                  &u->token)
            != NGX_OK)
        {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_social_revoke_publish(ctx, u->id, u->gen, u->rev,
                                       ngx_http_social_user_reread);
        return;
    }

    ngx_http_social_user_reread(ctx);
}


/* the committed row, read again for the answer */

static void
ngx_http_social_user_reread(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u = ctx->data;

    ngx_http_social_forget_t  f;

    /* the cached {user_id, username} of the feed goes first */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.user_object = u->values[NGX_HTTP_SOCIAL_USER_ID];

    ngx_http_social_feed_forget(ctx, &f, ngx_http_social_user_show_row);
}


static void
ngx_http_social_user_show_row(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u = ctx->data;

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_user, 1, u->values,
                               ngx_http_social_user_show);
}


/* DELETE /user/{id}: the user or an admin */

static ngx_int_t
ngx_http_social_user_delete(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u;

    u = ngx_http_social_user_state(ctx);
    if (u == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (u->id == 0) {
        return ngx_http_social_not_found(ctx);
    }

    if (!u->self && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    u->values[1] = ngx_http_social_int64(ctx, ctx->smcf->group_max_size);

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_user_delete, 2,
                                     u->values, ngx_http_social_user_deleted);
}


static void
ngx_http_social_user_deleted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQgetvalue(res, 0, NGX_HTTP_SOCIAL_USER_DELETE_GONE)[0] != 't') {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    u->rev = ngx_http_social_revoke_number(res,
                                       NGX_HTTP_SOCIAL_USER_DELETE_REVOCATION);

    if (!PQgetisnull(res, 0, NGX_HTTP_SOCIAL_USER_DELETE_LIKED)) {
        u->liked.len = PQgetlength(res, 0, NGX_HTTP_SOCIAL_USER_DELETE_LIKED);
        u->liked.data = ngx_pnalloc(ctx->pool, u->liked.len + 1);
        if (u->liked.data == NULL) {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_memcpy(u->liked.data,
                   PQgetvalue(res, 0, NGX_HTTP_SOCIAL_USER_DELETE_LIKED),
                   u->liked.len + 1);
    }

    /* the group's cached answers that showed the user go */

    ngx_http_social_cache_members(PQgetvalue(res, 0,
                                         NGX_HTTP_SOCIAL_USER_DELETE_MEMBERS));

    /* what still waits in Redis for the user goes too (best effort) */

    ngx_http_social_point_forget(ctx, u->id);

    /* no generation is that high: every token of the user stops working */

    ngx_http_social_revoke_publish(ctx, u->id, NGX_HTTP_SOCIAL_GEN_GONE,
                                   u->rev, ngx_http_social_user_gone);
}


/* PUT /user/{id}/role {"role": "admin" | "user"}: an admin only */

ngx_int_t
ngx_http_social_user_role(ngx_http_social_ctx_t *ctx)
{
    ngx_str_t                role;
    ngx_http_social_user_t  *u;

    u = ngx_http_social_user_state(ctx);
    if (u == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_social_json_string(ctx, ctx->body, "role", 4, 5, &role)
        != NGX_OK
        || !((role.len == 5 && ngx_strncmp(role.data, "admin", 5) == 0)
             || (role.len == 4 && ngx_strncmp(role.data, "user", 4) == 0)))
    {
        ngx_http_social_note_invalid(ctx, "role",
                                     "must be \"admin\" or \"user\"");
        return ngx_http_social_unprocessable(ctx);
    }

    if (!ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    if (u->id == 0) {
        return ngx_http_social_not_found(ctx);
    }

    u->values[1] = (char *) role.data;

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_user_role, 2,
                                     u->values, ngx_http_social_user_role_set);
}


static void
ngx_http_social_user_role_set(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_user_t  *u = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    u->gen = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                         NGX_HTTP_SOCIAL_USER_COL_TOKEN_GEN),
                       PQgetlength(res, 0, NGX_HTTP_SOCIAL_USER_COL_TOKEN_GEN));
    u->rev = ngx_http_social_revoke_number(res,
                                           NGX_HTTP_SOCIAL_USER_COL_REVOCATION);

    /*
     * committed: 200 once Redis has answered or failed; every node refuses
     * the older tokens within a second either way
     */

    ngx_http_social_revoke_publish(ctx, u->id, u->gen, u->rev,
                                   ngx_http_social_user_reread);
}


static void
ngx_http_social_user_gone(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_user_t  *u = ctx->data;

    ngx_http_social_forget_t  f;

    /* every event of or about the user out of the feed, and its objects */

    ngx_memzero(&f, sizeof(ngx_http_social_forget_t));
    f.user = u->values[NGX_HTTP_SOCIAL_USER_ID];
    f.user_object = u->values[NGX_HTTP_SOCIAL_USER_ID];
    f.posts = (char *) u->liked.data;

    ngx_http_social_feed_forget(ctx, &f, NULL);
}
