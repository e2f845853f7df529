
/*
 * Copyright (C) ngx_social developers
 */


#ifndef _NGX_HTTP_SOCIAL_EXERCISE_RANK_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_EXERCISE_RANK_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_points.h"

#include <libpq-fe.h>


/* the columns of the exercises statement */

enum {
    NGX_HTTP_SOCIAL_EXERCISES_COL_SOURCE = 0,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY_KEY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY_KEY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,     /* NULL: no spelling */
    NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
    NGX_HTTP_SOCIAL_EXERCISES_COL_COUNT,
    NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE,    /* one of the newest */
    NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT,      /* its text */
    NGX_HTTP_SOCIAL_EXERCISES_COL_OPEN_APPLIED,  /* the version's row: */
    NGX_HTTP_SOCIAL_EXERCISES_COL_LATER_APPLIED, /* "t" or "f" */
    NGX_HTTP_SOCIAL_EXERCISES_NCOLS
};


/*
 * The sources of a subcategory's counts, in the order they are taken
 * (the first spelling is theirs): PostgreSQL's total (a row for each of
 * its newest utterances, or one with none), what of it is counted in
 * Redis too (to be taken off), what waits in Redis (the open batch's,
 * then the user's).  The statement's row of the bank's version (its
 * count) says whether the open batch and a batch cut after the Redis
 * read are applied.
 */

#define NGX_HTTP_SOCIAL_EXERCISES_TOTAL     -1
#define NGX_HTTP_SOCIAL_EXERCISES_TWICE      0
#define NGX_HTTP_SOCIAL_EXERCISES_OPEN       1
#define NGX_HTTP_SOCIAL_EXERCISES_WAITING    2
#define NGX_HTTP_SOCIAL_EXERCISES_VERSION    3


/* one of the user's own utterances, as an answer may offer it */

typedef struct {
    int64_t                         id;
    ngx_str_t                       content;    /* .data NULL: not read */
} ngx_http_social_own_t;


/*
 * A focus subcategory: its keys and spellings, its frequency, its own
 * utterances (newest first, at most the limit), the bank's exercises of
 * it in the order this answer offers them, and its slots
 */

typedef struct {
    ngx_str_t                       ck;
    ngx_str_t                       sk;
    ngx_str_t                       category;
    ngx_str_t                       subcategory;
    int64_t                         frequency;
    ngx_http_social_own_t          *own;
    ngx_uint_t                      nown;
    int                            *bank;       /* the bank's rows, nbank */
    ngx_uint_t                      nbank;
    ngx_uint_t                      slots;
} ngx_http_social_focus_t;


int ngx_http_social_exercise_check(PGresult *res);
ngx_int_t ngx_http_social_exercise_rank(ngx_pool_t *pool, PGresult *res,
    int version, ngx_http_social_point_view_t *view, ngx_uint_t limit,
    ngx_http_social_focus_t *focus, ngx_uint_t *nfocus);
int64_t ngx_http_social_exercise_int(PGresult *res, int row, int col);
void ngx_http_social_exercise_str(PGresult *res, int row, int col,
    ngx_str_t *s);
ngx_int_t ngx_http_social_exercise_copy(ngx_pool_t *pool, PGresult *res,
    int row, int col, ngx_str_t *s);


#endif /* _NGX_HTTP_SOCIAL_EXERCISE_RANK_H_INCLUDED_ */
