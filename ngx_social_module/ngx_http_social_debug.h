
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The test-only endpoints of ngx_http_social_debug.c.  Only the test build
 * (util/build test or asan, which define NGX_HTTP_SOCIAL_TEST) compiles that
 * file, and only it offers these endpoints to "social_endpoint".
 */


#ifndef _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_


#include "ngx_http_social_module.h"


extern ngx_http_social_endpoint_t  ngx_http_social_debug_endpoints[];


#endif /* _NGX_HTTP_SOCIAL_DEBUG_H_INCLUDED_ */
