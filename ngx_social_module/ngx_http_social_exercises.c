
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
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"


#define NGX_HTTP_SOCIAL_EXERCISES_MAX  20


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
static ngx_uint_t ngx_http_social_exercises_counts(yajl_gen g,
    redisReply *list, ngx_uint_t batch, redisReply **bad);
static const char *ngx_http_social_exercises_batch(ngx_http_social_ctx_t *ctx,
    redisReply *r, ngx_uint_t kind);
static void ngx_http_social_exercises_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_uint_t ngx_http_social_exercises_share(
    ngx_http_social_focus_t *focus, ngx_uint_t n, ngx_uint_t limit);
static void ngx_http_social_exercise_json(yajl_gen g, PGresult *res,
    int row);
static ngx_uint_t ngx_http_social_exercises_run(u_char *p, u_char *last,
    ngx_uint_t hex, size_t max);
static ngx_uint_t ngx_http_social_exercises_digits(redisReply *r,
    size_t max);
static ngx_uint_t ngx_http_social_exercises_ids(redisReply *r);


static const char  ngx_http_social_sql_exercises_user[] =
    "SELECT 1 FROM users WHERE user_id = $1";

/*
 * $1 the user, $2 what waits in Redis ([{"s": ["Cat", "Sub"], "n": count,
 * "u": "latest utterances,...", "b": 1 for the open batch}]), $3 and $4
 * the epoch and the last batch seq when it was read, $5 and $6 the open
 * batch, $7 the limit.  One row per slot candidate, by focus rank
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
    "                                         AND seq = $6::bigint) "
    "                     ELSE NOT EXISTS (SELECT 1 FROM error_batches "
    "                                       WHERE epoch = $3 "
    "                                         AND seq > $4::bigint) END), "
    "     every AS (SELECT category_key AS ck, subcategory_key AS sk, "
    "                      category AS cat, subcategory AS sub, "
    "                      frequency AS n, -1 AS src "
    "                 FROM error_frequencies WHERE user_id = $1 "
    "               UNION ALL "
    "               SELECT ck, sk, cat, sub, n, src FROM live), "
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
    "     own AS (SELECT n.rank, o.utterance_id, "
    "                    row_number() OVER (PARTITION BY n.rank "
    "                                       ORDER BY o.utterance_id DESC) "
    "                    AS i "
    "               FROM named n, "
    "                    LATERAL (SELECT DISTINCT y.utterance_id "
    "                               FROM (SELECT unnest(l.us) "
    "                                              AS utterance_id "
    "                                       FROM live l "
    "                                      WHERE l.ck = n.ck "
    "                                        AND l.sk = n.sk "
    "                                     UNION ALL "
    "                                     (SELECT e.utterance_id "
    "                                        FROM utterance_errors e "
    "                                       WHERE e.user_id = $1 "
    "                                         AND e.category_key = n.ck "
    "                                         AND e.subcategory_key = n.sk "
    "                                       GROUP BY e.utterance_id "
    "                                       ORDER BY e.utterance_id DESC "
    "                                       LIMIT $7::int)) y) o), "
    "     bank AS (SELECT n.rank, x.exercise_id, "
    "                     row_number() OVER (PARTITION BY n.rank "
    "                                        ORDER BY random()) AS i "
    "                FROM named n JOIN exercises x "
    "                  ON x.category_key = n.ck "
    "                 AND x.subcategory_key = n.sk) "
    "SELECT n.rank, n.cat, n.sub, n.freq, c.exercise_id, c.type, c.prompt, "
    "       c.choices, c.answer, c.utterance_id "
    "  FROM named n "
    "  LEFT JOIN (SELECT o.rank, 2 * o.i AS i, NULL::bigint AS exercise_id, "
    "                    'correction' AS type, "
    "                    'Correct the ' || social_key(n2.sub) || ' in: \"' "
    "                    || t.content || '\"' AS prompt, "
    "                    NULL::text AS choices, NULL::text AS answer, "
    "                    o.utterance_id "
    "               FROM own o JOIN named n2 ON n2.rank = o.rank "
    "               JOIN utterances t ON t.utterance_id = o.utterance_id "
    "                                AND t.user_id = $1 "
    "              WHERE o.i <= $7::int "
    "             UNION ALL "
    "             SELECT b.rank, 2 * b.i + 1, x.exercise_id, x.type, "
    "                    x.prompt, to_json(x.choices)::text, x.answer, NULL "
    "               FROM bank b JOIN exercises x USING (exercise_id) "
    "              WHERE b.i <= $7::int) c ON c.rank = n.rank "
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
    u_char     *p, *last;
    int64_t     n;
    ngx_str_t   arg;

    if (ngx_http_arg(ctx->request, (u_char *) "user_id", 7, &arg) != NGX_OK) {
        return NGX_DECLINED;
    }

    p = arg.data;
    last = p + arg.len;

    if (p == last || last - p > 19 || *p == '0') {
        goto invalid;
    }

    for (n = 0; p < last; p++) {
        if (*p < '0' || *p > '9' || n > (INT64_MAX - (*p - '0')) / 10) {
            goto invalid;
        }

        n = n * 10 + (*p - '0');
    }

    *id = n;

    return NGX_OK;

invalid:

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

    if (ngx_http_social_errors_view(ctx, x->user_id,
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
    u_char                       *colon;
    size_t                        len;
    yajl_gen                      g;
    ngx_uint_t                    skipped;
    redisReply                  **e, *bad;
    const u_char                 *buf;
    ngx_http_social_exercises_t  *x = ctx->data;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    e = reply->element;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5
        || e[0]->type != REDIS_REPLY_STRING
        || e[1]->type != REDIS_REPLY_STRING
        || e[2]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: reading pending errors failed: %*s",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * what an older version, or a hand, left in Redis that PostgreSQL
     * could not take is skipped, never a 500: the flush sets its rows
     * aside and the hashes go with their batch
     */

    bad = NULL;

    yajl_gen_array_open(g);
    skipped = ngx_http_social_exercises_counts(g, e[3], 0, &bad)
              + ngx_http_social_exercises_counts(g, e[4], 1, &bad);
    yajl_gen_array_close(g);

    if (skipped) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "social: %ui pending error counts of user %L are not "
                      "as written, skipped (the first: \"%*s\")", skipped,
                      x->user_id, bad ? ngx_min(bad->len, 200) : 0,
                      bad ? bad->str : "");
    }

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    x->values[1] = (char *) buf;    /* NUL-terminated by yajl */

    /* the ids of batches, as written by the cut, or none */

    x->values[2] = ngx_http_social_exercises_batch(ctx, e[0], 'e');
    x->values[3] = ngx_http_social_exercises_batch(ctx, e[1], 's');
    x->values[4] = ngx_http_social_exercises_batch(ctx, e[2], 'b');
    x->values[5] = "0";

    if (x->values[2] == NULL || x->values[3] == NULL
        || x->values[4] == NULL)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the open batch "<epoch>:<seq>" as epoch and seq */

    colon = (u_char *) ngx_strchr(x->values[4], ':');

    if (colon) {
        *colon = '\0';
        x->values[5] = (char *) colon + 1;
    }

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_exercises, 7, x->values,
                               ngx_http_social_exercises_read);
}


