
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
 * The copy is the bank's result itself (PQcopyResult), replaced whole: a
 * reader takes what it needs while its handler runs and keeps no pointer
 * into it.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_exercise_bank.h"


typedef struct {
    PGresult                         *res;      /* by keys, then id */
    int64_t                           version;
    int                               nrows;
} ngx_http_social_bank_t;


static ngx_uint_t ngx_http_social_bank_keys(int row, ngx_str_t *ck,
    ngx_str_t *sk);


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
    if (ngx_http_social_bank.res != NULL
        && ngx_http_social_bank.version == version)
    {
        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* the result of ngx_http_social_sql_bank, copied, as the worker's copy */

ngx_int_t
ngx_http_social_bank_set(PGresult *res, ngx_log_t *log)
{
    int        n;
    int64_t    version;
    PGresult  *copy;

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

    copy = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_social_bank.res != NULL) {
        PQclear(ngx_http_social_bank.res);
    }

    ngx_http_social_bank.res = copy;
    ngx_http_social_bank.version = version;

    /* an empty bank: one row, its version and NULLs */
    ngx_http_social_bank.nrows =
        PQgetisnull(res, 0, NGX_HTTP_SOCIAL_BANK_COL_ID) ? 0 : n;

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "social: exercise bank version %L read, %d exercises",
                  version, ngx_http_social_bank.nrows);

    return NGX_OK;
}


/* the worker's copy: rows by keys, then id (columns in the header) */

PGresult *
ngx_http_social_bank_rows(void)
{
    return ngx_http_social_bank.res;
}


/* the first row of a subcategory's exercises (*n of them), or -1 */

int
ngx_http_social_bank_find(ngx_str_t *ck, ngx_str_t *sk, ngx_uint_t *n)
{
    int  row, end;

    for (row = 0; row < ngx_http_social_bank.nrows; row++) {
        if (ngx_http_social_bank_keys(row, ck, sk)) {
            for (end = row + 1;
                 end < ngx_http_social_bank.nrows
                 && ngx_http_social_bank_keys(end, ck, sk);
                 end++)
            {
                /* void */
            }

            *n = end - row;
            return row;
        }
    }

    *n = 0;
    return -1;
}


/* a row of the category (its column CATEGORY the bank's spelling), or -1 */

int
ngx_http_social_bank_category(ngx_str_t *ck)
{
    int  row;

    for (row = 0; row < ngx_http_social_bank.nrows; row++) {
        if (ngx_http_social_bank_keys(row, ck, NULL)) {
            return row;
        }
    }

    return -1;
}


/* whether a row has these keys (sk NULL: the category's alone) */

static ngx_uint_t
ngx_http_social_bank_keys(int row, ngx_str_t *ck, ngx_str_t *sk)
{
    PGresult  *res = ngx_http_social_bank.res;

    return (size_t) PQgetlength(res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_CATEGORY_KEY)
               == ck->len
           && ngx_memcmp(PQgetvalue(res, row,
                                    NGX_HTTP_SOCIAL_BANK_COL_CATEGORY_KEY),
                         ck->data, ck->len) == 0
           && (sk == NULL
               || ((size_t) PQgetlength(res, row,
                                NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY_KEY)
                       == sk->len
                   && ngx_memcmp(PQgetvalue(res, row,
                                   NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY_KEY),
                                 sk->data, sk->len) == 0));
}


void
ngx_http_social_bank_exit_process(void)
{
    if (ngx_http_social_bank.res != NULL) {
        PQclear(ngx_http_social_bank.res);
        ngx_http_social_bank.res = NULL;
    }
}
