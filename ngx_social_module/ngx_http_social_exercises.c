
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET /exercises?limit=&user_id=: exercises aimed at the user's most
 * frequent error subcategories.  The frequencies are PostgreSQL's totals
 * plus what still waits in Redis (read first, in one script), so a
 * recorded error counts at once and none counts twice: the pending counts
 * are left out when a batch cut after that read is already applied, and
 * the open batch's when it is applied.  The slots go to the subcategories
 * in proportion to their frequencies (Sainte-Lague: the next slot to the
 * highest frequency / (2 * slots + 1)); the exercises come from the bank
 * and from the user's own utterances that had the error, none twice.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_points.h"


#define NGX_HTTP_SOCIAL_EXERCISES_MAX  20


/* the columns of the exercises query */

enum {
    NGX_HTTP_SOCIAL_EXERCISES_COL_RANK = 0,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_EXERCISE,     /* NULL: none, or own */
    NGX_HTTP_SOCIAL_EXERCISES_COL_TYPE,         /* NULL: none */
    NGX_HTTP_SOCIAL_EXERCISES_COL_PROMPT,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CHOICES,
    NGX_HTTP_SOCIAL_EXERCISES_COL_ANSWER,
    NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE
};


typedef struct {
    int                             first;      /* its first row */
    int                             ncands;     /* rows with an exercise */
    ngx_uint_t                      slots;
    double                          frequency;
} ngx_http_social_focus_t;


typedef struct {
    int64_t                         user_id;
    ngx_uint_t                      limit;
    const char                     *values[7];
} ngx_http_social_exercises_t;


static ngx_int_t ngx_http_social_exercises_user(ngx_http_social_ctx_t *ctx,
    int64_t *id);
static ngx_int_t ngx_http_social_exercises_pending(
    ngx_http_social_ctx_t *ctx);