/*
 * spelling, count, utterances triples as {"s", "n", "u", "b"} objects;
 * the number of those skipped, not as this module writes them, the first
 * one's spelling in *bad
 */

static ngx_uint_t
ngx_http_social_exercises_counts(yajl_gen g, redisReply *list,
    ngx_uint_t batch, redisReply **bad)
{
    size_t        i;
    ngx_uint_t    skipped;
    redisReply  **e;

    if (list->type != REDIS_REPLY_ARRAY || list->elements % 3) {
        return 1;
    }

    e = list->element;
    skipped = 0;

    for (i = 0; i < list->elements; i += 3) {
        if (e[i]->type != REDIS_REPLY_STRING
            || ngx_http_social_errors_spelling_check((u_char *) e[i]->str,
                                                     e[i]->len)
               != NULL
            || !ngx_http_social_exercises_digits(e[i + 1], 18)
            || !ngx_http_social_exercises_ids(e[i + 2]))
        {
            if (*bad == NULL && e[i]->type == REDIS_REPLY_STRING) {
                *bad = e[i];
            }

            skipped++;

            continue;
        }

        /* the spelling is JSON this module wrote with yajl, checked */

        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "s");
        ngx_http_social_json_raw(g, e[i]->str, e[i]->len);
        ngx_http_social_json_str(g, "n");
        ngx_http_social_json_raw(g, e[i + 1]->str, e[i + 1]->len);
        ngx_http_social_json_str(g, "u");
        yajl_gen_string(g, (u_char *) e[i + 2]->str, e[i + 2]->len);
        ngx_http_social_json_str(g, "b");
        yajl_gen_integer(g, batch);
        yajl_gen_map_close(g);
    }

    return skipped;
}


