
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Endpoints for tests only: this file is compiled into the test build alone
 * (see ngx_http_social_debug.h), never into the production module.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_debug.h"
#include "ngx_http_social_reads.h"
#include "ngx_http_social_args.h"


#define NGX_HTTP_SOCIAL_BLOB_SIZE  (1024 * 1024)


static void ngx_http_social_debug_blob_set(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_debug_blob_get(ngx_http_social_ctx_t *ctx,
    redisReply *reply);
static void ngx_http_social_debug_slept(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_read(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_debug_number(ngx_http_social_ctx_t *ctx,
    const char *key, long long n);
static ngx_int_t ngx_http_social_debug_numbers(ngx_http_social_ctx_t *ctx,
    ngx_uint_t n, const char **keys, long long *values);


ngx_http_social_endpoint_t  ngx_http_social_debug_endpoints[] = {

    { ngx_string("debug_redis_blob"), NGX_HTTP_GET,
      ngx_http_social_debug_redis_blob, 0, 0 },

    { ngx_string("debug_pg_sleep"), NGX_HTTP_GET,
      ngx_http_social_debug_pg_sleep, 0, 0 },

    { ngx_string("debug_echo"), NGX_HTTP_POST,
      ngx_http_social_debug_echo, 0, 0 },

    { ngx_string("debug_pg_txn"), NGX_HTTP_GET,
      ngx_http_social_debug_pg_txn, 0, 0 },

    { ngx_string("debug_pg_statements"), NGX_HTTP_GET,
      ngx_http_social_debug_pg_statements, 0, 0 },

    { ngx_string("debug_reads"), NGX_HTTP_GET,
      ngx_http_social_debug_reads, 0, 0 },

    { ngx_string("debug_redis_multi_fault"), NGX_HTTP_GET,
      ngx_http_social_debug_multi_fault, 0, 0 },

    { ngx_null_string, 0, NULL, 0, 0 }
};


/*
 * a kind of reads whose statement answers each read's value at the place
 * it was given plus its offset: a place out of range, as a wrong statement
 * would answer, when the offset is not 0
 */
static ngx_http_social_reads_t  ngx_http_social_debug_reads_kind = {
    "SELECT q.v, q.i + q.o "
    "  FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY "
    "       AS q(v, o, i)",
    2,
    1,
    NULL
};


/*
 * GET ?mb=N: SET a value of N MB (1 by default, at most 64) and GET it back
 * on the one pipelined connection
 */

ngx_int_t
ngx_http_social_debug_redis_blob(ngx_http_social_ctx_t *ctx)
{
    u_char     *blob;
    size_t      size;
    ngx_int_t   mb;
    ngx_str_t   arg;

    static const char  *get[] = { "GET", "social:debug:blob" };
    static size_t       get_len[] = { 3, sizeof("social:debug:blob") - 1 };
    const char         *set[3];
    size_t              set_len[3];

    mb = 1;

    if (ngx_http_arg(ctx->request, (u_char *) "mb", 2, &arg) == NGX_OK) {
        mb = ngx_atoi(arg.data, arg.len);

        if (mb < 1 || mb > 64) {
            return ngx_http_social_error(ctx, 422, "validation_failed",
                                         "mb must be 1..64.", "mb");
        }
    }

    size = (size_t) mb * NGX_HTTP_SOCIAL_BLOB_SIZE;

    blob = ngx_pnalloc(ctx->request->pool, size);
    if (blob == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memset(blob, 'x', size);

    set[0] = "SET";
    set_len[0] = 3;
    set[1] = get[1];
    set_len[1] = get_len[1];
    set[2] = (char *) blob;
    set_len[2] = size;

    if (ngx_http_social_redis_command(ctx, ngx_http_social_debug_blob_set, 3,
                                      set, set_len)
        != NGX_OK
        || ngx_http_social_redis_command(ctx, ngx_http_social_debug_blob_get,
                                         2, get, get_len)
           != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "Redis");
    }

    ctx->pending = 2;

    return NGX_DONE;
}


static void
ngx_http_social_debug_blob_set(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ctx->pending--;
}


static void
ngx_http_social_debug_blob_get(ngx_http_social_ctx_t *ctx, redisReply *reply)
{
    ngx_int_t  rc;

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        rc = ngx_http_social_unavailable(ctx, "Redis");

    } else {
        rc = ngx_http_social_debug_number(ctx, "bytes", reply->len);
    }

    ngx_http_social_done(ctx, rc);
}


/* GET ?ms=N: a query that takes N milliseconds */

ngx_int_t
ngx_http_social_debug_pg_sleep(ngx_http_social_ctx_t *ctx)
{
    u_char      *p;
    ngx_int_t    ms;
    ngx_str_t    arg;
    const char **values;

    if (ngx_http_arg(ctx->request, (u_char *) "ms", 2, &arg) != NGX_OK) {
        ngx_str_set(&arg, "100");
    }

    ms = ngx_atoi(arg.data, arg.len);
    if (ms == NGX_ERROR || ms > 60000) {
        return ngx_http_social_error(ctx, 422, "validation_failed",
                                     "ms must be 0..60000.", "ms");
    }

    values = ngx_palloc(ctx->request->pool, sizeof(char *));
    p = ngx_pnalloc(ctx->request->pool, NGX_INT_T_LEN + 1);
    if (values == NULL || p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ngx_sprintf(p, "%i", ms) = '\0';
    values[0] = (char *) p;

    return ngx_http_social_pg_or_503(ctx,
                                     "SELECT pg_sleep($1::int / 1000.0)", 1,
                                     values, ngx_http_social_debug_slept);
}


static void
ngx_http_social_debug_slept(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t  rc;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ngx_http_social_unavailable(ctx, "PostgreSQL");

    } else {
        rc = ngx_http_social_debug_number(ctx, "slept", 1);
    }

    ngx_http_social_done(ctx, rc);
}


/*
 * GET ?v=N&o=M: N read back through the reads that go together
 * (ngx_http_social_reads.c), its place moved by M
 */

ngx_int_t
ngx_http_social_debug_reads(ngx_http_social_ctx_t *ctx)
{
    ngx_str_t     arg;
    ngx_uint_t    i, n;
    const char  **values;

    static u_char  *names[] = { (u_char *) "v", (u_char *) "o" };

    values = ngx_palloc(ctx->pool, 2 * sizeof(char *));
    if (values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < 2; i++) {
        n = 0;

        if (ngx_http_arg(ctx->request, names[i], 1, &arg) == NGX_OK
            && ngx_http_social_limit_parse(&arg, 0, 1000000, &n) != NGX_OK)
        {
            return ngx_http_social_error(ctx, 422, "validation_failed",
                                         "v and o must be 0..1000000.",
                                         (char *) names[i]);
        }

        values[i] = ngx_http_social_int64(ctx, n);
        if (values[i] == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_social_reads_add(ctx, &ngx_http_social_debug_reads_kind,
                                     values, ngx_http_social_debug_read);
}


static void
ngx_http_social_debug_read(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t  n;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) != 1) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = ngx_atoi((u_char *) PQgetvalue(res, 0, 0), PQgetlength(res, 0, 0));

    ngx_http_social_done(ctx, ngx_http_social_debug_number(ctx, "value", n));
}


/*
 * GET ?at=N: this worker's next Redis transaction fails to take its
 * command N (from 1; 0: none), as when hiredis cannot grow its buffer
 */

ngx_int_t
ngx_http_social_debug_multi_fault(ngx_http_social_ctx_t *ctx)
{
    ngx_str_t   arg;
    ngx_uint_t  at;

    if (ngx_http_arg(ctx->request, (u_char *) "at", 2, &arg) != NGX_OK) {
        ngx_str_set(&arg, "1");
    }

    if (ngx_http_social_limit_parse(&arg, 0, 1000, &at) != NGX_OK) {
        return ngx_http_social_error(ctx, 422, "validation_failed",
                                     "at must be 0..1000.", "at");
    }

    ngx_http_social_redis_multi_fault = at;

    return ngx_http_social_debug_number(ctx, "at", at);
}


static ngx_int_t
ngx_http_social_debug_number(ngx_http_social_ctx_t *ctx, const char *key,
    long long n)
{
    return ngx_http_social_debug_numbers(ctx, 1, &key, &n);
}


/* {"key": n, ...} */

static ngx_int_t
ngx_http_social_debug_numbers(ngx_http_social_ctx_t *ctx, ngx_uint_t n,
    const char **keys, long long *values)
{
    yajl_gen    g;
    ngx_uint_t  i;

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);

    for (i = 0; i < n; i++) {
        ngx_http_social_json_str(g, keys[i]);
        yajl_gen_integer(g, values[i]);
    }

    yajl_gen_map_close(g);

    return ngx_http_social_send(ctx, NGX_HTTP_OK, g);
}


/*
 * POST {"id": N, "name": "...", "tags": ["...", ...]} ?limit=N: the typed
 * view of the body and the query, echoed back, or the 422 at fault
 */

ngx_int_t
ngx_http_social_debug_echo(ngx_http_social_ctx_t *ctx)
{
    int64_t                  id;
    yajl_gen                 g;
    ngx_int_t                rc;
    ngx_str_t                name, tag;
    ngx_uint_t               i, limit;
    const char              *path;
    ngx_http_social_json_t  *tags, *t;

    rc = ngx_http_social_json_id(ctx, ctx->body, "id", &id);
    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_DECLINED) {
        id = 0;
    }

    rc = ngx_http_social_json_string(ctx, ctx->body, "name", 1, 10, &name);
    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_DECLINED) {
        ngx_str_null(&name);
    }

    tags = ngx_http_social_json_get(ctx->body, "tags");

    if (tags && tags->type != NGX_HTTP_SOCIAL_JSON_ARRAY) {
        ngx_http_social_note_invalid(ctx, "tags", "must be an array");
        return ngx_http_social_unprocessable(ctx);
    }

    if (ngx_http_social_page_limit(ctx, &limit) != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);

    ngx_http_social_json_str(g, "id");
    if (id) {
        yajl_gen_integer(g, id);

    } else {
        yajl_gen_null(g);
    }

    ngx_http_social_json_str(g, "name");
    if (name.data) {
        yajl_gen_string(g, name.data, name.len);

    } else {
        yajl_gen_null(g);
    }

    ngx_http_social_json_str(g, "tags");
    yajl_gen_array_open(g);

    for (t = tags ? tags->first : NULL, i = 0; t; t = t->next, i++) {
        path = ngx_http_social_json_path(ctx, "tags", i, NULL);

        if (ngx_http_social_json_text(ctx, t, path, 1, 5, &tag) != NGX_OK) {
            return ngx_http_social_unprocessable(ctx);
        }

        yajl_gen_string(g, tag.data, tag.len);
    }

    yajl_gen_array_close(g);

    ngx_http_social_json_str(g, "limit");
    yajl_gen_integer(g, limit);

    yajl_gen_map_close(g);

    return ngx_http_social_send(ctx, NGX_HTTP_OK, g);
}


