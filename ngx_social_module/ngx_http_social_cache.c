
/*
 * Copyright (C) ngx_social developers
 */


/*
 * nginx's own response cache in front of the group and feed reads (the
 * production configuration): the module gives the key its parts and the
 * answers their TTL, and moves the parts on, so that nothing is ever
 * purged and old entries age out.
 *
 * The key (proxy_cache_key in conf/social/public.conf) is the format
 * version and the zone's epoch, the URI, the reader and their role, and
 * generations kept in the shared zone (_shm.c):
 *
 *   $social_reader_gen  the reader's: moved by each write of theirs (a
 *                       reader sees their own writes at once);
 *   $social_user_gen    the path's user's (GET /group/{id}): moved by
 *                       their writes, by an admin's change of them, and
 *                       for every member of a group that a user left by
 *                       deleting themselves;
 *   $social_groups_gen, $social_feed_gen
 *                       moved by POST /admin/cache/evict.
 *
 * The generations of users are 65536 slots by the id's hash: a write
 * moves the slot of its users alone, so that it misses only their
 * answers (and those of the ids that share a slot).  The rest is the
 * TTL: the internal server's answers carry X-Accel-Expires, from the
 * directives social_group_cache_valid (60 s, at most 1 h) and
 * social_feed_cache_valid (2 s, at most 2 s: the API's bound for a
 * deleted post to leave every answer); an answer of n seconds is fresh
 * between n - 1 and n seconds (nginx counts whole seconds; 1 s: up to
 * 2 s).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_shm.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_access.h"


/* the body's format: a change of what the answers hold moves it on */
#define NGX_HTTP_SOCIAL_CACHE_FORMAT  "1"


static ngx_int_t ngx_http_social_cache_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_social_cache_gen_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_social_cache_number(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_atomic_uint_t n);


enum {
    NGX_HTTP_SOCIAL_CACHE_READER_GEN = 0,
    NGX_HTTP_SOCIAL_CACHE_USER_GEN,
    NGX_HTTP_SOCIAL_CACHE_GROUPS_GEN,
    NGX_HTTP_SOCIAL_CACHE_FEED_GEN
};


