
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Writes that commit together: a write of a request goes into the
 * worker's next batch, and its handler runs with its own row once the
 * batch committed (or with NULL, ctx->backend_error saying why, as a
 * statement's handler of _pg.h).
 */


#ifndef _NGX_HTTP_SOCIAL_BATCH_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_BATCH_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_pg.h"


/*
 * kind: a write of social_write_batch() (migration 009); a and b its two
 * parameters, in the request's pool
 */
ngx_int_t ngx_http_social_batch_write(ngx_http_social_ctx_t *ctx,
    const char *kind, const char *a, const char *b,
    ngx_http_social_pg_handler_pt handler);
void ngx_http_social_batch_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_BATCH_H_INCLUDED_ */
