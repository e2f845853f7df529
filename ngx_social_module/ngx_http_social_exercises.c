
/*
 * Copyright (C) ngx_social developers
 */


/*
 * GET /exercises?limit=&user_id=: exercises aimed at the user's most
 * frequent error subcategories.  The frequencies are PostgreSQL's totals
 * plus what still waits in Redis (read first, at one instant), so a
 * recorded error counts at once and none counts twice: the pending counts
 * are left out when a batch cut after that read is already applied, and
 * the open batch's when it is applied.  The slots go to the subcategories
 * in proportion to their frequencies (Sainte-Lague: the next slot to the
 * highest frequency / (2 * slots + 1)); the exercises come from the bank
 * and from the user's own utterances that had the error, none twice.
 *
 * What a read costs does not grow with the user's history, and the
 * statement is flat: it reads the user's totals with each subcategory's
 * newest utterances and their texts (error_recent, migrations 013 and
 * 014), what of Redis's counts still counts, and what of a batch being
 * applied is in the totals already; the sums, the ranking and the choice
 * of utterances are made here.  Only an utterance still waiting in Redis
 * that an answer offers has its text read, by a second statement.  The
 * bank is the worker's copy (ngx_http_social_exercise_bank.c), drawn from
 * here.
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
#include "ngx_http_social_exercise_rank.h"
#include "ngx_http_social_reads.h"


#define NGX_HTTP_SOCIAL_EXERCISES_MAX  20


typedef struct {
    int64_t                         user_id;
    ngx_uint_t                      limit;
    ngx_uint_t                      reread;     /* unsigned:1 */
    ngx_uint_t                      scripted;   /* unsigned:1 */
    ngx_uint_t                      nfocus;
    ngx_http_social_focus_t        *focus;      /* limit of them */
    ngx_http_social_point_view_t    view;
    const char                     *values[9];
    const char                     *texts[2];
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
static ngx_int_t ngx_http_social_exercises_unread(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_exercises_texts(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_exercises_answer(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_exercises_draw(ngx_http_social_ctx_t *ctx,
    ngx_http_social_focus_t *f);
static ngx_uint_t ngx_http_social_exercises_share(
    ngx_http_social_focus_t *focus, ngx_uint_t n, ngx_uint_t limit);
static void ngx_http_social_exercise_json(yajl_gen g, PGresult *bank,
    ngx_http_social_focus_t *f, ngx_uint_t k, ngx_pool_t *pool);


static const char  ngx_http_social_sql_exercises_user[] =
    "SELECT 1 FROM users WHERE user_id = $1";

/*
 * A read of reads that go together (_reads.c), each read's parameters an
 * element of the arrays: $1 the user, $2 and $3 the epoch and the last
 * batch seq when Redis was read, $4 and $5 the open batch, $6 the limit,
 * $7 and $8 whether counts of the open batch and of the user's own wait
 * in Redis, $9 how many.  The counts of Redis count until the flush's
 * last transaction marks their batch applied, less what of that batch the
 * chunks committed before hold already (their counts are in
 * error_frequencies): those are rows of source 0.  The texts come only
 * for the subcategories whose totals rank among the first limit + $9
 * (ties in), so that their bytes do not grow with the subcategories a
 * user ever had: only Redis's $9 counts add to a total, so no other makes
 * the focus but when a batch being applied takes from the totals; an
 * utterance offered without its text has it read like one of Redis's.
 * No order: the module sorts the rows with Redis's counts.
 */

static ngx_http_social_reads_t  ngx_http_social_exercises_reads = {
    "WITH r AS (SELECT q.*, coalesce((SELECT frequency "
    "                                   FROM error_frequencies "
    "                                  WHERE user_id = q.uid "
    "                                  ORDER BY frequency DESC "
    "                                 OFFSET q.lim + q.nc - 1 "
    "                                  LIMIT 1), 0) AS cut "
    "             FROM unnest($1::bigint[], $2::text[], $3::bigint[], "
    "                         $4::text[], $5::bigint[], $6::int[], "
    "                         $7::boolean[], $8::boolean[], $9::int[]) "
    "                  WITH ORDINALITY "
    "                  AS q (uid, ep, sq, oep, osq, lim, op, wt, nc, i)) "
    "SELECT -1, f.category_key, f.subcategory_key, f.category, "
    "       f.subcategory, f.frequency, o.u, o.c, NULL::boolean, "
    "       NULL::boolean, r.i "
    "  FROM r JOIN error_frequencies f ON f.user_id = r.uid "
    "  LEFT JOIN error_recent e "
    "    ON e.user_id = f.user_id AND e.category_key = f.category_key "
    "   AND e.subcategory_key = f.subcategory_key "
    "  LEFT JOIN LATERAL unnest(e.utterances[1:r.lim], "
    "                           CASE WHEN f.frequency >= r.cut "
    "                           THEN e.contents[1:r.lim] END) "
    "            o (u, c) ON true "
    "UNION ALL "
    "SELECT 0, u.category_key, u.subcategory_key, min(u.category), "
    "       min(u.subcategory), count(*), NULL, NULL, NULL, NULL, r.i "
    "  FROM r JOIN error_batches b "
    "    ON NOT b.applied "
    "   AND ((b.epoch = r.oep AND b.seq = r.osq AND r.op) "
    "        OR (b.epoch = r.ep AND b.seq > r.sq AND r.wt "
    "            AND NOT EXISTS (SELECT 1 FROM error_batches x "
    "                             WHERE x.epoch = r.ep AND x.seq > r.sq "
    "                               AND x.applied))) "
    "  JOIN utterance_errors u "
    "    ON u.batch_epoch = b.epoch AND u.batch_seq = b.seq "
    "   AND u.user_id = r.uid "
    " GROUP BY r.i, u.category_key, u.subcategory_key "
    "UNION ALL "
    "SELECT 3, NULL, NULL, NULL, NULL, (SELECT version FROM exercise_bank), "
    "       NULL, NULL, "
    "       EXISTS (SELECT 1 FROM error_batches "
    "                WHERE epoch = r.oep AND seq = r.osq AND applied), "
    "       EXISTS (SELECT 1 FROM error_batches "
    "                WHERE epoch = r.ep AND seq > r.sq AND applied), r.i "
    "  FROM r",
    9,
    NGX_HTTP_SOCIAL_EXERCISES_NCOLS,
    NULL
};

/*
 * $1 the user, $2 the utterances waiting in Redis that an answer offers:
 * each id with its text, or NULL when it is not the user's (each text one
 * probe of the primary key)
 */

static const char  ngx_http_social_sql_exercises_texts[] =
    "SELECT x.u, (SELECT t.content FROM utterances t "
    "              WHERE t.utterance_id = x.u AND t.user_id = $1) "
    "  FROM unnest($2::bigint[]) x (u)";


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

    x->focus = ngx_palloc(ctx->request->pool,
                          x->limit * sizeof(ngx_http_social_focus_t));
    if (x->focus == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_social_exercises_user(ctx, &x->user_id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_DECLINED) {
        x->user_id = ctx->user_id;
    }

    x->values[0] = ngx_http_social_int64(ctx, x->user_id);
    x->values[5] = ngx_http_social_int64(ctx, x->limit);

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
    ngx_uint_t                     i, open, waiting;
    ngx_http_social_exercises_t   *x = ctx->data;
    ngx_http_social_point_view_t  *view;

    view = &x->view;

    if (reply == NULL) {
        ngx_http_social_done(ctx, ngx_http_social_unavailable(ctx, "Redis"));
        return;
    }

    rc = ngx_http_social_point_view_read(ctx->request->pool, reply, view);

    if ((rc == NGX_AGAIN || rc == NGX_DECLINED) && !x->scripted) {

        /*
         * a batch is open, or the transaction was refused (EXEC's error):
         * the script reads it, once
         */

        x->scripted = 1;

        if (ngx_http_social_point_view_script(ctx, x->user_id,
                                          ngx_http_social_exercises_waiting)
            != NGX_OK)
        {
            ngx_http_social_done(ctx,
                                 ngx_http_social_unavailable(ctx, "Redis"));
        }

        return;
    }

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

    if (view->skipped) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "social: %ui pending error counts of user %L are not "
                      "as written, skipped (the first: \"%*s\")",
                      view->skipped, x->user_id,
                      view->bad ? ngx_min(view->bad->len, 200) : 0,
                      view->bad ? view->bad->str : "");
    }

    open = 0;
    waiting = 0;

    for (i = 0; i < view->ncounts; i++) {
        if (view->counts[i].open) {
            open = 1;

        } else {
            waiting = 1;
        }
    }

    x->values[1] = view->epoch;
    x->values[2] = view->seq;
    x->values[3] = view->open_epoch;
    x->values[4] = view->open_seq;
    x->values[6] = open ? "t" : "f";
    x->values[7] = waiting ? "t" : "f";
    x->values[8] = ngx_http_social_int64(ctx, (int64_t) view->ncounts);

    /* the reply's strings are gone with it */

    view->bad = NULL;

    rc = ngx_http_social_reads_add(ctx, &ngx_http_social_exercises_reads,
                                   x->values, ngx_http_social_exercises_read);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


static void
ngx_http_social_exercises_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                           version;
    ngx_int_t                     rc;
    ngx_http_social_exercises_t  *x = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    /* the row of the bank's version */

    version = ngx_http_social_exercise_check(res);

    if (version < 0) {
        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "social: the exercises' result is not as asked "
                      "(%d columns, %d rows)", PQnfields(res),
                      PQntuples(res));
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /*
     * the worker's copy of the bank, read again when the statement saw
     * another version; once a read (the bank changing on meanwhile
     * answers with the copy just read)
     */

    if (ngx_http_social_bank_current(ngx_http_social_exercise_int(res,
                                          version,
                                          NGX_HTTP_SOCIAL_EXERCISES_COL_COUNT))
        != NGX_OK
        && !x->reread)
    {
        x->reread = 1;
        ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_bank, 0, NULL,
                                   ngx_http_social_exercises_bank);
        return;
    }

    if (ngx_http_social_exercise_rank(ctx->request->pool, res, version,
                                      &x->view, x->limit, x->focus,
                                      &x->nfocus)
        != NGX_OK)
    {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_social_exercises_unread(ctx);

    if (rc == NGX_ERROR) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc == NGX_OK) {
        ngx_http_social_exercises_answer(ctx);
    }

    /* NGX_AGAIN: the texts of utterances waiting in Redis are read */
}


