
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A page of GET /feed from the recent set (steps 3 and 4 of _feed.c).
 *
 * The function's events are split once, into an array of the request's
 * pool (their members copied there, since they outlive the function's
 * reply), and each member is checked to be as the module writes it
 * (ngx_http_social_feed_events()); a member that is not sends the page to
 * PostgreSQL.  Their objects' keys are built from the members' ids for
 * one MGET (ngx_http_social_feed_object_keys()), and its values are the
 * events' objects (ngx_http_social_feed_objects()).  With every object
 * cached, the page is written from the array straight into one buffer
 * (ngx_http_social_feed_page()): the members' fields need no escaping,
 * and the objects are JSON as the module cached them, so the bytes are
 * those a generator would write.  Else the events' ids go to PostgreSQL
 * as an array (ngx_http_social_feed_ids()).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_feed_page.h"
#include "ngx_http_social_keys.h"


#define NGX_HTTP_SOCIAL_FEED_JSON_EVENT                                      \
    "{\"event_id\":,\"type\":\"\",\"created_at\":\"\",\"actor\":,"            \
    "\"post\":,\"target\":},"


static ngx_int_t ngx_http_social_feed_split(u_char *p, size_t len,
    ngx_str_t *fields);
static void ngx_http_social_feed_value(redisReply *value, ngx_str_t *object);
static ngx_uint_t ngx_http_social_feed_plain(ngx_uint_t field, u_char c);


/*
 * the reply's n events, from el on; NGX_DECLINED and the first bad one's
 * index when a member is not as written
 */

ngx_int_t
ngx_http_social_feed_events(ngx_pool_t *pool, redisReply **el, ngx_uint_t n,
    ngx_http_social_feed_event_t **events, ngx_uint_t *bad)
{
    u_char                        *p;
    size_t                         len;
    ngx_uint_t                     i;
    ngx_http_social_feed_event_t  *ev;

    len = 0;

    for (i = 0; i < n; i++) {
        if (el[i]->type != REDIS_REPLY_STRING) {
            *bad = i;
            return NGX_DECLINED;
        }

        len += el[i]->len;
    }

    ev = ngx_pcalloc(pool, (n ? n : 1) * sizeof(ngx_http_social_feed_event_t));
    p = ngx_pnalloc(pool, len ? len : 1);

    if (ev == NULL || p == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        ngx_memcpy(p, el[i]->str, el[i]->len);

        if (ngx_http_social_feed_split(p, el[i]->len, ev[i].field)
            != NGX_OK)
        {
            *bad = i;
            return NGX_DECLINED;
        }

        /* "0": none (a post's event has no target, a follow's no post) */

        ev[i].has_post =
            !(ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_POST].len == 1
              && ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_POST].data[0] == '0');
        ev[i].has_target =
            !(ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_TARGET].len == 1
              && ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_TARGET].data[0]
                 == '0');

        p += el[i]->len;
    }

    *events = ev;

    return NGX_OK;
}


/*
 * the events' objects' keys, an MGET's arguments: for each event its
 * post's (if any), its actor's and its target's (if any)
 */

ngx_int_t
ngx_http_social_feed_object_keys(ngx_pool_t *pool,
    ngx_http_social_feed_event_t *ev, ngx_uint_t n, ngx_http_social_argv_t *a)
{
    u_char      *p, *key;
    ngx_str_t   *field;
    ngx_uint_t   i, slot;

    if (ngx_http_social_argv_create(a, pool, 1 + 3 * n) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pool, 3 * n * (ngx_max(sizeof(NGX_HTTP_SOCIAL_KEY_POST),
                                           sizeof(NGX_HTTP_SOCIAL_KEY_USER))
                                   + NGX_INT64_LEN));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_social_argv_set(a, 0, "MGET");
    slot = 1;

    for (i = 0; i < n; i++) {
        field = ev[i].field;

        if (ev[i].has_post) {
            key = p;
            p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_POST "%V",
                            &field[NGX_HTTP_SOCIAL_FEED_MEMBER_POST]);
            ngx_http_social_argv_set_len(a, slot++, (char *) key, p - key);
        }

        key = p;
        p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_USER "%V",
                        &field[NGX_HTTP_SOCIAL_FEED_MEMBER_ACTOR]);
        ngx_http_social_argv_set_len(a, slot++, (char *) key, p - key);

        if (ev[i].has_target) {
            key = p;
            p = ngx_sprintf(p, NGX_HTTP_SOCIAL_KEY_USER "%V",
                            &field[NGX_HTTP_SOCIAL_FEED_MEMBER_TARGET]);
            ngx_http_social_argv_set_len(a, slot++, (char *) key, p - key);
        }
    }

    return NGX_OK;
}


