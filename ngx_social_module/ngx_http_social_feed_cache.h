
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The feed store, the Redis side of the feed (ngx_http_social_feed_cache.c):
 * what the endpoints that write events and GET /feed (_feed.c) use of it.
 * The layouts of the scripts that _feed.c calls are named here, slot by
 * slot, beside the scripts.  Its start and stop are the module's
 * (ngx_http_social_module.h).
 */


#ifndef _NGX_HTTP_SOCIAL_FEED_CACHE_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_FEED_CACHE_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_redis.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_keys.h"


/* a member of the set, "id|type|actor|post|author|target|created_at" */

enum {
    NGX_HTTP_SOCIAL_FEED_MEMBER_ID = 0,
    NGX_HTTP_SOCIAL_FEED_MEMBER_TYPE,
    NGX_HTTP_SOCIAL_FEED_MEMBER_ACTOR,
    NGX_HTTP_SOCIAL_FEED_MEMBER_POST,           /* 0: none */
    NGX_HTTP_SOCIAL_FEED_MEMBER_AUTHOR,         /* 0: none */
    NGX_HTTP_SOCIAL_FEED_MEMBER_TARGET,         /* 0: none */
    NGX_HTTP_SOCIAL_FEED_MEMBER_CREATED_AT,
    NGX_HTTP_SOCIAL_FEED_MEMBER_FIELDS
};


/*
 * The read scripts' arguments: KEYS recent, top, bottom, the reader's
 * context and generation; ARGV the cursor, the events wanted, how many it
 * may look at.  The known script (ngx_http_social_feed_known_script) takes
 * the context from Redis (unless told to read it again); the read script
 * from ARGV: how many of the ids
 * are followed (the reader first), the generation read before the context
 * and the reader's newest event (the context is kept when the generation
 * is still that), then those ids, then the ids in a block with the reader
 */

enum {
    NGX_HTTP_SOCIAL_FEED_READ_NKEYS = 0,
    NGX_HTTP_SOCIAL_FEED_READ_RECENT,
    NGX_HTTP_SOCIAL_FEED_READ_TOP,
    NGX_HTTP_SOCIAL_FEED_READ_BOTTOM,
    NGX_HTTP_SOCIAL_FEED_READ_CONTEXT,
    NGX_HTTP_SOCIAL_FEED_READ_RGEN,
    NGX_HTTP_SOCIAL_FEED_READ_BEFORE,
    NGX_HTTP_SOCIAL_FEED_READ_NEED,
    NGX_HTTP_SOCIAL_FEED_READ_CAP,
    NGX_HTTP_SOCIAL_FEED_READ_FORCE,            /* the known script's last:
                                                   "1", from PostgreSQL */
    NGX_HTTP_SOCIAL_FEED_READ_NFOLLOW = NGX_HTTP_SOCIAL_FEED_READ_FORCE,
    NGX_HTTP_SOCIAL_FEED_READ_GEN,
    NGX_HTTP_SOCIAL_FEED_READ_OWN,
    NGX_HTTP_SOCIAL_FEED_READ_READER,
    NGX_HTTP_SOCIAL_FEED_READ_FOLLOWED          /* then the blocks */
};

#define NGX_HTTP_SOCIAL_FEED_READ_NKEYS_TEXT  "5"

/*
 * how long a context is kept (ms), and a generation: longer, so that a
 * context never outlives the generation it was kept at
 */
#define NGX_HTTP_SOCIAL_FEED_CONTEXT_TTL_TEXT  "60000"
#define NGX_HTTP_SOCIAL_FEED_RGEN_TTL_TEXT     "3600000"


/*
 * Their reply: "ok" (or "short": the set holds fewer matching events than
 * wanted; "few": its actors' counts say so, and it was not walked; or
 * "stale": not to be trusted; or, of the known script, "context" and the
 * reader's generation: none kept, or of another generation), the objects'
 * generation, the set's top, the reader's newest event as the context
 * says, then each event's member (its objects are read next, by the
 * worker's MGET: ngx_http_social_feed.c)
 */

enum {
    NGX_HTTP_SOCIAL_FEED_REPLY_STATUS = 0,
    NGX_HTTP_SOCIAL_FEED_REPLY_OBJGEN,
    NGX_HTTP_SOCIAL_FEED_REPLY_TOP,
    NGX_HTTP_SOCIAL_FEED_REPLY_OWN,
    NGX_HTTP_SOCIAL_FEED_REPLY_EVENTS
};

#define NGX_HTTP_SOCIAL_FEED_REPLY_GEN  NGX_HTTP_SOCIAL_FEED_REPLY_OBJGEN

/*
 * The put script's arguments: KEYS objgen; ARGV the generation read with
 * the objects, their TTL in ms, then a key and its JSON for each object
 */

enum {
    NGX_HTTP_SOCIAL_FEED_PUT_NKEYS = 0,
    NGX_HTTP_SOCIAL_FEED_PUT_OBJGEN,
    NGX_HTTP_SOCIAL_FEED_PUT_GEN,
    NGX_HTTP_SOCIAL_FEED_PUT_TTL,
    NGX_HTTP_SOCIAL_FEED_PUT_OBJECTS
};

#define NGX_HTTP_SOCIAL_FEED_PUT_NKEYS_TEXT  "1"


/*
 * A worker's readers marked for a while (the quiet ones of _feed.c, the
 * distrusted ones of _feed_context.c): one slot a reader id (modulo),
 * another reader in the slot only ends a mark early
 */
typedef struct {
    int64_t                         reader;
    ngx_msec_t                      until;
} ngx_http_social_feed_mark_t;


/* what a delete or a change takes out of the feed in Redis */

typedef struct {
    const char                     *user;         /* events of, about it */
    const char                     *user_object;  /* its cached object */
    const char                     *events;       /* "{1,2}": these go */
    const char                     *posts;        /* "{1,2}": cached ones */
    const char                     *touch[2];     /* users whose feed
                                                     context changed */
    ngx_uint_t                      written;      /* an event was made */
} ngx_http_social_forget_t;


extern ngx_http_social_script_t  ngx_http_social_feed_read_script;
extern ngx_http_social_script_t  ngx_http_social_feed_known_script;
extern ngx_http_social_script_t  ngx_http_social_feed_put_script;


ngx_int_t ngx_http_social_feed_cache_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf);
void ngx_http_social_feed_cache_exit_process(void);
void ngx_http_social_feed_changed(void);
void ngx_http_social_feed_mark(ngx_http_social_feed_mark_t *marks,
    ngx_uint_t n, int64_t reader, ngx_msec_t time);
ngx_uint_t ngx_http_social_feed_marked(ngx_http_social_feed_mark_t *marks,
    ngx_uint_t n, int64_t reader);
void ngx_http_social_feed_distrust(const char *reader);
ngx_uint_t ngx_http_social_feed_trusts(int64_t reader);
void ngx_http_social_feed_forget(ngx_http_social_ctx_t *ctx,
    ngx_http_social_forget_t *f, ngx_http_social_step_pt next);


#endif /* _NGX_HTTP_SOCIAL_FEED_CACHE_H_INCLUDED_ */
