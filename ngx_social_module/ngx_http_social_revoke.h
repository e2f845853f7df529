
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Revocation: what the module calls, and what the check (_revoke.c) and
 * the poll (_revoke_poll.c) share
 */


#ifndef _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/* the generation of a deleted user: no token carries it */
#define NGX_HTTP_SOCIAL_GEN_GONE           INT64_MAX
#define NGX_HTTP_SOCIAL_GEN_GONE_TEXT      "9223372036854775807"

/* Redis keeps a generation for an hour */
#define NGX_HTTP_SOCIAL_GEN_TTL            3600
#define NGX_HTTP_SOCIAL_GEN_TTL_TEXT       "3600"


/* what this worker has read of the log */

typedef struct {
    int64_t                         rev;        /* the last record read */
    ngx_msec_t                      current;    /* read to the counter by a
                                                   statement sent then */
    int64_t                         redis;      /* Redis was seen there */
    ngx_msec_t                      redis_seen;
    ngx_msec_t                      pruned;
    ngx_uint_t                      read;       /* unsigned:1 */
    ngx_uint_t                      polling;    /* unsigned:1 */
} ngx_http_social_revoke_log_t;


extern ngx_http_social_revoke_log_t  ngx_http_social_revoke_log;


/* ngx_http_social_revoke.c and _revoke_poll.c: for the module */
ngx_int_t ngx_http_social_revoke_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_revoke_exit_process(void);
ngx_int_t ngx_http_social_revoke_check(ngx_http_social_ctx_t *ctx);
void ngx_http_social_revoke_publish(ngx_http_social_ctx_t *ctx,
    int64_t user_id, int64_t gen, int64_t rev, ngx_http_social_step_pt next);
int64_t ngx_http_social_revoke_number(PGresult *res, int col);


/* ngx_http_social_revoke.c: the check and the worker's memory, shared */
void ngx_http_social_revoke_apply(PGresult *res, int64_t counter);
void ngx_http_social_revoke_forget(void);
int64_t ngx_http_social_revoke_int(const char *s, size_t len);

/* ngx_http_social_revoke_poll.c: the poll */
void ngx_http_social_revoke_poll_start(void);


#endif /* _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_ */
