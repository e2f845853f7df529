
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The learners' error points (not the HTTP errors, which are
 * ngx_http_social_error() and its kin): what POST /errors
 * (ngx_http_social_points.c), the flush (_flush.c, _flush_rows.c), GET
 * /exercises and DELETE /user use of the point store, the Redis side
 * (ngx_http_social_point_store.c), and of the checks of what it holds
 * (ngx_http_social_points_check.c, pure).
 */


#ifndef _NGX_HTTP_SOCIAL_POINTS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_POINTS_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_pg.h"


/* the points of one POST /errors */
#define NGX_HTTP_SOCIAL_POINTS_MAX        50

/*
 * The point store's scripts name their keys themselves: they take none,
 * and their argv is "0", then ARGV[1], ARGV[2]...: slot n is ARGV[n]
 */
#define NGX_HTTP_SOCIAL_POINT_NO_KEYS     "0"

/* a point's random id: bytes (its text is their hex) */
#define NGX_HTTP_SOCIAL_POINT_ID_LEN      16

/* the latest utterances kept with a pending count */
#define NGX_HTTP_SOCIAL_POINT_LATEST      20

/* the characters of a category or a subcategory */
#define NGX_HTTP_SOCIAL_POINT_FIELD_MAX   64


/*
 * An utterance's owner entry in Redis lives this long (seconds): below the
 * hour of a deleted user's generation (NGX_HTTP_SOCIAL_GEN_TTL), which
 * makes the entries made before the delete unusable until they expire
 */
#define NGX_HTTP_SOCIAL_POINT_OWNER_TTL        1800
#define NGX_HTTP_SOCIAL_POINT_OWNER_TTL_TEXT   "1800"


/* a point as POST /errors took it */

typedef struct {
    ngx_str_t                       key;        /* ["cat","sub"] */
    ngx_str_t                       spelling;   /* ["Cat","Sub"] */
    ngx_str_t                       category;
    ngx_str_t                       subcategory;

    /* the write's (ngx_http_social_point_write.c) */
    u_char                         *fields;     /* "n", "s", "u" + key */
    ngx_str_t                       latest;     /* new, or "" if the same */
    ngx_uint_t                      spell;      /* unsigned:1 */
} ngx_http_social_point_t;


/*
 * What POST /errors asks the record script: whose the utterance is, from
 * its owner entry (owner 0) or as PostgreSQL said, and the ids to check
 */

typedef struct {
    int64_t                         utterance;
    int64_t                         reader;
    int64_t                         user;           /* the body's, or 0 */
    int64_t                         conversation;   /* the body's, or 0 */
    int64_t                         owner;          /* PostgreSQL's, or 0 */
    int64_t                         owner_conversation;
    int64_t                         rev;    /* the revocation records read */
    ngx_uint_t                      admin;          /* unsigned:1 */
} ngx_http_social_point_record_t;


/* the record script's replies (ngx_http_social_point_recorded()) */

#define NGX_HTTP_SOCIAL_POINT_RECORDED    0     /* the points are in */
#define NGX_HTTP_SOCIAL_POINT_ASK         1     /* PostgreSQL knows */
#define NGX_HTTP_SOCIAL_POINT_GONE        2     /* a deleted user's */
#define NGX_HTTP_SOCIAL_POINT_FORBIDDEN   3     /* another's */


/*
 * The cut's reply (ngx_http_social_point_cut()): the batch id
 * "<epoch>:<seq>", its rows (-1: they are not a list), 1 if it is new, 1
 * if a run failed on it
 */

enum {
    NGX_HTTP_SOCIAL_POINT_CUT_BATCH = 0,
    NGX_HTTP_SOCIAL_POINT_CUT_ROWS,
    NGX_HTTP_SOCIAL_POINT_CUT_FRESH,
    NGX_HTTP_SOCIAL_POINT_CUT_FAILED,
    NGX_HTTP_SOCIAL_POINT_CUT_REPLY
};


/*
 * A count waiting in Redis for a user: its spelling as first recorded,
 * its keys (the spelling in ASCII lower case, as social_key() makes
 * them), the count, its latest utterances ("12,9,4") and whether it is
 * the open batch's
 */

typedef struct {
    ngx_str_t                       category;
    ngx_str_t                       subcategory;
    ngx_str_t                       ck;
    ngx_str_t                       sk;
    int64_t                         n;
    ngx_str_t                       utterances;
    ngx_uint_t                      open;       /* unsigned:1 */
} ngx_http_social_point_count_t;


