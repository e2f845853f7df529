
/*
 * Copyright (C) ngx_social developers
 */


/* what the check (_revoke.c) and the poll (_revoke_poll.c) share */


#ifndef _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_


#include "ngx_http_social_module.h"


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


/* ngx_http_social_revoke.c: the check and the worker's memory */
void ngx_http_social_revoke_apply(PGresult *res, int64_t counter);
void ngx_http_social_revoke_forget(void);
int64_t ngx_http_social_revoke_int(const char *s, size_t len);

/* ngx_http_social_revoke_poll.c: the poll */
void ngx_http_social_revoke_poll_start(void);


#endif /* _NGX_HTTP_SOCIAL_REVOKE_H_INCLUDED_ */
