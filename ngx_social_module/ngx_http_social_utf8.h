
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Text from outside (request bodies, tokens, what Redis holds) judged as
 * UTF-8: pure functions of the bytes, callable without a request, a
 * connection or the event loop, so that they can be fuzzed alone (they
 * use nothing of nginx but its types).
 */


#ifndef _NGX_HTTP_SOCIAL_UTF8_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_UTF8_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_int_t ngx_http_social_utf8_valid(const u_char *p, size_t len);
ngx_int_t ngx_http_social_utf8_json(const u_char *p, size_t len);


#endif /* _NGX_HTTP_SOCIAL_UTF8_H_INCLUDED_ */
