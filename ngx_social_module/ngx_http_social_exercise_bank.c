
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The exercise bank, as each worker keeps it.  GET /exercises
 * (ngx_http_social_exercises.c) takes the bank's exercises and the bank's
 * spellings of the categories from here rather than from PostgreSQL at
 * each read: they were a fifth of its statement's cost.  The bank is the
 * table exercises; migration 013's trigger moves exercise_bank.version on
 * at each statement that changes it, every exercises statement reads that
 * version, and a worker whose copy is of another version reads the bank
 * again (ngx_http_social_sql_bank) before it answers.  So an operator's
 * change to the bank is seen by the next read, as before.
 *
 * The copy lives in a pool of its own, replaced whole: a reader takes
 * what it needs while its handler runs and keeps no pointer into it.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_exercise_bank.h"


/* the columns of ngx_http_social_sql_bank */

enum {
    NGX_HTTP_SOCIAL_BANK_COL_VERSION = 0,
    NGX_HTTP_SOCIAL_BANK_COL_ID,                /* NULL: an empty bank */
    NGX_HTTP_SOCIAL_BANK_COL_CATEGORY_KEY,
    NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY_KEY,
    NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
    NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY,
    NGX_HTTP_SOCIAL_BANK_COL_TYPE,
    NGX_HTTP_SOCIAL_BANK_COL_PROMPT,
    NGX_HTTP_SOCIAL_BANK_COL_CHOICES,
    NGX_HTTP_SOCIAL_BANK_COL_ANSWER,
    NGX_HTTP_SOCIAL_BANK_NCOLS
};


typedef struct {
    ngx_pool_t                       *pool;
    int64_t                           version;
    ngx_uint_t                        nelts;
    ngx_http_social_bank_exercise_t  *elts;     /* by keys, then id */
} ngx_http_social_bank_t;


static ngx_int_t ngx_http_social_bank_copy(ngx_pool_t *pool, PGresult *res,
    int row, int col, ngx_str_t *s);


/*
 * The bank in one snapshot with its version, by keys then id.  A
 * category's spelling is that of its first exercise (the lowest id), a
 * subcategory's that of the first of its keys, as the answers give them.
 */
const char  ngx_http_social_sql_bank[] =
    "SELECT b.version, x.exercise_id, x.category_key, x.subcategory_key, "
    "       first_value(x.category) OVER (PARTITION BY x.category_key "
    "                                     ORDER BY x.exercise_id), "
    "       first_value(x.subcategory) OVER (PARTITION BY x.category_key, "
    "                                        x.subcategory_key "
    "                                        ORDER BY x.exercise_id), "
    "       x.type, x.prompt, to_json(x.choices)::text, x.answer "
    "  FROM exercise_bank b LEFT JOIN exercises x ON true "
    " ORDER BY x.category_key, x.subcategory_key, x.exercise_id";


static ngx_http_social_bank_t  ngx_http_social_bank;


/* NGX_OK when the worker's copy is of this version */

