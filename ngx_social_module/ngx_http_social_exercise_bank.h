
/*
 * Copyright (C) ngx_social developers
 */


#ifndef _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_


#include "ngx_http_social_module.h"

#include <libpq-fe.h>


/* an exercise of the bank, as GET /exercises answers it */

typedef struct {
    int64_t                         id;
    ngx_str_t                       category_key;
    ngx_str_t                       subcategory_key;
    ngx_str_t                       category;       /* the first spelling */
    ngx_str_t                       subcategory;    /* of the keys */
    ngx_str_t                       type;
    ngx_str_t                       prompt;
    ngx_str_t                       choices;        /* JSON; len 0: null */
    ngx_str_t                       answer;
} ngx_http_social_bank_exercise_t;


/* the statement that reads the bank, and its version, whole */
extern const char  ngx_http_social_sql_bank[];

ngx_int_t ngx_http_social_bank_current(int64_t version);
ngx_int_t ngx_http_social_bank_set(PGresult *res, ngx_log_t *log);
ngx_http_social_bank_exercise_t *ngx_http_social_bank_find(ngx_str_t *ck,
    ngx_str_t *sk, ngx_uint_t *n);
ngx_str_t *ngx_http_social_bank_category(ngx_str_t *ck);
void ngx_http_social_bank_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_EXERCISE_BANK_H_INCLUDED_ */