static ngx_http_variable_t  ngx_http_social_cache_vars[] = {

    { ngx_string("social_cache_version"), NULL,
      ngx_http_social_cache_version_variable, 0, 0, 0 },

    { ngx_string("social_reader_gen"), NULL,
      ngx_http_social_cache_gen_variable, NGX_HTTP_SOCIAL_CACHE_READER_GEN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("social_user_gen"), NULL,
      ngx_http_social_cache_gen_variable, NGX_HTTP_SOCIAL_CACHE_USER_GEN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("social_groups_gen"), NULL,
      ngx_http_social_cache_gen_variable, NGX_HTTP_SOCIAL_CACHE_GROUPS_GEN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("social_feed_gen"), NULL,
      ngx_http_social_cache_gen_variable, NGX_HTTP_SOCIAL_CACHE_FEED_GEN,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_social_cache_variables(ngx_conf_t *cf)
{
    return ngx_http_social_variables_add(cf, ngx_http_social_cache_vars);
}


/*
 * "<format>.<epoch>": an upgrade or a restart never meets older entries;
 * written once a process (again only if the zone's epoch changed)
 */

static ngx_int_t
ngx_http_social_cache_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_atomic_uint_t  epoch;

    static size_t             len;
    static ngx_atomic_uint_t  made;
    static u_char             text[sizeof(NGX_HTTP_SOCIAL_CACHE_FORMAT ".")
                                   + NGX_ATOMIC_T_LEN];

    epoch = ngx_http_social_shm ? ngx_http_social_shm->epoch : 0;

    if (len == 0 || made != epoch) {
        len = ngx_sprintf(text, NGX_HTTP_SOCIAL_CACHE_FORMAT ".%uA", epoch)
              - text;
        made = epoch;
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = text;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_cache_gen_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    int64_t     id;
    ngx_uint_t  admin;

    if (ngx_http_social_shm == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_SOCIAL_CACHE_READER_GEN:
        if (ngx_http_social_access_reader(r, &id, &admin) != NGX_OK) {
            v->not_found = 1;
            return NGX_OK;
        }

        return ngx_http_social_cache_number(r, v,
                                            ngx_http_social_shm_gen(id));

    case NGX_HTTP_SOCIAL_CACHE_USER_GEN:

        /* the location's first capture: the path's id */

        if (r->ncaptures < 4 || r->captures == NULL
            || ngx_http_social_parse_id(r->captures_data + r->captures[2],
                                        r->captures[3] - r->captures[2], &id)
               != NGX_OK)
        {
            v->not_found = 1;
            return NGX_OK;
        }

        return ngx_http_social_cache_number(r, v,
                                            ngx_http_social_shm_gen(id));

    case NGX_HTTP_SOCIAL_CACHE_GROUPS_GEN:
        return ngx_http_social_cache_number(r, v,
                                           ngx_http_social_shm->groups_gen);

    default: /* NGX_HTTP_SOCIAL_CACHE_FEED_GEN */
        return ngx_http_social_cache_number(r, v,
                                            ngx_http_social_shm->feed_gen);
    }
}


static ngx_int_t
ngx_http_social_cache_number(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, ngx_atomic_uint_t n)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_ATOMIC_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uA", n) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/*
 * an answer of the internal server that the cache keeps: its TTL, from
 * the directive of what it is, and counted for an eviction
 */

ngx_int_t
ngx_http_social_cache_ttl(ngx_http_social_ctx_t *ctx, ngx_uint_t status)
{
    u_char                      *p;
    time_t                       ttl;
    ngx_str_t                    value;
    ngx_uint_t                   what;
    ngx_http_request_t          *r;
    ngx_http_social_loc_conf_t  *slcf;

    r = ctx->request;
    what = ctx->endpoint ? ctx->endpoint->cached : 0;

    if (status != NGX_HTTP_OK || what == 0 || r == NULL) {
        return NGX_OK;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

    if (!slcf->internal) {
        return NGX_OK;
    }

    ttl = (what == NGX_HTTP_SOCIAL_CACHED_GROUP)
          ? ctx->smcf->group_cache_valid : ctx->smcf->feed_cache_valid;

    if (ttl <= 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    /*
     * nginx's cache counts whole seconds: an answer of n seconds, stored
     * within a second, is fresh until the end of the n-th second after
     * it, so n - 1 keeps it at most the directive's time (1 s cannot be
     * kept less than 2)
     */

    value.data = p;
    value.len = ngx_sprintf(p, "%T", ttl > 1 ? ttl - 1 : 1) - p;

    if (ngx_http_social_add_header(r, "X-Accel-Expires", &value) != NGX_OK) {
        return NGX_ERROR;
    }

    if (r->method != NGX_HTTP_HEAD) {
        ngx_http_social_shm_stored(what, ttl);
    }

    return NGX_OK;
}


/*
 * a write answered with success: the writer's generation moves on, and
 * the path's user's when the path names one (PUT /user/{id} by an admin,
 * a role, a follow, a block)
 */

void
ngx_http_social_cache_written(ngx_http_social_ctx_t *ctx, ngx_uint_t status)
{
    int64_t              id;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r == NULL || status < 200 || status >= 300 || ctx->user_id == 0
        || !(r->method & (NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE
                          |NGX_HTTP_PATCH)))
    {
        return;
    }

    ngx_http_social_shm_bump(ctx->user_id);

    if (ctx->endpoint
        && (ctx->endpoint->flags & NGX_HTTP_SOCIAL_USER_PATH)
        && ngx_http_social_path_id(ctx, &id) == NGX_OK
        && id != ctx->user_id)
    {
        ngx_http_social_shm_bump(id);
    }
}


/* the members of a group, a PostgreSQL array text: each one's answers */

void
ngx_http_social_cache_members(const char *array)
{
    int64_t      id;
    const char  *p;

    id = 0;

    for (p = array; *p; p++) {
        if (*p >= '0' && *p <= '9' && id < INT64_MAX / 10 - 10) {
            id = id * 10 + (*p - '0');
            continue;
        }

        ngx_http_social_shm_bump(id);
        id = 0;
    }
}


/* POST /admin/cache/evict: the cached answers of the scope invalidated */

ngx_uint_t
ngx_http_social_cache_evict(ngx_uint_t groups, ngx_uint_t feed)
{
    ngx_uint_t  n;

    n = 0;

    if (groups) {
        n += ngx_http_social_shm_evict(NGX_HTTP_SOCIAL_CACHED_GROUP);
    }

    if (feed) {
        n += ngx_http_social_shm_evict(NGX_HTTP_SOCIAL_CACHED_FEED);
    }

    return n;
}