ngx_int_t
ngx_http_social_bank_current(int64_t version)
{
    if (ngx_http_social_bank.pool != NULL
        && ngx_http_social_bank.version == version)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* the result of ngx_http_social_sql_bank as the worker's copy */

ngx_int_t
ngx_http_social_bank_set(PGresult *res, ngx_log_t *log)
{
    int                               row, n;
    int64_t                           version;
    ngx_pool_t                       *pool;
    ngx_http_social_bank_exercise_t  *e;

    n = PQntuples(res);

    if (PQnfields(res) != NGX_HTTP_SOCIAL_BANK_NCOLS || n == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "social: the exercise bank's result is not as "
                      "asked: %d columns, %d rows", PQnfields(res), n);
        return NGX_ERROR;
    }

    version = ngx_atoof((u_char *) PQgetvalue(res, 0,
                                     NGX_HTTP_SOCIAL_BANK_COL_VERSION),
                        PQgetlength(res, 0, NGX_HTTP_SOCIAL_BANK_COL_VERSION));
    if (version == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "social: the exercise bank's version is not a number");
        return NGX_ERROR;
    }

    /* an empty bank: one row, its version and NULLs */

    if (PQgetisnull(res, 0, NGX_HTTP_SOCIAL_BANK_COL_ID)) {
        n = 0;
    }

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    e = ngx_pcalloc(pool, (n ? n : 1)
                          * sizeof(ngx_http_social_bank_exercise_t));
    if (e == NULL) {
        goto failed;
    }

    for (row = 0; row < n; row++) {
        e[row].id = ngx_atoof((u_char *) PQgetvalue(res, row,
                                           NGX_HTTP_SOCIAL_BANK_COL_ID),
                              PQgetlength(res, row,
                                          NGX_HTTP_SOCIAL_BANK_COL_ID));

        if (e[row].id == NGX_ERROR
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_CATEGORY_KEY,
                                &e[row].category_key) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY_KEY,
                                &e[row].subcategory_key) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,
                                &e[row].category) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY,
                                &e[row].subcategory) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_TYPE,
                                &e[row].type) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_PROMPT,
                                &e[row].prompt) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_CHOICES,
                                &e[row].choices) != NGX_OK
            || ngx_http_social_bank_copy(pool, res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_ANSWER,
                                &e[row].answer) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "social: the exercise bank's row %d is not as "
                          "asked", row);
            goto failed;
        }
    }

    if (ngx_http_social_bank.pool != NULL) {
        ngx_destroy_pool(ngx_http_social_bank.pool);
    }

    ngx_http_social_bank.pool = pool;
    ngx_http_social_bank.version = version;
    ngx_http_social_bank.nelts = n;
    ngx_http_social_bank.elts = e;

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "social: exercise bank version %L read, %d exercises",
                  version, n);

    return NGX_OK;

failed:

    ngx_destroy_pool(pool);
    return NGX_ERROR;
}


/* a column's text into the pool; NULL is len 0 (only the choices' is) */

static ngx_int_t
ngx_http_social_bank_copy(ngx_pool_t *pool, PGresult *res, int row, int col,
    ngx_str_t *s)
{
    if (PQgetisnull(res, row, col)) {
        ngx_str_null(s);
        return col == NGX_HTTP_SOCIAL_BANK_COL_CHOICES ? NGX_OK : NGX_ERROR;
    }

    s->len = PQgetlength(res, row, col);
    s->data = ngx_pnalloc(pool, s->len + 1);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, PQgetvalue(res, row, col), s->len + 1);

    return NGX_OK;
}


/* the exercises of a subcategory (*n of them, by id), or NULL */

ngx_http_social_bank_exercise_t *
ngx_http_social_bank_find(ngx_str_t *ck, ngx_str_t *sk, ngx_uint_t *n)
{
    ngx_uint_t                        i, k;
    ngx_http_social_bank_exercise_t  *e;

    e = ngx_http_social_bank.elts;

    for (i = 0; i < ngx_http_social_bank.nelts; i++) {
        if (e[i].category_key.len == ck->len
            && e[i].subcategory_key.len == sk->len
            && ngx_memcmp(e[i].category_key.data, ck->data, ck->len) == 0
            && ngx_memcmp(e[i].subcategory_key.data, sk->data, sk->len) == 0)
        {
            for (k = i + 1; k < ngx_http_social_bank.nelts; k++) {
                if (e[k].category_key.len != ck->len
                    || e[k].subcategory_key.len != sk->len
                    || ngx_memcmp(e[k].category_key.data, ck->data,
                                  ck->len) != 0
                    || ngx_memcmp(e[k].subcategory_key.data, sk->data,
                                  sk->len) != 0)
                {
                    break;
                }
            }

            *n = k - i;
            return &e[i];
        }
    }

    *n = 0;
    return NULL;
}


/* the bank's spelling of a category, or NULL when it has none of it */

ngx_str_t *
ngx_http_social_bank_category(ngx_str_t *ck)
{
    ngx_uint_t                        i;
    ngx_http_social_bank_exercise_t  *e;

    e = ngx_http_social_bank.elts;

    for (i = 0; i < ngx_http_social_bank.nelts; i++) {
        if (e[i].category_key.len == ck->len
            && ngx_memcmp(e[i].category_key.data, ck->data, ck->len) == 0)
        {
            return &e[i].category;
        }
    }

    return NULL;
}


void
ngx_http_social_bank_exit_process(void)
{
    if (ngx_http_social_bank.pool != NULL) {
        ngx_destroy_pool(ngx_http_social_bank.pool);
        ngx_http_social_bank.pool = NULL;
    }
}