/* the bank read again: then the exercises, asked again */

static void
ngx_http_social_exercises_bank(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t                     rc;
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

    rc = ngx_http_social_reads_add(ctx, &ngx_http_social_exercises_reads,
                                   x->values, ngx_http_social_exercises_read);

    if (rc != NGX_DONE) {
        ngx_http_social_done(ctx, rc);
    }
}


/*
 * The offered utterances still waiting in Redis, whose texts no row had:
 * NGX_OK when there are none, NGX_AGAIN when they are being read
 */

static ngx_int_t
ngx_http_social_exercises_unread(ngx_http_social_ctx_t *ctx)
{
    u_char                       *p;
    ngx_uint_t                    f, k, n;
    ngx_http_social_exercises_t  *x = ctx->data;

    n = 0;

    for (f = 0; f < x->nfocus; f++) {
        for (k = 0; k < x->focus[f].nown; k++) {
            n += (x->focus[f].own[k].content.data == NULL);
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(ctx->request->pool, 3 + n * (NGX_INT64_LEN + 1));
    if (p == NULL) {
        return NGX_ERROR;
    }

    x->texts[0] = x->values[0];
    x->texts[1] = (char *) p;

    *p++ = '{';

    for (f = 0; f < x->nfocus; f++) {
        for (k = 0; k < x->focus[f].nown; k++) {
            if (x->focus[f].own[k].content.data == NULL) {
                p = ngx_sprintf(p, "%L,", x->focus[f].own[k].id);
            }
        }
    }

    p[-1] = '}';
    *p = '\0';

    ngx_http_social_pg_or_done(ctx, ngx_http_social_sql_exercises_texts, 2,
                               x->texts, ngx_http_social_exercises_texts);

    return NGX_AGAIN;
}


/*
 * the texts read: each given to the utterance of that id; an utterance
 * without one (not the user's) is not offered
 */

static void
ngx_http_social_exercises_texts(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                           row, n;
    int64_t                       id;
    ngx_uint_t                    f, k, kept;
    ngx_http_social_focus_t      *focus;
    ngx_http_social_exercises_t  *x = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQnfields(res) != 2) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = PQntuples(res);

    for (row = 0; row < n; row++) {
        if (PQgetisnull(res, row, 0) || PQgetisnull(res, row, 1)) {
            continue;
        }

        id = ngx_http_social_exercise_int(res, row, 0);

        for (f = 0; f < x->nfocus; f++) {
            focus = &x->focus[f];

            for (k = 0; k < focus->nown; k++) {
                if (focus->own[k].id != id
                    || focus->own[k].content.data != NULL)
                {
                    continue;
                }

                if (ngx_http_social_exercise_copy(ctx->request->pool, res,
                                                  row, 1,
                                                  &focus->own[k].content)
                    != NGX_OK)
                {
                    ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }
            }
        }
    }

    for (f = 0; f < x->nfocus; f++) {
        focus = &x->focus[f];
        kept = 0;

        for (k = 0; k < focus->nown; k++) {
            if (focus->own[k].content.data != NULL) {
                focus->own[kept++] = focus->own[k];
            }
        }

        focus->nown = kept;
    }

    ngx_http_social_exercises_answer(ctx);
}


/* the bank's draws, the slots, and the answer */

static void
ngx_http_social_exercises_answer(ngx_http_social_ctx_t *ctx)
{
    yajl_gen                      g;
    ngx_uint_t                    f, k;
    ngx_http_social_focus_t      *focus;
    ngx_http_social_exercises_t  *x = ctx->data;

    focus = x->focus;

    for (f = 0; f < x->nfocus; f++) {
        if (ngx_http_social_exercises_draw(ctx, &focus[f]) != NGX_OK) {
            ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    (void) ngx_http_social_exercises_share(focus, x->nfocus, x->limit);

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

    for (f = 0; f < x->nfocus; f++) {
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
        yajl_gen_integer(g, focus[f].frequency);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_social_json_str(g, "exercises");
    yajl_gen_array_open(g);

    for (f = 0; f < x->nfocus; f++) {
        for (k = 0; k < focus[f].slots; k++) {
            ngx_http_social_exercise_json(g, ngx_http_social_bank_rows(),
                                          &focus[f], k, ctx->request->pool);
        }
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_OK, g));
}


/*
 * The bank's exercises of a focus subcategory (at most the limit, drawn
 * at random, without replacement) and its spellings: the bank's where it
 * has the keys, else as first recorded.  Made just before the answer, so
 * that the rows are of the worker's bank as it is then.
 */

static ngx_int_t
ngx_http_social_exercises_draw(ngx_http_social_ctx_t *ctx,
    ngx_http_social_focus_t *f)
{
    int                           first, t, *rows;
    PGresult                     *bank;
    ngx_uint_t                    nb, i, j;
    ngx_http_social_exercises_t  *x = ctx->data;

    bank = ngx_http_social_bank_rows();

    first = ngx_http_social_bank_find(&f->ck, &f->sk, &nb);

    if (first < 0) {
        first = ngx_http_social_bank_category(&f->ck);

        if (first >= 0) {
            ngx_http_social_exercise_str(bank, first,
                                         NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
                                         &f->category);
        }

        return NGX_OK;
    }

    ngx_http_social_exercise_str(bank, first,
                                 NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
                                 &f->category);
    ngx_http_social_exercise_str(bank, first,
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

    return NGX_OK;
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

            q = (double) focus[i].frequency / (2 * focus[i].slots + 1);

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
ngx_http_social_exercise_json(yajl_gen g, PGresult *bank,
    ngx_http_social_focus_t *f, ngx_uint_t k, ngx_pool_t *pool)
{
    int                     row;
    u_char                 *p, *prompt;
    ngx_uint_t              m, own, i;
    ngx_http_social_own_t  *u;

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

    u = &f->own[i];

    yajl_gen_null(g);
    ngx_http_social_json_kv(g, "type", "correction");
    ngx_http_social_json_str(g, "category");
    yajl_gen_string(g, f->category.data, f->category.len);
    ngx_http_social_json_str(g, "subcategory");
    yajl_gen_string(g, f->subcategory.data, f->subcategory.len);

    /* Correct the <subcategory, ASCII lower case> in: "<content>" */

    prompt = ngx_pnalloc(pool, sizeof("Correct the  in: \"\"") - 1
                               + f->subcategory.len + u->content.len);

    ngx_http_social_json_str(g, "prompt");

    if (prompt == NULL) {
        yajl_gen_null(g);

    } else {
        p = ngx_cpymem(prompt, "Correct the ", 12);
        ngx_strlow(p, f->subcategory.data, f->subcategory.len);
        p += f->subcategory.len;
        p = ngx_cpymem(p, " in: \"", 6);
        p = ngx_cpymem(p, u->content.data, u->content.len);
        *p++ = '"';

        yajl_gen_string(g, prompt, p - prompt);
    }

    ngx_http_social_json_str(g, "choices");
    yajl_gen_null(g);
    ngx_http_social_json_str(g, "answer");
    yajl_gen_null(g);
    ngx_http_social_json_str(g, "utterance_id");
    yajl_gen_integer(g, u->id);
    yajl_gen_map_close(g);
}