/*
 * the MGET's values as the events' objects, in the keys' order; NGX_ERROR
 * without a reply (Redis failed: said where it failed), NGX_DECLINED for
 * one that is not an answer to those keys (an error, another shape)
 */

ngx_int_t
ngx_http_social_feed_objects(ngx_http_social_feed_event_t *ev, ngx_uint_t n,
    redisReply *reply)
{
    ngx_uint_t    i, k;
    redisReply  **v;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type != REDIS_REPLY_ARRAY) {
        return NGX_DECLINED;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        k += 1 + ev[i].has_post + ev[i].has_target;
    }

    if (k != reply->elements) {
        return NGX_DECLINED;
    }

    v = reply->element;

    for (i = 0; i < n; i++) {
        if (ev[i].has_post) {
            ngx_http_social_feed_value(*v++, &ev[i].post);
        }

        ngx_http_social_feed_value(*v++, &ev[i].actor);

        if (ev[i].has_target) {
            ngx_http_social_feed_value(*v++, &ev[i].target);
        }
    }

    return NGX_OK;
}


/* a value of the MGET: a string, or not cached (nil, or anything else) */

static void
ngx_http_social_feed_value(redisReply *value, ngx_str_t *object)
{
    if (value->type == REDIS_REPLY_STRING) {
        object->data = (u_char *) value->str;
        object->len = value->len;

    } else {
        ngx_str_null(object);
    }
}


/* whether an object of the events is not cached */