/*
 * from Redis, NUL-terminated in the pool: an epoch ('e', 1 to 32 hex
 * digits), a seq ('s', 1 to 18 digits) or a batch "<epoch>:<seq>" ('b');
 * one not as the cut writes it is none ("", or "0" for a seq), which no
 * batch of PostgreSQL has
 */

static const char *
ngx_http_social_exercises_batch(ngx_http_social_ctx_t *ctx, redisReply *r,
    ngx_uint_t kind)
{
    u_char      *p, *last, *colon;
    ngx_uint_t   ok;

    p = (u_char *) r->str;
    last = p + r->len;

    switch (kind) {

    case 'e':
        ok = ngx_http_social_exercises_run(p, last, 1, 32);
        break;

    case 's':
        ok = ngx_http_social_exercises_run(p, last, 0, 18);
        break;

    default:
        colon = ngx_strlchr(p, last, ':');
        ok = colon && ngx_http_social_exercises_run(p, colon, 1, 32)
             && ngx_http_social_exercises_run(colon + 1, last, 0, 18);
    }

    if (!ok) {
        return (kind == 's') ? "0" : "";
    }

    p = ngx_pnalloc(ctx->request->pool, r->len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, r->str, r->len) = '\0';

    return (char *) p;
}


/* 1 to max lower-case hex digits, or digits */

static ngx_uint_t
ngx_http_social_exercises_run(u_char *p, u_char *last, ngx_uint_t hex,
    size_t max)
{
    if (p == last || (size_t) (last - p) > max) {
        return 0;
    }

    for ( /* void */ ; p < last; p++) {
        if ((*p < '0' || *p > '9') && (!hex || *p < 'a' || *p > 'f')) {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_social_exercises_digits(redisReply *r, size_t max)
{
    size_t  i;

    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > max) {
        return 0;
    }

    for (i = 0; i < r->len; i++) {
        if (r->str[i] < '0' || r->str[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* "12,9,4" (or empty): ids of 1 to 18 digits */

static ngx_uint_t
ngx_http_social_exercises_ids(redisReply *r)
{
    size_t  i, n;

    if (r->type != REDIS_REPLY_STRING) {
        return 0;
    }

    n = 0;

    for (i = 0; i < r->len; i++) {
        if (r->str[i] == ',' && n > 0) {
            n = 0;
            continue;
        }

        if (r->str[i] < '0' || r->str[i] > '9' || ++n > 18) {
            return 0;
        }
    }

    return r->len == 0 || n > 0;
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
            || ngx_strcmp(PQgetvalue(res, row, 0),
                          PQgetvalue(res, row - 1, 0)) != 0)
        {
            if (nfocus == NGX_HTTP_SOCIAL_EXERCISES_MAX) {
                break;
            }

            focus[nfocus].first = row;
            focus[nfocus].ncands = 0;
            focus[nfocus].slots = 0;
            focus[nfocus].frequency = ngx_atoof((u_char *)
                                                PQgetvalue(res, row, 3),
                                                PQgetlength(res, row, 3));
            nfocus++;
        }

        if (!PQgetisnull(res, row, 5)) {
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
        ngx_http_social_json_pg(g, res, row, 1, NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "subcategory");
        ngx_http_social_json_pg(g, res, row, 2, NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "frequency");
        ngx_http_social_json_pg(g, res, row, 3, NGX_HTTP_SOCIAL_JSON_INTEGER);
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
    ngx_http_social_json_pg(g, res, row, 4, NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "type");
    ngx_http_social_json_pg(g, res, row, 5, NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "category");
    ngx_http_social_json_pg(g, res, row, 1, NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "subcategory");
    ngx_http_social_json_pg(g, res, row, 2, NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "prompt");
    ngx_http_social_json_pg(g, res, row, 6, NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "choices");
    ngx_http_social_json_pg(g, res, row, 7, NGX_HTTP_SOCIAL_JSON_ARRAY);
    ngx_http_social_json_str(g, "answer");
    ngx_http_social_json_pg(g, res, row, 8, NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "utterance_id");
    ngx_http_social_json_pg(g, res, row, 9, NGX_HTTP_SOCIAL_JSON_INTEGER);
    yajl_gen_map_close(g);
}