static void ngx_http_social_exercises_exists(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_exercises_waiting(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_exercises_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_uint_t ngx_http_social_exercises_share(
    ngx_http_social_focus_t *focus, ngx_uint_t n, ngx_uint_t limit);
static void ngx_http_social_exercise_json(yajl_gen g, PGresult *res,
    int row);


static const char  ngx_http_social_sql_exercises_user[] =
    "SELECT 1 FROM users WHERE user_id = $1";

/*
 * $1 the user, $2 what waits in Redis ([{"s": ["Cat", "Sub"], "n": count,
 * "u": "latest utterances,...", "b": 1 for the open batch}]), $3 and $4
 * the epoch and the last batch seq when it was read, $5 and $6 the open
 * batch, $7 the limit.  What waits in Redis counts until the flush's last
 * transaction marks its batch applied, less what of that batch the
 * chunks committed before hold already (their counts are in
 * error_frequencies).  One row per slot candidate, by focus rank
 * (frequency down) and by preference within it (the user's own utterances
 * newest first, then the bank in random order, alternately); a
 * subcategory without any: one row with NULLs from column 4.
 */

static const char  ngx_http_social_sql_exercises[] =
    "WITH p AS (SELECT e->'s'->>0 AS cat, e->'s'->>1 AS sub, "
    "                  (e->>'n')::bigint AS n, "
    "                  string_to_array(e->>'u', ',')::bigint[] AS us, "
    "                  2 - (e->>'b')::int AS src "
    "             FROM json_array_elements($2::json) e), "
    "     live AS (SELECT social_key(cat) AS ck, social_key(sub) AS sk, "
    "                     p.* FROM p "
    "               WHERE CASE WHEN src = 1 "
    "                     THEN NOT EXISTS (SELECT 1 FROM error_batches "
    "                                       WHERE epoch = $5 "
    "                                         AND seq = $6::bigint "
    "                                         AND applied) "
    "                     ELSE NOT EXISTS (SELECT 1 FROM error_batches "
    "                                       WHERE epoch = $3 "
    "                                         AND seq > $4::bigint "
    "                                         AND applied) END), "
    "     every AS (SELECT category_key AS ck, subcategory_key AS sk, "
    "                      category AS cat, subcategory AS sub, "
    "                      frequency AS n, -1 AS src "
    "                 FROM error_frequencies WHERE user_id = $1 "
    "               UNION ALL "
    "               SELECT ck, sk, cat, sub, n, src FROM live "
    "               UNION ALL "
    "               SELECT u.category_key, u.subcategory_key, "
    "                      min(u.category), min(u.subcategory), "
    "                      -count(*), 1 "
    "                 FROM error_batches b JOIN utterance_errors u "
    "                   ON u.batch_epoch = b.epoch AND u.batch_seq = b.seq "
    "                  AND u.user_id = $1 "
    "                WHERE NOT b.applied "
    "                  AND ((b.epoch = $5 AND b.seq = $6::bigint "
    "                        AND EXISTS (SELECT 1 FROM live WHERE src = 1)) "
    "                       OR (b.epoch = $3 AND b.seq > $4::bigint "
    "                           AND EXISTS (SELECT 1 FROM live "
    "                                        WHERE src = 2))) "
    "                GROUP BY u.category_key, u.subcategory_key), "
    "     focus AS (SELECT ck, sk, sum(n)::bigint AS freq, "
    "                      (array_agg(cat ORDER BY src))[1] AS cat, "
    "                      (array_agg(sub ORDER BY src))[1] AS sub "
    "                 FROM every GROUP BY ck, sk "
    "                ORDER BY freq DESC, ck, sk LIMIT $7::int), "
    "     named AS (SELECT row_number() OVER (ORDER BY f.freq DESC, f.ck, "
    "                                         f.sk) AS rank, "
    "                      f.ck, f.sk, f.freq, "
    "                      coalesce((SELECT x.category FROM exercises x "
    "                                 WHERE x.category_key = f.ck "
    "                                 ORDER BY x.exercise_id LIMIT 1), "
    "                               f.cat) AS cat, "
    "                      coalesce((SELECT x.subcategory FROM exercises x "
    "                                 WHERE x.category_key = f.ck "
    "                                   AND x.subcategory_key = f.sk "
    "                                 ORDER BY x.exercise_id LIMIT 1), "
    "                               f.sub) AS sub "
    "                 FROM focus f), "
    "     own AS (SELECT n.rank, o.utterance_id, o.content, "
    "                    row_number() OVER (PARTITION BY n.rank "
    "                                       ORDER BY o.utterance_id DESC) "
    "                    AS i "
    "               FROM named n, LATERAL ("
    /* the newest utterances with the error, each once and newest first */
    "   SELECT d.utterance_id, d.content "
    "     FROM (SELECT y.utterance_id, "
    "                  (SELECT t.content FROM utterances t "
    "                    WHERE t.utterance_id = y.utterance_id "
    "                      AND t.user_id = $1) AS content "
    "             FROM (SELECT DISTINCT y.utterance_id "
    "                     FROM (SELECT unnest(l.us) AS utterance_id "
    "                             FROM live l "
    "                            WHERE l.ck = n.ck AND l.sk = n.sk "
    "                           UNION ALL "
    /*
     * PostgreSQL's, one index probe each: the next utterance below the
     * last (a user's points on one utterance are many rows)
     */
    "                           (WITH RECURSIVE r (u, k) AS ( "
    "                              (SELECT e.utterance_id, 1 "
    "                                 FROM utterance_errors e "
    "                                WHERE e.user_id = $1 "
    "                                  AND e.category_key = n.ck "
    "                                  AND e.subcategory_key = n.sk "
    "                                ORDER BY e.utterance_id DESC LIMIT 1) "
    "                              UNION ALL "
    "                              SELECT (SELECT e.utterance_id "
    "                                        FROM utterance_errors e "
    "                                       WHERE e.user_id = $1 "
    "                                         AND e.category_key = n.ck "
    "                                         AND e.subcategory_key = n.sk "
    "                                         AND e.utterance_id < r.u "
    "                                       ORDER BY e.utterance_id DESC "
    "                                       LIMIT 1), r.k + 1 "
    "                                FROM r "
    "                               WHERE r.k < $7::int "
    "                                 AND r.u IS NOT NULL) "
    "                            SELECT u FROM r WHERE u IS NOT NULL)) y) y "
    "          ) d "
    "    WHERE d.content IS NOT NULL "
    "    ORDER BY d.utterance_id DESC LIMIT $7::int) o), "
    /* the bank's of the subcategory, at most the limit, in random order */
    "     bank AS (SELECT n.rank, b.* "
    "                FROM named n, LATERAL ("
    "   SELECT x.exercise_id, x.type, x.prompt, x.choices, x.answer, "
    "          row_number() OVER (ORDER BY random()) AS i "
    "     FROM exercises x "
    "    WHERE x.category_key = n.ck AND x.subcategory_key = n.sk "
    "    ORDER BY i LIMIT $7::int) b) "
    "SELECT n.rank, n.cat, n.sub, n.freq, c.exercise_id, c.type, c.prompt, "
    "       c.choices, c.answer, c.utterance_id "
    "  FROM named n "
    "  LEFT JOIN (SELECT o.rank, 2 * o.i AS i, NULL::bigint AS exercise_id, "
    "                    'correction' AS type, "
    "                    'Correct the ' || social_key(n2.sub) || ' in: \"' "
    "                    || o.content || '\"' AS prompt, "
    "                    NULL::text AS choices, NULL::text AS answer, "
    "                    o.utterance_id "
    "               FROM own o JOIN named n2 ON n2.rank = o.rank "
    "             UNION ALL "
    "             SELECT b.rank, 2 * b.i + 1, b.exercise_id, b.type, "
    "                    b.prompt, to_json(b.choices)::text, b.answer, NULL "
    "               FROM bank b) c ON c.rank = n.rank "
    " ORDER BY n.rank, c.i";


ngx_int_t
ngx_http_social_exercises(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_social_exercises_t  *x;

    x = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_exercises_t));
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = x;

    if (ngx_http_social_arg_limit(ctx, 1, NGX_HTTP_SOCIAL_EXERCISES_MAX, 5,
                                  &x->limit)
        != NGX_OK)
    {
        ctx->message = "limit must be an integer from 1 to 20.";
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_exercises_user(ctx, &x->user_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_DECLINED) {
        x->user_id = ctx->user_id;
    }

    x->values[0] = ngx_http_social_int64(ctx, x->user_id);
    x->values[6] = ngx_http_social_int64(ctx, x->limit);

    if (x->user_id == ctx->user_id) {
        return ngx_http_social_exercises_pending(ctx);
    }

    if (!ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_exercises_user,
                                     1, x->values,
                                     ngx_http_social_exercises_exists);
}


/* ?user_id=: an id, as a query parameter; NGX_DECLINED when absent */

static ngx_int_t
ngx_http_social_exercises_user(ngx_http_social_ctx_t *ctx, int64_t *id)
{
    ngx_str_t  arg;

    if (ngx_http_arg(ctx->request, (u_char *) "user_id", 7, &arg) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_social_parse_id(arg.data, arg.len, id) == NGX_OK) {
        return NGX_OK;
    }

    return ngx_http_social_note_invalid(ctx, "user_id",
                              "must be an integer id from 1 to 2^63-1");
}


static void
ngx_http_social_exercises_exists(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t  rc;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_no_such(ctx, "user_id"));
        return;
    }

    rc = ngx_http_social_exercises_pending(ctx);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