ngx_uint_t
ngx_http_social_feed_missing(ngx_http_social_feed_event_t *ev, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if ((ev[i].has_post && ev[i].post.len == 0)
            || ev[i].actor.len == 0
            || (ev[i].has_target && ev[i].target.len == 0))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * a member of the set: id|type|actor|post|author|target|created_at, as the
 * module writes them: the ids at most 19 digits, the type lower case
 * letters, the time at most 32 of digits and "-:.TZ+" (none needs escaping
 * in JSON, and an id fits where an int64 does)
 */

static ngx_int_t
ngx_http_social_feed_split(u_char *p, size_t len, ngx_str_t *fields)
{
    u_char      *last, *c;
    ngx_uint_t   i;

    last = p + len;

    for (i = 0; i < NGX_HTTP_SOCIAL_FEED_MEMBER_FIELDS; i++) {
        fields[i].data = p;

        if (i + 1 < NGX_HTTP_SOCIAL_FEED_MEMBER_FIELDS) {
            p = ngx_strlchr(p, last, '|');
            if (p == NULL) {
                return NGX_ERROR;
            }

        } else {
            p = last;
        }

        fields[i].len = p - fields[i].data;

        if (fields[i].len == 0
            || fields[i].len > ((i == NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT)
                                ? 32 : NGX_INT64_LEN - 1))
        {
            return NGX_ERROR;
        }

        for (c = fields[i].data; c < p; c++) {
            if (!ngx_http_social_feed_plain(i, *c)) {
                return NGX_ERROR;
            }
        }

        p++;
    }

    return NGX_OK;
}


/* a character of a member's field, as the module writes that field */

static ngx_uint_t
ngx_http_social_feed_plain(ngx_uint_t field, u_char c)
{
    if (c >= '0' && c <= '9') {
        return field != NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE;
    }

    switch (field) {

    case NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE:
        return c >= 'a' && c <= 'z';

    case NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT:
        return c == '-' || c == ':' || c == '.' || c == 'T' || c == 'Z'
               || c == '+';

    default:
        return 0;
    }
}


/*
 * the page of n events, every object cached, and the cursor after it
 * (empty: none), written into one buffer of its size
 */

ngx_int_t
ngx_http_social_feed_page(ngx_pool_t *pool, ngx_http_social_feed_event_t *ev,
    ngx_uint_t n, ngx_str_t *cursor, ngx_str_t *body)
{
    u_char      *p, *last;
    size_t       len;
    ngx_str_t   *field;
    ngx_uint_t   i;

    len = sizeof("{\"events\":[],\"next\":null}") - 1 + cursor->len;

    for (i = 0; i < n; i++) {
        field = ev[i].field;

        len += sizeof(NGX_HTTP_SOCIAL_FEED_JSON_EVENT) - 1
               + field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID].len
               + field[NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE].len
               + field[NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT].len
               + ev[i].actor.len
               + (ev[i].post.len ? ev[i].post.len : sizeof("null") - 1)
               + (ev[i].target.len ? ev[i].target.len : sizeof("null") - 1);
    }

    body->data = ngx_pnalloc(pool, len);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(body->data, "{\"events\":[", sizeof("{\"events\":[") - 1);
    last = p;

    for (i = 0; i < n; i++) {
        field = ev[i].field;

        p = ngx_cpymem(p, "{\"event_id\":", sizeof("{\"event_id\":") - 1);
        p = ngx_cpymem(p, field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID].data,
                       field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID].len);
        p = ngx_cpymem(p, ",\"type\":\"", sizeof(",\"type\":\"") - 1);
        p = ngx_cpymem(p, field[NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE].data,
                       field[NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE].len);
        p = ngx_cpymem(p, "\",\"created_at\":\"",
                       sizeof("\",\"created_at\":\"") - 1);
        p = ngx_cpymem(p, field[NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT].data,
                       field[NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT].len);
        p = ngx_cpymem(p, "\",\"actor\":", sizeof("\",\"actor\":") - 1);
        p = ngx_cpymem(p, ev[i].actor.data, ev[i].actor.len);
        p = ngx_cpymem(p, ",\"post\":", sizeof(",\"post\":") - 1);
        p = ev[i].post.len ? ngx_cpymem(p, ev[i].post.data, ev[i].post.len)
                           : ngx_cpymem(p, "null", sizeof("null") - 1);
        p = ngx_cpymem(p, ",\"target\":", sizeof(",\"target\":") - 1);
        p = ev[i].target.len
            ? ngx_cpymem(p, ev[i].target.data, ev[i].target.len)
            : ngx_cpymem(p, "null", sizeof("null") - 1);
        *p++ = '}';
        last = p;
        *p++ = ',';
    }

    /* the last event's comma, if any, is where the array closes */

    p = ngx_cpymem(last, "],\"next\":", sizeof("],\"next\":") - 1);

    if (cursor->len) {
        *p++ = '"';
        p = ngx_cpymem(p, cursor->data, cursor->len);
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, "null", sizeof("null") - 1);
    }

    *p++ = '}';

    body->len = p - body->data;

    return NGX_OK;
}


/* the events' ids as a PostgreSQL array, "{1,2,3}" */

u_char *
ngx_http_social_feed_ids(ngx_pool_t *pool, ngx_http_social_feed_event_t *ev,
    ngx_uint_t n)
{
    u_char      *ids, *p;
    ngx_uint_t   i;

    ids = ngx_pnalloc(pool, n * (NGX_INT64_LEN + 1) + 3);
    if (ids == NULL) {
        return NULL;
    }

    p = ids;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID].data,
                       ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_ID].len);

        if (i + 1 < n) {
            *p++ = ',';
        }
    }

    *p++ = '}';
    *p = '\0';

    return ids;
}
