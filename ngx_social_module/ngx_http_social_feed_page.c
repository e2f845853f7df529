
/*
 * Copyright (C) ngx_social developers
 */


/*
 * A page of GET /feed from the recent set's reply (step 4 of _feed.c).
 *
 * The reply's events are split once, into an array of the request's pool,
 * and each member is checked to be as the module writes it
 * (ngx_http_social_feed_events()); a member that is not sends the page to
 * PostgreSQL.  With every object cached, the page is written from the
 * array straight into one buffer (ngx_http_social_feed_page()): the
 * members' fields need no escaping, and the objects are JSON as the module
 * cached them, so the bytes are those a generator would write.  Else the
 * events' ids go to PostgreSQL as an array (ngx_http_social_feed_ids()).
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_feed_page.h"


#define NGX_HTTP_SOCIAL_FEED_JSON_EVENT                                      \
    "{\"event_id\":,\"type\":\"\",\"created_at\":\"\",\"actor\":,"            \
    "\"post\":,\"target\":},"


static ngx_int_t ngx_http_social_feed_split(redisReply *member,
    ngx_str_t *fields);
static ngx_uint_t ngx_http_social_feed_plain(ngx_uint_t field, u_char c);


/*
 * the reply's n events, from el on; NGX_DECLINED and the first bad one's
 * index when a member is not as written
 */

ngx_int_t
ngx_http_social_feed_events(ngx_pool_t *pool, redisReply **el, ngx_uint_t n,
    ngx_http_social_feed_event_t **events, ngx_uint_t *bad)
{
    ngx_uint_t                     i;
    ngx_http_social_feed_event_t  *ev;

    ev = ngx_palloc(pool, (n ? n : 1) * sizeof(ngx_http_social_feed_event_t));
    if (ev == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++, el += NGX_HTTP_SOCIAL_FEED_EVENT_SIZE) {
        if (ngx_http_social_feed_split(el[NGX_HTTP_SOCIAL_FEED_EVENT_MEMBER],
                                       ev[i].field)
            != NGX_OK)
        {
            *bad = i;
            return NGX_DECLINED;
        }

        ev[i].post = el[NGX_HTTP_SOCIAL_FEED_EVENT_POST];
        ev[i].actor = el[NGX_HTTP_SOCIAL_FEED_EVENT_ACTOR];
        ev[i].target = el[NGX_HTTP_SOCIAL_FEED_EVENT_TARGET];
    }

    *events = ev;

    return NGX_OK;
}


/* whether an object of the events is not cached (its post or target 0) */

ngx_uint_t
ngx_http_social_feed_missing(ngx_http_social_feed_event_t *ev, ngx_uint_t n)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if ((ev[i].post->len == 0
             && ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_POST].data[0] != '0')
            || ev[i].actor->len == 0
            || (ev[i].target->len == 0
                && ev[i].field[NGX_HTTP_SOCIAL_FEED_MEMBER_TARGET].data[0]
                   != '0'))
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
ngx_http_social_feed_split(redisReply *member, ngx_str_t *fields)
{
    u_char      *p, *last, *c;
    ngx_uint_t   i;

    if (member->type != REDIS_REPLY_STRING) {
        return NGX_ERROR;
    }

    p = (u_char *) member->str;
    last = p + member->len;

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
               + ev[i].actor->len
               + (ev[i].post->len ? ev[i].post->len : sizeof("null") - 1)
               + (ev[i].target->len ? ev[i].target->len
                                    : sizeof("null") - 1);
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
        p = ngx_cpymem(p, ev[i].actor->str, ev[i].actor->len);
        p = ngx_cpymem(p, ",\"post\":", sizeof(",\"post\":") - 1);
        p = ev[i].post->len ? ngx_cpymem(p, ev[i].post->str, ev[i].post->len)
                            : ngx_cpymem(p, "null", sizeof("null") - 1);
        p = ngx_cpymem(p, ",\"target\":", sizeof(",\"target\":") - 1);
        p = ev[i].target->len
            ? ngx_cpymem(p, ev[i].target->str, ev[i].target->len)
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
