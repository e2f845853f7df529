
/*
 * Copyright (C) ngx_social developers
 */


/* The statements of GET /feed (_feed_sql.c) and the columns of their rows. */


#ifndef _NGX_HTTP_SOCIAL_FEED_SQL_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_FEED_SQL_H_INCLUDED_


#include "ngx_http_social_module.h"


/* the columns of the context: follows and blocks as array texts */

enum {
    NGX_HTTP_SOCIAL_FEED_CONTEXT_FOLLOWS = 0,
    NGX_HTTP_SOCIAL_FEED_CONTEXT_BLOCKS,
    NGX_HTTP_SOCIAL_FEED_CONTEXT_LAST,
    NGX_HTTP_SOCIAL_FEED_CONTEXT_OWN
};


/* the columns of a page's rows, the feed query's and the ids query's */

enum {
    NGX_HTTP_SOCIAL_FEED_COL_EVENT = 0,
    NGX_HTTP_SOCIAL_FEED_COL_TYPE,
    NGX_HTTP_SOCIAL_FEED_COL_CREATED_AT,
    NGX_HTTP_SOCIAL_FEED_COL_ACTOR,             /* user_id, username */
    NGX_HTTP_SOCIAL_FEED_COL_POST = NGX_HTTP_SOCIAL_FEED_COL_ACTOR + 2,
                                                /* 5: post_json() */
    NGX_HTTP_SOCIAL_FEED_COL_TARGET = NGX_HTTP_SOCIAL_FEED_COL_POST + 5,
                                                /* user_id, username */
    NGX_HTTP_SOCIAL_FEED_COL_HORIZON = NGX_HTTP_SOCIAL_FEED_COL_TARGET + 2
};


extern const char  ngx_http_social_sql_feed[];
extern const char  ngx_http_social_sql_feed_quiet[];
extern const char  ngx_http_social_sql_feed_context[];
extern const char  ngx_http_social_sql_feed_ids[];


#endif /* _NGX_HTTP_SOCIAL_FEED_SQL_H_INCLUDED_ */