/* Redis first, then PostgreSQL: the order the flush writes in */

static ngx_int_t
ngx_http_social_exercises_pending(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_exercises_t  *x = ctx->data;

    if (ngx_http_social_point_view(ctx, x->user_id,
                                   ngx_http_social_exercises_waiting)
        != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    return NGX_DONE;
}


static void
ngx_http_social_exercises_waiting(ngx_http_social_ctx_t *ctx,
    redisReply *reply)
{
    ngx_int_t                      rc;
    ngx_http_social_exercises_t   *x = ctx->data;
    ngx_http_social_point_view_t   view;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    rc = ngx_http_social_point_view_read(ctx->request->pool, reply, &view);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: reading pending errors failed: %*s",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (view.skipped) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "social: %ui pending error counts of user %L are not "
                      "as written, skipped (the first: \"%*s\")",
                      view.skipped, x->user_id,
                      view.bad ? ngx_min(view.bad->len, 200) : 0,
                      view.bad ? view.bad->str : "");
    }

    x->values[1] = view.counts;
    x->values[2] = view.epoch;
    x->values[3] = view.seq;
    x->values[4] = view.open_epoch;
    x->values[5] = view.open_seq;

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_exercises, 7, x->values,
                               ngx_http_social_exercises_read);
}


static void
ngx_http_social_exercises_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                           i, n, row;
    yajl_gen                      g;
    ngx_uint_t                    nfocus, f, s;
    ngx_http_social_focus_t       focus[NGX_HTTP_SOCIAL_EXERCISES_MAX];
    ngx_http_social_exercises_t  *x = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    /* the rows by focus rank: where each subcategory starts, its count */

    n = PQntuples(res);
    nfocus = 0;

    for (row = 0; row < n; row++) {
        if (row == 0
            || ngx_strcmp(PQgetvalue(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_RANK),
                          PQgetvalue(res, row - 1,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_RANK))
               != 0)
        {
            if (nfocus == NGX_HTTP_SOCIAL_EXERCISES_MAX) {
                break;
            }

            focus[nfocus].first = row;
            focus[nfocus].ncands = 0;
            focus[nfocus].slots = 0;
            focus[nfocus].frequency = ngx_atoof((u_char *)
                               PQgetvalue(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY),
                               PQgetlength(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY));
            nfocus++;
        }

        if (!PQgetisnull(res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_TYPE)) {
            focus[nfocus - 1].ncands++;
        }
    }

    (void) ngx_http_social_exercises_share(focus, nfocus, x->limit);

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "user_id");
    yajl_gen_integer(g, x->user_id);

    /* the subcategories the exercises target, the most frequent first */

    ngx_http_social_json_str(g, "focus");
    yajl_gen_array_open(g);

    for (f = 0; f < nfocus; f++) {
        if (focus[f].slots == 0) {
            continue;
        }

        row = focus[f].first;

        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "category");
        ngx_http_social_json_pg(g, res, row,
                                NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "subcategory");
        ngx_http_social_json_pg(g, res, row,
                                NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "frequency");
        ngx_http_social_json_pg(g, res, row,
                                NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY,
                                NGX_HTTP_SOCIAL_JSON_INTEGER);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_social_json_str(g, "exercises");
    yajl_gen_array_open(g);

    for (f = 0; f < nfocus; f++) {
        for (s = 0, i = focus[f].first; s < focus[f].slots; s++, i++) {
            ngx_http_social_exercise_json(g, res, i);
        }
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


/*
 * the slots, one at a time, to the subcategory with the highest
 * frequency / (2 * its slots + 1) that has an exercise left (ties to the
 * more frequent): proportional, and none twice
 */

static ngx_uint_t
ngx_http_social_exercises_share(ngx_http_social_focus_t *focus, ngx_uint_t n,
    ngx_uint_t limit)
{
    double      q, best;
    ngx_uint_t  i, k, given;

    for (given = 0; given < limit; given++) {
        k = n;
        best = 0;

        for (i = 0; i < n; i++) {
            if (focus[i].slots >= (ngx_uint_t) focus[i].ncands) {
                continue;
            }

            q = focus[i].frequency / (2 * focus[i].slots + 1);

            if (k == n || q > best) {
                k = i;
                best = q;
            }
        }

        if (k == n) {
            break;
        }

        focus[k].slots++;
    }

    return given;
}


/*
 * {"exercise_id", "type", "category", "subcategory", "prompt", "choices",
 * "answer", "utterance_id"}: from the bank (exercise_id), or from one of
 * the user's own utterances (utterance_id, no answer)
 */

static void
ngx_http_social_exercise_json(yajl_gen g, PGresult *res, int row)
{
    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "exercise_id");
    ngx_http_social_json_pg(g, res, row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_EXERCISE,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "type");
    ngx_http_social_json_pg(g, res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_TYPE,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "category");
    ngx_http_social_json_pg(g, res, row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "subcategory");
    ngx_http_social_json_pg(g, res, row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "prompt");
    ngx_http_social_json_pg(g, res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_PROMPT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "choices");
    ngx_http_social_json_pg(g, res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_CHOICES,
                            NGX_HTTP_SOCIAL_JSON_ARRAY);
    ngx_http_social_json_str(g, "answer");
    ngx_http_social_json_pg(g, res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_ANSWER,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "utterance_id");
    ngx_http_social_json_pg(g, res, row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    yajl_gen_map_close(g);
}
