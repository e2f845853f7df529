
/*
 * Copyright (C) ngx_social developers
 */


/*
 * JSON: generation (_json.c), the parsed view and its validation
 * (_json_parse.c, pure), the bridge from PostgreSQL results (_json_pg.c).
 * Everything lives in a pool; nothing here sends an answer.
 */


#ifndef _NGX_HTTP_SOCIAL_JSON_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_JSON_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"

#include <libpq-fe.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>


#define NGX_HTTP_SOCIAL_JSON_NULL      0
#define NGX_HTTP_SOCIAL_JSON_BOOLEAN   1
#define NGX_HTTP_SOCIAL_JSON_INTEGER   2
#define NGX_HTTP_SOCIAL_JSON_NUMBER    3
#define NGX_HTTP_SOCIAL_JSON_STRING    4
#define NGX_HTTP_SOCIAL_JSON_ARRAY     5
#define NGX_HTTP_SOCIAL_JSON_OBJECT    6


/* a parsed JSON value: children are linked in document order */

struct ngx_http_social_json_s {
    ngx_uint_t                      type;
    ngx_str_t                       key;        /* as an object member */
    ngx_str_t                       str;        /* a string, a number */
    int64_t                         integer;    /* an integer, a boolean */
    ngx_uint_t                      nelts;
    ngx_http_social_json_t         *first;
    ngx_http_social_json_t         *last;
    ngx_http_social_json_t         *next;
    ngx_http_social_json_t         *parent;
    unsigned                        big:1;      /* beyond 64 bits */
};


/* ngx_http_social_json.c: generation */
void ngx_http_social_json_alloc(yajl_alloc_funcs *af, ngx_pool_t *pool);
yajl_gen ngx_http_social_json_gen(ngx_pool_t *pool);
void ngx_http_social_json_str(yajl_gen g, const char *s);
void ngx_http_social_json_kv(yajl_gen g, const char *key, const char *value);
size_t ngx_http_social_json_quoted_len(const u_char *p, size_t len);
u_char *ngx_http_social_json_quote(u_char *dst, const u_char *p, size_t len);

/*
 * ngx_http_social_json_parse.c: the view and the typed reads; a read
 * returns NGX_OK with the value, NGX_DECLINED when the member is absent
 * (or null), NGX_ERROR with the fault noted (ngx_http_social_note_invalid)
 */
ngx_int_t ngx_http_social_json_parse(ngx_pool_t *pool, u_char *text,
    size_t len, ngx_http_social_json_t **root);
ngx_http_social_json_t *ngx_http_social_json_get(ngx_http_social_json_t *obj,
    const char *key);
ngx_int_t ngx_http_social_json_id(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, int64_t *id);
ngx_int_t ngx_http_social_json_string(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t min, size_t max,
    ngx_str_t *value);
ngx_int_t ngx_http_social_json_text(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *v, const char *field, size_t min, size_t max,
    ngx_str_t *value);
ngx_int_t ngx_http_social_json_content(ngx_http_social_ctx_t *ctx,
    ngx_http_social_json_t *obj, const char *key, size_t max,
    ngx_str_t *value);
const char *ngx_http_social_json_path(ngx_http_social_ctx_t *ctx,
    const char *base, ngx_uint_t index, const char *member);
ngx_int_t ngx_http_social_note_invalid(ngx_http_social_ctx_t *ctx,
    const char *field, const char *what);

/* ngx_http_social_json_pg.c: from PostgreSQL */
void ngx_http_social_json_raw(yajl_gen g, const char *json, size_t len);
void ngx_http_social_json_pg(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t type);


#endif /* _NGX_HTTP_SOCIAL_JSON_H_INCLUDED_ */