/*
 * What waits in Redis for a user, in the pool: the counts, the epoch and
 * the last seq of the cuts, the open batch's epoch and seq; "" for an
 * epoch and "0" for a seq that is none (or not as the cut writes it)
 */

typedef struct {
    ngx_http_social_point_count_t  *counts;
    ngx_uint_t                      ncounts;
    const char                     *epoch;
    const char                     *seq;
    const char                     *open_epoch;
    const char                     *open_seq;
    ngx_uint_t                      skipped;    /* counts not as written */
    redisReply                     *bad;        /* the first one's spelling */
} ngx_http_social_point_view_t;


/* a batch id "<epoch>:<seq>", or a part of one */

#define NGX_HTTP_SOCIAL_POINT_BATCH       0
#define NGX_HTTP_SOCIAL_POINT_EPOCH       1
#define NGX_HTTP_SOCIAL_POINT_SEQ         2


/* ngx_http_social_point_store.c */
ngx_int_t ngx_http_social_point_record(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_recorded(redisReply *reply, int64_t *n);
ngx_int_t ngx_http_social_point_row(ngx_pool_t *pool, int64_t user,
    int64_t utterance, ngx_http_social_point_t *point, int64_t ms,
    u_char *id, ngx_str_t *out);
void ngx_http_social_point_own(ngx_http_social_ctx_t *ctx,
    int64_t utterance, int64_t user, int64_t conversation);
void ngx_http_social_point_forget(ngx_http_social_ctx_t *ctx,
    int64_t user_id);
ngx_int_t ngx_http_social_point_view(ngx_http_social_ctx_t *ctx,
    int64_t user_id, ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_view_script(ngx_http_social_ctx_t *ctx,
    int64_t user_id, ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_view_read(ngx_pool_t *pool,
    redisReply *reply, ngx_http_social_point_view_t *view);
ngx_int_t ngx_http_social_point_cut(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_rows(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, ngx_uint_t from, ngx_uint_t to,
    ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_ack(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, ngx_http_social_redis_handler_pt handler);
void ngx_http_social_point_failed(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch);
ngx_int_t ngx_http_social_point_hold(ngx_http_social_ctx_t *ctx,
    ngx_str_t *batch, const char *why,
    ngx_http_social_redis_handler_pt handler);

/* ngx_http_social_point_write.c: the common case, without a script */
ngx_int_t ngx_http_social_point_read(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt owned_handler,
    ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_owned(redisReply *reply,
    ngx_http_social_point_record_t *rec);
ngx_int_t ngx_http_social_point_found(ngx_http_social_ctx_t *ctx,
    redisReply *reply, ngx_http_social_point_record_t *rec,
    ngx_http_social_point_t *points, ngx_uint_t n);
ngx_int_t ngx_http_social_point_write(ngx_http_social_ctx_t *ctx,
    ngx_http_social_point_record_t *rec, ngx_http_social_point_t *points,
    ngx_uint_t n, ngx_http_social_redis_handler_pt handler);
ngx_int_t ngx_http_social_point_written(redisReply *reply);
void ngx_http_social_point_respell(ngx_http_social_ctx_t *ctx,
    redisReply *reply, ngx_http_social_point_record_t *rec,
    ngx_http_social_point_t *points, ngx_uint_t n);
redisReply *ngx_http_social_point_error(redisReply *reply);

/* ngx_http_social_flush.c: the job that lands them in PostgreSQL */
ngx_int_t ngx_http_social_flush_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_flush_exit_process(void);

/* ngx_http_social_point_joint.c */
ngx_int_t ngx_http_social_point_join(ngx_http_social_ctx_t *ctx,
    ngx_http_social_redis_cmd_t *cmds, ngx_uint_t n, ngx_str_t *rows,
    ngx_uint_t nrows, ngx_str_t *user,
    ngx_http_social_redis_handler_pt handler);
void ngx_http_social_point_joint_exit_process(void);

/* ngx_http_social_points_check.c */
ngx_int_t ngx_http_social_point_item(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *item, ngx_uint_t i,
    ngx_http_social_point_t *point);
const char *ngx_http_social_point_row_check(u_char *row, size_t len);
const char *ngx_http_social_point_spelling_check(u_char *spelling,
    size_t len);
ngx_int_t ngx_http_social_point_spelling_read(u_char *spelling, size_t len,
    ngx_pool_t *pool, ngx_str_t *texts);
ngx_uint_t ngx_http_social_point_batch_check(u_char *p, size_t len,
    ngx_uint_t part);


#endif /* _NGX_HTTP_SOCIAL_POINTS_H_INCLUDED_ */
