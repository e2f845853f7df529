
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A user's counts of followers, following and posts without counting
 * (sql/011_user_counts.sql, DESIGN.md "Counts without counting"): how the
 * statements of a user read them, and the compaction job
 * (ngx_http_social_counts.c).
 */


#ifndef _NGX_HTTP_SOCIAL_COUNTS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_COUNTS_H_INCLUDED_


#include "ngx_http_social_module.h"


/*
 * SQL: the counts of the user row "u" as three columns (followers,
 * following, posts): its compacted totals (c) and the sum of its deltas
 * not compacted yet (d), in the statement's one snapshot, so exact;
 * NGX_HTTP_SOCIAL_SQL_COUNTS_FROM joins c and d to u.  Two index probes,
 * whatever the counts are.
 */

#define NGX_HTTP_SOCIAL_SQL_COUNTS                                           \
    "coalesce(c.followers, 0) + coalesce(d.followers, 0), "                  \
    "coalesce(c.following, 0) + coalesce(d.following, 0), "                  \
    "coalesce(c.posts, 0) + coalesce(d.posts, 0)"

#define NGX_HTTP_SOCIAL_SQL_COUNTS_FROM                                      \
    " LEFT JOIN user_counts c ON c.user_id = u.user_id "                     \
    " CROSS JOIN LATERAL (SELECT sum(x.followers) AS followers, "            \
    "                            sum(x.following) AS following, "            \
    "                            sum(x.posts) AS posts "                     \
    "                       FROM user_count_deltas x "                       \
    "                      WHERE x.user_id = u.user_id) d "


ngx_int_t ngx_http_social_counts_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_counts_exit_process(void);


#endif /* _NGX_HTTP_SOCIAL_COUNTS_H_INCLUDED_ */
