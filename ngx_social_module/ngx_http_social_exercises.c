
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
 *
 * What a read costs does not grow with the user's history: the own
 * utterances are the newest of each subcategory as error_recent keeps
 * them (migration 013), and the bank is the worker's copy
 * (ngx_http_social_exercise_bank.c), drawn from here.
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
#include "ngx_http_social_exercise_bank.h"


#define NGX_HTTP_SOCIAL_EXERCISES_MAX  20


/* the columns of the exercises query */

enum {
    NGX_HTTP_SOCIAL_EXERCISES_COL_RANK = 0,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY_KEY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY_KEY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,     /* as first recorded */
    NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE,    /* NULL: none of the own */
    NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT,
    NGX_HTTP_SOCIAL_EXERCISES_COL_BANK,         /* the bank's version */
    NGX_HTTP_SOCIAL_EXERCISES_NCOLS
};


/*
 * A focus subcategory: its rows of the result (its own utterances), the
 * bank's exercises of it in the order this answer offers them, its
 * spellings, and the candidates (own and bank, alternately)
 */

typedef struct {
    int                             first;      /* its first row */
    ngx_uint_t                      nown;
    ngx_uint_t                      nbank;
    int                            *bank;       /* the bank's rows, nbank */
    ngx_str_t                       category;
    ngx_str_t                       subcategory;
    ngx_uint_t                      slots;
    double                          frequency;
} ngx_http_social_focus_t;


