
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The public server's token check, in the access phase: a location with
 * "social_access <endpoint>" answers that endpoint through another server
 * (the response cache in front of the internal one), and its token is
 * checked here, on every request, before the cache is looked at: a HIT
 * never skips it.  Its answers are the endpoint's own (405, 401, 503 with
 * Retry-After, JSON).  The reader is then the variables $social_reader
 * and $social_role, for the cache key, the limits and the header
 * X-Social-Reader that the internal server trusts (in its locations,
 * "social_internal on" makes the module take the reader from there
 * instead of a token).  Elsewhere, $social_reader is the id of a token
 * whose signature and claims hold (its generation unchecked): the key of
 * a limit, which runs before the access phase.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_args.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_auth.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_access.h"


static ngx_int_t ngx_http_social_access_handler(ngx_http_request_t *r);
static void ngx_http_social_access_authed(ngx_http_social_ctx_t *ctx);
static ngx_int_t ngx_http_social_access_answer(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_int_t ngx_http_social_reader_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_social_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_social_access_vars[] = {

    { ngx_string("social_reader"), NULL, ngx_http_social_reader_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("social_role"), NULL, ngx_http_social_role_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* social_access <endpoint>: the endpoint whose token this location checks */

char *
ngx_http_social_access(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_social_loc_conf_t  *slcf = conf;

    ngx_str_t                    *value;
    ngx_http_social_endpoint_t   *ep;
    ngx_http_social_main_conf_t  *smcf;

    if (slcf->access) {
        return "is duplicate";
    }

    if (slcf->endpoint) {
        return "cannot be used with \"social_endpoint\" in one location";
    }

    value = cf->args->elts;

    ep = ngx_http_social_endpoint_find(&value[1]);
    if (ep == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown endpoint \"%V\" in \"social_access\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    /* the reads that the response cache keeps, which write nothing */

    if (ep->cached == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"social_access\" takes an endpoint of the "
                           "response cache (group, feed), not \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    slcf->access = ep;
    slcf->metric = ngx_http_social_metrics_label(ep);

    if (ep->flags & NGX_HTTP_SOCIAL_AUTH) {
        smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_social_module);
        smcf->uses_tokens = 1;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_social_access_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_social_access_handler;

    return NGX_OK;
}


ngx_int_t
ngx_http_social_access_variables(ngx_conf_t *cf)
{
    return ngx_http_social_variables_add(cf, ngx_http_social_access_vars);
}


/* a table of variables, ended by ngx_http_null_variable (_cache.c too) */

ngx_int_t
ngx_http_social_variables_add(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * NGX_DECLINED: not a location of social_access; NGX_OK: the reader is
 * checked; NGX_AGAIN: a backend is asked, and the phases run again when
 * it answers; NGX_DONE: the request is answered (405, 401, 503)
 */

static ngx_int_t
ngx_http_social_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_social_ctx_t       *ctx;
    ngx_http_social_endpoint_t  *ep;
    ngx_http_social_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_social_module);

    ep = slcf->access;

    if (ep == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    if (ctx && ctx->access_asked) {
        if (!ctx->access_checked) {
            return NGX_AGAIN;
        }

        return ngx_http_social_access_answer(r, ctx->auth_status);
    }

    ctx = ngx_http_social_ctx_get(r, ep);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->access_asked = 1;

    if (!(r->method & ep->methods)) {
        ctx->access_checked = 1;
        return ngx_http_social_access_answer(r, NGX_HTTP_NOT_ALLOWED);
    }

    if (!(ep->flags & NGX_HTTP_SOCIAL_AUTH)) {
        ctx->access_checked = 1;
        return NGX_OK;
    }

    rc = ngx_http_social_auth_check(ctx, ngx_http_social_access_authed);

    if (rc == NGX_DONE) {
        return NGX_AGAIN;
    }

    ctx->access_checked = 1;
    ctx->auth_status = rc;

    return ngx_http_social_access_answer(r, rc);
}


/* the backend answered the token check: the phases go on */

static void
ngx_http_social_access_authed(ngx_http_social_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;      /* the phases may end and free the request */

    ctx->access_checked = 1;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_social_access_answer(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_social_ctx_t  *ctx;

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    /*
     * a body sent with the refused request is read and thrown away, as
     * nginx's own error pages do: left in the connection, it would be
     * taken for the next request
     */

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    if (rc == NGX_HTTP_NOT_ALLOWED) {
        rc = ngx_http_social_error(ctx, NGX_HTTP_NOT_ALLOWED,
                                   "method_not_allowed",
                                   "This method is not allowed here.", NULL);

    } else {
        rc = ngx_http_social_auth_error(ctx, rc);
    }

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/*
 * "social_internal on": the reader is what the public server set,
 * "<id> <role>"; without it, 401 (only the public server reaches here)
 */

ngx_int_t
ngx_http_social_access_trusted(ngx_http_social_ctx_t *ctx)
{
    u_char                     *p, *last, *start;
    ngx_str_t                   name = ngx_string("x_social_reader");
    ngx_http_variable_value_t   v;

    /* nginx's own lookup, as for $http_x_social_reader: twice is refused */

#if (nginx_version >= 1023000)
    if (ngx_http_variable_unknown_header(ctx->request, &v, &name,
                                         &ctx->request->headers_in.headers.part,
                                         0)
        != NGX_OK)
#else
    if (ngx_http_variable_unknown_header(&v, &name,
                                         &ctx->request->headers_in.headers.part,
                                         0)
        != NGX_OK)
#endif
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (v.not_found) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    p = v.data;
    last = p + v.len;

    start = p;

    while (p < last && *p != ' ') {
        p++;
    }

    if (ngx_http_social_parse_id(start, p - start, &ctx->user_id) != NGX_OK
        || p == last)
    {
        return NGX_HTTP_UNAUTHORIZED;
    }

    p++;

    if ((size_t) (last - p) == sizeof("admin") - 1
        && ngx_strncmp(p, "admin", sizeof("admin") - 1) == 0)
    {
        ctx->admin = 1;

    } else if ((size_t) (last - p) != sizeof("user") - 1
               || ngx_strncmp(p, "user", sizeof("user") - 1) != 0)
    {
        return NGX_HTTP_UNAUTHORIZED;
    }

    return NGX_OK;
}


/*
 * the reader: the one the access phase checked, else the one of a token
 * whose signature holds; NGX_DECLINED without a reader
 */

ngx_int_t
ngx_http_social_access_reader(ngx_http_request_t *r, int64_t *user_id,
    ngx_uint_t *admin)
{
    ngx_http_social_ctx_t     *ctx;
    ngx_http_social_claims_t   claims;

    ctx = ngx_http_get_module_ctx(r, ngx_http_social_module);

    if (ctx && ctx->access_checked) {
        if (ctx->auth_status != NGX_OK || ctx->user_id == 0) {
            return NGX_DECLINED;
        }

        *user_id = ctx->user_id;
        *admin = ctx->admin;

        return NGX_OK;
    }

    if (ngx_http_social_auth_claims(r, &claims) != NGX_OK) {
        return NGX_DECLINED;
    }

    *user_id = claims.user_id;
    *admin = claims.admin;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_reader_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    int64_t      id;
    ngx_uint_t   admin;

    if (ngx_http_social_access_reader(r, &id, &admin) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%L", id) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_role_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    int64_t     id;
    ngx_uint_t  admin;

    if (ngx_http_social_access_reader(r, &id, &admin) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) (admin ? "admin" : "user");
    v->len = admin ? sizeof("admin") - 1 : sizeof("user") - 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