/*
 * GET ?key=K&commit=0|1&ms=N&pause=P[&check=C]: BEGIN; upsert the setting
 * "debug:K"; wait P ms on a timer, the connection idle in the transaction;
 * upsert "debug:K:2"; sleep N ms; COMMIT or ROLLBACK; then count
 * "debug:C" (K by default) outside the transaction.  Proves the pinned
 * connection, the rollback when the client goes away in the middle, and
 * that a transaction whose connection is lost during the pause fails whole.
 */

typedef struct {
    const char                     *values[1];
    const char                     *second[1];  /* "K:2" */
    const char                     *check[1];
    const char                     *ms[1];
    ngx_int_t                       pause;
    ngx_event_t                     timer;
    ngx_uint_t                      commit;
} ngx_http_social_debug_txn_t;


static void ngx_http_social_debug_txn_begun(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_txn_upserted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_txn_paused(ngx_event_t *ev);
static void ngx_http_social_debug_txn_second(ngx_http_social_ctx_t *ctx);
static void ngx_http_social_debug_txn_unpause(void *data);
static void ngx_http_social_debug_txn_written(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_txn_slept(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_txn_ended(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_txn_counted(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static const char *ngx_http_social_debug_arg(ngx_http_social_ctx_t *ctx,
    const char *name, const char *def);


static const char  ngx_http_social_debug_sql_upsert[] =
    "INSERT INTO social_settings (name, value) "
    "VALUES ('debug:' || $1, 'txn') "
    "ON CONFLICT (name) DO UPDATE SET value = excluded.value";


ngx_int_t
ngx_http_social_debug_pg_txn(ngx_http_social_ctx_t *ctx)
{
    u_char                       *p;
    const char                   *pause;
    ngx_pool_cleanup_t           *cln;
    ngx_http_social_debug_txn_t  *t;

    t = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_debug_txn_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->values[0] = ngx_http_social_debug_arg(ctx, "key", "k");
    t->check[0] = ngx_http_social_debug_arg(ctx, "check", t->values[0]);
    t->ms[0] = ngx_http_social_debug_arg(ctx, "ms", "0");
    pause = ngx_http_social_debug_arg(ctx, "pause", "0");
    t->commit = ngx_strcmp(ngx_http_social_debug_arg(ctx, "commit", "1"),
                           "1") == 0;

    if (t->values[0] == NULL || t->check[0] == NULL || t->ms[0] == NULL
        || pause == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->pause = ngx_atoi((u_char *) pause, ngx_strlen(pause));
    if (t->pause == NGX_ERROR || t->pause > 60000) {
        return ngx_http_social_error(ctx, 422, "validation_failed",
                                     "pause must be 0..60000.", "pause");
    }

    p = ngx_pnalloc(ctx->request->pool, ngx_strlen(t->values[0]) + 3);
    cln = ngx_pool_cleanup_add(ctx->request->pool, 0);
    if (p == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf(p, "%s:2%Z", t->values[0]);
    t->second[0] = (char *) p;

    t->timer.handler = ngx_http_social_debug_txn_paused;
    t->timer.data = ctx;
    t->timer.log = ctx->log;

    cln->handler = ngx_http_social_debug_txn_unpause;
    cln->data = t;

    ctx->data = t;

    if (ngx_http_social_pg_begin(ctx, ngx_http_social_debug_txn_begun)
        != NGX_OK)
    {
        return ngx_http_social_unavailable(ctx, "PostgreSQL");
    }

    return NGX_DONE;
}


static void
ngx_http_social_debug_txn_begun(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK
        || ngx_http_social_pg_query(ctx, ngx_http_social_debug_sql_upsert,
                                    1, t->values,
                                    ngx_http_social_debug_txn_upserted)
           != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


static void
ngx_http_social_debug_txn_upserted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
        return;
    }

    if (t->pause) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ctx->log, 0,
                       "social debug: pausing %i ms in the transaction",
                       t->pause);

        ngx_add_timer(&t->timer, (ngx_msec_t) t->pause);
        return;
    }

    ngx_http_social_debug_txn_second(ctx);
}


static void
ngx_http_social_debug_txn_paused(ngx_event_t *ev)
{
    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    ctx = ev->data;
    c = ctx->request->connection;

    ngx_http_social_debug_txn_second(ctx);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_social_debug_txn_second(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (ngx_http_social_pg_query(ctx, ngx_http_social_debug_sql_upsert, 1,
                                 t->second, ngx_http_social_debug_txn_written)
        != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


/* the request goes away during the pause */

static void
ngx_http_social_debug_txn_unpause(void *data)
{
    ngx_http_social_debug_txn_t  *t = data;

    if (t->timer.timer_set) {
        ngx_del_timer(&t->timer);
    }
}


static void
ngx_http_social_debug_txn_written(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK
        || ngx_http_social_pg_query(ctx, "SELECT pg_sleep($1::int / 1000.0)",
                                    1, t->ms, ngx_http_social_debug_txn_slept)
           != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


static void
ngx_http_social_debug_txn_slept(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK
        || ngx_http_social_pg_end(ctx, t->commit,
                                  ngx_http_social_debug_txn_ended)
           != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


static void
ngx_http_social_debug_txn_ended(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_txn_t  *t = ctx->data;

    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK
        || ngx_http_social_pg_query(ctx,
               "SELECT count(*) FROM social_settings "
               "WHERE name = 'debug:' || $1",
               1, t->check, ngx_http_social_debug_txn_counted)
           != NGX_OK)
    {
        ngx_http_social_done(ctx,
                             ngx_http_social_unavailable(ctx, "PostgreSQL"));
    }
}


static void
ngx_http_social_debug_txn_counted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_int_t  rc;

    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = ngx_http_social_unavailable(ctx, "PostgreSQL");

    } else {
        rc = ngx_http_social_debug_number(ctx, "visible",
                                          ngx_atoi((u_char *)
                                                   PQgetvalue(res, 0, 0),
                                                   PQgetlength(res, 0, 0)));
    }

    ngx_http_social_done(ctx, rc);
}


/*
 * GET ?n=N: N distinct statements with a parameter, "SELECT $1::int8 + k"
 * with $1 = k for k = 0..N-1, one after the other, then the same N again,
 * then what pg_prepared_statements counts on the connection (the only one
 * with "social_postgres_pool 1"): {"ran": 2N, "sum": PostgreSQL's answers
 * added up, "prepared": the count}.  Shows the fallback to unnamed
 * statements once NGX_HTTP_SOCIAL_PG_PREPARED are prepared on a connection.
 */

#define NGX_HTTP_SOCIAL_DEBUG_STATEMENTS  100
#define NGX_HTTP_SOCIAL_DEBUG_SQL_LEN     32


typedef struct {
    const char                     *values[1];
    ngx_uint_t                      n;
    long long                       ran;
    long long                       sum;
    u_char                          k[NGX_INT_T_LEN + 1];
} ngx_http_social_debug_stmt_t;


static void ngx_http_social_debug_stmt_next(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_debug_stmt_counted(ngx_http_social_ctx_t *ctx,
    PGresult *res);


/*
 * the texts, made once per worker: a prepared statement is named by its
 * text's address, which stays the same for the worker's life
 */

static u_char  ngx_http_social_debug_sql[NGX_HTTP_SOCIAL_DEBUG_STATEMENTS]
                                        [NGX_HTTP_SOCIAL_DEBUG_SQL_LEN];


ngx_int_t
ngx_http_social_debug_pg_statements(ngx_http_social_ctx_t *ctx)
{
    ngx_int_t                      n;
    ngx_str_t                      arg;
    ngx_uint_t                     k;
    ngx_http_social_debug_stmt_t  *t;

    if (ngx_http_arg(ctx->request, (u_char *) "n", 1, &arg) != NGX_OK) {
        ngx_str_set(&arg, "1");
    }

    n = ngx_atoi(arg.data, arg.len);
    if (n < 1 || n > NGX_HTTP_SOCIAL_DEBUG_STATEMENTS) {
        return ngx_http_social_error(ctx, 422, "validation_failed",
                                     "n must be 1..100.", "n");
    }

    if (ngx_http_social_debug_sql[0][0] == '\0') {
        for (k = 0; k < NGX_HTTP_SOCIAL_DEBUG_STATEMENTS; k++) {
            ngx_sprintf(ngx_http_social_debug_sql[k],
                        "SELECT $1::int8 + %ui%Z", k);
        }
    }

    t = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_debug_stmt_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->n = n;
    t->ran = 1;
    t->k[0] = '0';
    t->values[0] = (char *) t->k;
    ctx->data = t;

    return ngx_http_social_pg_or_503(ctx, (char *) ngx_http_social_debug_sql[0],
                                     1, t->values,
                                     ngx_http_social_debug_stmt_next);
}


static void
ngx_http_social_debug_stmt_next(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_stmt_t  *t = ctx->data;

    ngx_uint_t  k;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    t->sum += ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                        PQgetlength(res, 0, 0));

    if (t->ran == (long long) (2 * t->n)) {
        ngx_http_social_pg_or_done(ctx,
                                 "SELECT count(*) FROM pg_prepared_statements",
                                 0, NULL, ngx_http_social_debug_stmt_counted);
        return;
    }

    k = t->ran++ % t->n;
    *ngx_sprintf(t->k, "%ui", k) = '\0';

    ngx_http_social_pg_or_done(ctx, (char *) ngx_http_social_debug_sql[k], 1,
                               t->values, ngx_http_social_debug_stmt_next);
}


static void
ngx_http_social_debug_stmt_counted(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    ngx_http_social_debug_stmt_t  *t = ctx->data;

    long long           values[3];
    static const char  *keys[] = { "ran", "sum", "prepared" };

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    values[0] = t->ran;
    values[1] = t->sum;
    values[2] = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                          PQgetlength(res, 0, 0));

    ngx_http_social_done(ctx,
                         ngx_http_social_debug_numbers(ctx, 3, keys, values));
}


/* a query argument as a NUL-terminated string in the request pool */

static const char *
ngx_http_social_debug_arg(ngx_http_social_ctx_t *ctx, const char *name,
    const char *def)
{
    u_char     *p;
    ngx_str_t   arg;

    if (ngx_http_arg(ctx->request, (u_char *) name, ngx_strlen(name), &arg)
        != NGX_OK)
    {
        return def;
    }

    p = ngx_pnalloc(ctx->request->pool, arg.len + 1);
    if (p == NULL) {
        return NULL;
    }

    *ngx_cpymem(p, arg.data, arg.len) = '\0';

    return (char *) p;
}