typedef struct {
    int64_t                         user_id;
    ngx_uint_t                      limit;
    ngx_uint_t                      reread;     /* unsigned:1 */
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
static void ngx_http_social_exercises_bank(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_exercises_focus(ngx_http_social_ctx_t *ctx,
    PGresult *res, ngx_http_social_focus_t *focus, ngx_uint_t *nfocus);
static void ngx_http_social_exercises_str(PGresult *res, int row, int col,
    ngx_str_t *s);
static ngx_uint_t ngx_http_social_exercises_share(
    ngx_http_social_focus_t *focus, ngx_uint_t n, ngx_uint_t limit);
static void ngx_http_social_exercise_json(yajl_gen g, PGresult *res,
    PGresult *bank, ngx_http_social_focus_t *f, ngx_uint_t k,
    ngx_pool_t *pool);


static const char  ngx_http_social_sql_exercises_user[] =
    "SELECT 1 FROM users WHERE user_id = $1";

/*
 * $1 the user, $2 what waits in Redis ([{"s": ["Cat", "Sub"], "n": count,
 * "u": "latest utterances,...", "b": 1 for the open batch}]), $3 and $4
 * the epoch and the last batch seq when it was read, $5 and $6 the open
 * batch, $7 the limit.  What waits in Redis counts until the flush's last
 * transaction marks its batch applied, less what of that batch the
 * chunks committed before hold already (their counts are in
 * error_frequencies).  One row per own utterance of a focus subcategory,
 * by focus rank (frequency down), newest first; a subcategory without any:
 * one row with NULLs from column 6.  The bank's version in every row.
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
    "     focus AS (SELECT row_number() OVER (ORDER BY sum(n) DESC, ck, "
    "                                         sk) AS rank, "
    "                      ck, sk, sum(n)::bigint AS freq, "
    "                      (array_agg(cat ORDER BY src))[1] AS cat, "
    "                      (array_agg(sub ORDER BY src))[1] AS sub "
    "                 FROM every GROUP BY ck, sk "
    "                ORDER BY sum(n) DESC, ck, sk LIMIT $7::int) "
    "SELECT f.rank, f.ck, f.sk, f.cat, f.sub, f.freq, o.utterance_id, "
    "       o.content, (SELECT version FROM exercise_bank) "
    "  FROM focus f LEFT JOIN LATERAL ("
    /*
     * the newest utterances with the error, each once and newest first:
     * those waiting in Redis and PostgreSQL's newest (error_recent); each
     * text one probe of the primary key, a subquery so that no plan reads
     * the user's every utterance instead (OFFSET 0: once, not again for
     * the filter)
     */
    "   SELECT d.u AS utterance_id, d.content "
    "     FROM (SELECT x.u, (SELECT t.content FROM utterances t "
    "                         WHERE t.utterance_id = x.u "
    "                           AND t.user_id = $1) AS content "
    "             FROM (SELECT DISTINCT a.u "
    "                     FROM (SELECT unnest(l.us) AS u FROM live l "
    "                            WHERE l.ck = f.ck AND l.sk = f.sk "
    "                           UNION ALL "
    "                           SELECT unnest(r.utterances[1:$7::int]) "
    "                             FROM error_recent r "
    "                            WHERE r.user_id = $1 "
    "                              AND r.category_key = f.ck "
    "                              AND r.subcategory_key = f.sk) a "
    "                    ORDER BY a.u DESC LIMIT $7::int) x "
    "           OFFSET 0) d "
    "    WHERE d.content IS NOT NULL) o ON true "
    " ORDER BY f.rank, o.utterance_id DESC";


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
    int64_t                       version;
    yajl_gen                      g;
    ngx_uint_t                    nfocus, f, k;
    ngx_http_social_focus_t       focus[NGX_HTTP_SOCIAL_EXERCISES_MAX];
    ngx_http_social_exercises_t  *x = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQnfields(res) != NGX_HTTP_SOCIAL_EXERCISES_NCOLS) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: the exercises' result has %d columns",
                      PQnfields(res));
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * the worker's copy of the bank, read again when the statement saw
     * another version; once a read (the bank changing on meanwhile
     * answers with the copy just read)
     */

    if (PQntuples(res) > 0) {
        version = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                           NGX_HTTP_SOCIAL_EXERCISES_COL_BANK),
                            PQgetlength(res, 0,
                                        NGX_HTTP_SOCIAL_EXERCISES_COL_BANK));

        if (ngx_http_social_bank_current(version) != NGX_OK && !x->reread) {
            x->reread = 1;
            ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_bank, 0, NULL,
                                       ngx_http_social_exercises_bank);
            return;
        }
    }

    if (ngx_http_social_exercises_focus(ctx, res, focus, &nfocus) != NGX_OK) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
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

        yajl_gen_map_open(g);
        ngx_http_social_json_str(g, "category");
        yajl_gen_string(g, focus[f].category.data, focus[f].category.len);
        ngx_http_social_json_str(g, "subcategory");
        yajl_gen_string(g, focus[f].subcategory.data,
                        focus[f].subcategory.len);
        ngx_http_social_json_str(g, "frequency");
        ngx_http_social_json_pg(g, res, focus[f].first,
                                NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY,
                                NGX_HTTP_SOCIAL_JSON_INTEGER);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_social_json_str(g, "exercises");
    yajl_gen_array_open(g);

    for (f = 0; f < nfocus; f++) {
        for (k = 0; k < focus[f].slots; k++) {
            ngx_http_social_exercise_json(g, res,
                                          ngx_http_social_bank_rows(),
                                          &focus[f], k, ctx->request->pool);
        }
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


/* the bank read again: then the exercises, asked again */

static void
ngx_http_social_exercises_bank(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_exercises_t  *x = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (ngx_http_social_bank_set(res, ctx->request->connection->log)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_exercises, 7,
                               x->values, ngx_http_social_exercises_read);
}


/*
 * The rows by focus rank: where each subcategory starts, its own
 * utterances, the bank's exercises of it (at most the limit, drawn at
 * random) and its spellings: the bank's where it has the keys, else as
 * first recorded
 */

static ngx_int_t
ngx_http_social_exercises_focus(ngx_http_social_ctx_t *ctx, PGresult *res,
    ngx_http_social_focus_t *focus, ngx_uint_t *nfocus)
{
    int                           row, n, first, t, *rows;
    PGresult                     *bank;
    ngx_str_t                     ck, sk;
    ngx_uint_t                    nf, nb, i, j;
    ngx_http_social_focus_t      *f;
    ngx_http_social_exercises_t  *x = ctx->data;

    bank = ngx_http_social_bank_rows();
    n = PQntuples(res);
    nf = 0;
    f = NULL;

    for (row = 0; row < n; row++) {
        if (row == 0
            || ngx_strcmp(PQgetvalue(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_RANK),
                          PQgetvalue(res, row - 1,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_RANK))
               != 0)
        {
            if (nf == NGX_HTTP_SOCIAL_EXERCISES_MAX) {
                break;
            }

            f = &focus[nf++];
            ngx_memzero(f, sizeof(ngx_http_social_focus_t));

            f->first = row;
            f->frequency = ngx_atoof((u_char *)
                               PQgetvalue(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY),
                               PQgetlength(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_FREQUENCY));

            ngx_http_social_exercises_str(res, row,
                              NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY_KEY, &ck);
            ngx_http_social_exercises_str(res, row,
                           NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY_KEY, &sk);
            ngx_http_social_exercises_str(res, row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,
                                      &f->category);
            ngx_http_social_exercises_str(res, row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
                                      &f->subcategory);

            first = ngx_http_social_bank_find(&ck, &sk, &nb);

            if (first < 0) {
                first = ngx_http_social_bank_category(&ck);

                if (first >= 0) {
                    ngx_http_social_exercises_str(bank, first,
                                             NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
                                             &f->category);
                }

            } else {
                ngx_http_social_exercises_str(bank, first,
                                             NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
                                             &f->category);
                ngx_http_social_exercises_str(bank, first,
                                          NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY,
                                          &f->subcategory);

                /* the first ones of a draw without replacement */

                rows = ngx_palloc(ctx->request->pool, nb * sizeof(int));
                if (rows == NULL) {
                    return NGX_ERROR;
                }

                for (i = 0; i < nb; i++) {
                    rows[i] = first + (int) i;
                }

                f->nbank = ngx_min(nb, x->limit);

                for (i = 0; i < f->nbank; i++) {
                    j = i + (ngx_uint_t) ngx_random() % (nb - i);
                    t = rows[i];
                    rows[i] = rows[j];
                    rows[j] = t;
                }

                f->bank = rows;
            }
        }

        if (!PQgetisnull(res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE)) {
            f->nown++;
        }
    }

    *nfocus = nf;

    return NGX_OK;
}


/* a column's text, as it stays in the result */

static void
ngx_http_social_exercises_str(PGresult *res, int row, int col, ngx_str_t *s)
{
    s->data = (u_char *) PQgetvalue(res, row, col);
    s->len = PQgetlength(res, row, col);
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
            if (focus[i].slots >= focus[i].nown + focus[i].nbank) {
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
 * "answer", "utterance_id"}, the focus's candidate k: its own utterances
 * (newest first) and the bank's (as drawn) alternately, then the rest of
 * either; from the bank (exercise_id), or from one of the user's own
 * utterances (utterance_id, no answer)
 */

static void
ngx_http_social_exercise_json(yajl_gen g, PGresult *res, PGresult *bank,
    ngx_http_social_focus_t *f, ngx_uint_t k, ngx_pool_t *pool)
{
    int          row;
    u_char      *p, *prompt;
    size_t       len;
    ngx_uint_t   m, own, i;

    m = ngx_min(f->nown, f->nbank);

    if (k < 2 * m) {
        own = (k % 2 == 0);
        i = k / 2;

    } else {
        own = (f->nown > m);
        i = m + (k - 2 * m);
    }

    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "exercise_id");

    if (!own) {
        row = f->bank[i];

        ngx_http_social_json_pg(g, bank, row, NGX_HTTP_SOCIAL_BANK_COL_ID,
                                NGX_HTTP_SOCIAL_JSON_INTEGER);
        ngx_http_social_json_str(g, "type");
        ngx_http_social_json_pg(g, bank, row, NGX_HTTP_SOCIAL_BANK_COL_TYPE,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "category");
        yajl_gen_string(g, f->category.data, f->category.len);
        ngx_http_social_json_str(g, "subcategory");
        yajl_gen_string(g, f->subcategory.data, f->subcategory.len);
        ngx_http_social_json_str(g, "prompt");
        ngx_http_social_json_pg(g, bank, row, NGX_HTTP_SOCIAL_BANK_COL_PROMPT,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "choices");
        ngx_http_social_json_pg(g, bank, row,
                                NGX_HTTP_SOCIAL_BANK_COL_CHOICES,
                                NGX_HTTP_SOCIAL_JSON_ARRAY);
        ngx_http_social_json_str(g, "answer");
        ngx_http_social_json_pg(g, bank, row, NGX_HTTP_SOCIAL_BANK_COL_ANSWER,
                                NGX_HTTP_SOCIAL_JSON_STRING);
        ngx_http_social_json_str(g, "utterance_id");
        yajl_gen_null(g);
        yajl_gen_map_close(g);
        return;
    }

    row = f->first + (int) i;

    yajl_gen_null(g);
    ngx_http_social_json_kv(g, "type", "correction");
    ngx_http_social_json_str(g, "category");
    yajl_gen_string(g, f->category.data, f->category.len);
    ngx_http_social_json_str(g, "subcategory");
    yajl_gen_string(g, f->subcategory.data, f->subcategory.len);

    /* Correct the <subcategory, ASCII lower case> in: "<content>" */

    len = PQgetlength(res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT);
    prompt = ngx_pnalloc(pool, sizeof("Correct the  in: \"\"") - 1
                               + f->subcategory.len + len);

    ngx_http_social_json_str(g, "prompt");

    if (prompt == NULL) {
        yajl_gen_null(g);

    } else {
        p = ngx_cpymem(prompt, "Correct the ", 12);
        ngx_strlow(p, f->subcategory.data, f->subcategory.len);
        p += f->subcategory.len;
        p = ngx_cpymem(p, " in: \"", 6);
        p = ngx_cpymem(p, PQgetvalue(res, row,
                                     NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT),
                       len);
        *p++ = '"';

        yajl_gen_string(g, prompt, p - prompt);
    }

    ngx_http_social_json_str(g, "choices");
    yajl_gen_null(g);
    ngx_http_social_json_str(g, "answer");
    yajl_gen_null(g);
    ngx_http_social_json_str(g, "utterance_id");
    ngx_http_social_json_pg(g, res, row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    yajl_gen_map_close(g);
}
