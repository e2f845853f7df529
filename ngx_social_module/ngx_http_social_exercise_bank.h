
/*
 * Copyright (C) ngx_social developers
 */


#ifndef _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_


#include "ngx_http_social_module.h"

#include <libpq-fe.h>


/* the columns of the bank's rows (ngx_http_social_sql_bank) */

enum {
    NGX_HTTP_SOCIAL_BANK_COL_VERSION = 0,
    NGX_HTTP_SOCIAL_BANK_COL_ID,                /* NULL: an empty bank */
    NGX_HTTP_SOCIAL_BANK_COL_CATEGORY_KEY,
    NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY_KEY,
    NGX_HTTP_SOCIAL_BANK_COL_CATEGORY,          /* the first spelling */
    NGX_HTTP_SOCIAL_BANK_COL_SUBCATEGORY,       /* of the keys */
    NGX_HTTP_SOCIAL_BANK_COL_TYPE,
    NGX_HTTP_SOCIAL_BANK_COL_PROMPT,
    NGX_HTTP_SOCIAL_BANK_COL_CHOICES,           /* JSON, or NULL */
    NGX_HTTP_SOCIAL_BANK_COL_ANSWER,
    NGX_HTTP_SOCIAL_BANK_NCOLS
};


/* the statement that reads the bank, and its version, whole */
extern const char  ngx_http_social_sql_bank[];

ngx_int_t ngx_http_social_bank_current(int64_t version);
ngx_int_t ngx_http_social_bank_set(PGresult *res, ngx_log_t *log);
PGresult *ngx_http_social_bank_rows(void);
int ngx_http_social_bank_find(ngx_str_t *ck, ngx_str_t *sk, ngx_uint_t *n);
int ngx_http_social_bank_category(ngx_str_t *ck);
void ngx_http_social_bank_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_ */
