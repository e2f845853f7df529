
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The directives whose values need parsing, checked once at
 * configuration: the PostgreSQL connection string, the Redis address, the
 * token key, the group threshold.  The rest use nginx's stock setters
 * (_module.c).
 */


#include "ngx_http_social_module.h"

#include <libpq-fe.h>


static char *ngx_http_social_check_conninfo(ngx_conf_t *cf,
    ngx_str_t *conninfo);


char *
ngx_http_social_conf_postgres(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    ngx_str_t  *value;

    if (smcf->pg_conninfo.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_social_check_conninfo(cf, &value[1]) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    smcf->pg_conninfo = value[1];

    return NGX_CONF_OK;
}


static char *
ngx_http_social_check_conninfo(ngx_conf_t *cf, ngx_str_t *conninfo)
{
    char                     *err, *s;
    ngx_str_t                 host;
    ngx_uint_t                numeric;
    PQconninfoOption         *opts, *o;
    struct sockaddr_storage   sa;

    s = ngx_pnalloc(cf->pool, conninfo->len + 1);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    (void) ngx_cpystrn((u_char *) s, conninfo->data, conninfo->len + 1);

    err = NULL;
    opts = PQconninfoParse(s, &err);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid connection string in \"social_postgres\""
                           ": %s", err ? err : "out of memory");
        if (err) {
            PQfreemem(err);
        }

        return NGX_CONF_ERROR;
    }

    /*
     * libpq resolves a host name with a blocking getaddrinfo() inside
     * PQconnectPoll(): only numeric addresses and unix sockets are accepted
     */

    numeric = 1;

    for (o = opts; o->keyword; o++) {

        if (ngx_strcmp(o->keyword, "hostaddr") == 0 && o->val && o->val[0]) {
            numeric = 2;
            break;
        }

        if (ngx_strcmp(o->keyword, "host") != 0 || o->val == NULL) {
            continue;
        }

        host.data = (u_char *) o->val;
        host.len = ngx_strlen(o->val);

        if (host.len == 0 || host.data[0] == '/') {
            continue;
        }

        if (ngx_strlchr(host.data, host.data + host.len, ',') != NULL
            || (inet_pton(AF_INET, o->val, &sa) != 1
                && inet_pton(AF_INET6, o->val, &sa) != 1))
        {
            numeric = 0;
        }
    }

    PQconninfoFree(opts);

    if (numeric == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"social_postgres\" needs a numeric host "
                           "address or a unix socket directory (a host "
                           "name would block the worker while it resolves)");
        return NGX_CONF_ERROR;
    }

    conninfo->data = (u_char *) s;

    return NGX_CONF_OK;
}


/* the HS256 key: at least 32 bytes, read once, at configuration */

char *
ngx_http_social_conf_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value, name;
    ngx_file_info_t   fi;

    if (smcf->jwt_key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"social_jwt_key_file\" cannot open \"%V\"",
                           &name);
        return NGX_CONF_ERROR;
    }

    buf = NULL;
    n = -1;

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && ngx_file_size(&fi) >= 32 && ngx_file_size(&fi) <= 4096)
    {
        buf = ngx_pnalloc(cf->pool, ngx_file_size(&fi));
        if (buf) {
            n = ngx_read_fd(fd, buf, ngx_file_size(&fi));
        }
    }

    ngx_close_file(fd);

    if (buf == NULL || n < 32) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"social_jwt_key_file\" \"%V\" must hold a key "
                           "of 32 to 4096 bytes", &name);
        return NGX_CONF_ERROR;
    }

    smcf->jwt_key.data = buf;
    smcf->jwt_key.len = n;

    return NGX_CONF_OK;
}


/* a number in (0, 1], kept as text: it is a parameter of the queries */

char *
ngx_http_social_conf_threshold(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (smcf->group_threshold.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atofp(value[1].data, value[1].len, 6);

    if (n <= 0 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"social_group_threshold\" must be a number "
                           "above 0 and at most 1, not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    smcf->group_threshold.data = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (smcf->group_threshold.data == NULL) {
        return NGX_CONF_ERROR;
    }

    *ngx_cpymem(smcf->group_threshold.data, value[1].data, value[1].len)
        = '\0';
    smcf->group_threshold.len = value[1].len;

    return NGX_CONF_OK;
}


/* social_signin_throttle [free=N] [window=time] [max=time] | off */

char *
ngx_http_social_conf_signin_throttle(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value, v;
    ngx_uint_t   i;

    if (smcf->signin_free != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* off: no wait, and nothing counted */

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        smcf->signin_free = 0;
        smcf->signin_window = 1;
        smcf->signin_max_delay = 0;
        return NGX_CONF_OK;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "free=", 5) == 0) {
            n = ngx_atoi(value[i].data + 5, value[i].len - 5);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            smcf->signin_free = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            smcf->signin_window = ngx_parse_time(&v, 0);
            if (smcf->signin_window == (ngx_msec_t) NGX_ERROR
                || smcf->signin_window == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            v.data = value[i].data + 4;
            v.len = value[i].len - 4;

            smcf->signin_max_delay = ngx_parse_time(&v, 0);
            if (smcf->signin_max_delay == (ngx_msec_t) NGX_ERROR) {
                goto invalid;
            }

            continue;
        }

        goto invalid;
    }

    if (smcf->signin_free == NGX_CONF_UNSET_UINT) {
        smcf->signin_free = 5;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


char *
ngx_http_social_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_social_main_conf_t  *smcf = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_url_t   u;

    if (smcf->redis_addr.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.no_resolve = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid address \"%V\" in \"social_redis\": %s",
                           &value[1], u.err ? u.err : "bad address");
        return NGX_CONF_ERROR;
    }

    if (u.family == AF_UNIX) {
        /* "unix:/path": hiredis wants the path, NUL-terminated */
        smcf->redis_unix = 1;
        smcf->redis_host.len = value[1].len - 5;

    } else {
        if (u.no_port || u.naddrs != 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"social_redis\" needs a numeric address "
                               "and a port, like 127.0.0.1:6379, "
                               "or unix:/path, not \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        smcf->redis_port = u.port;
        smcf->redis_host.len = u.host.len;
    }

    p = ngx_pnalloc(cf->pool, smcf->redis_host.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    smcf->redis_host.data = p;

    if (smcf->redis_unix) {
        p = ngx_cpymem(p, value[1].data + 5, smcf->redis_host.len);

    } else {
        p = ngx_cpymem(p, u.host.data, u.host.len);
    }

    *p = '\0';

    smcf->redis_addr = value[1];

    return NGX_CONF_OK;
}
