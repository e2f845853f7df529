
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The Redis keys of the feed (ngx_http_social_feed_cache.c, _feed.c,
 * _evict.c) and of the error points (ngx_http_social_point_store.c), in
 * one place.  A key that ends with a colon is a prefix: an id, or a batch,
 * follows.  The Lua scripts name them with these macros too, so a key is
 * spelt here only.
 */


#ifndef _NGX_HTTP_SOCIAL_KEYS_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_KEYS_H_INCLUDED_


/*
 * The feed: the sorted set of the most recent events, score the event id,
 * member "id|type|actor|post|author|target|created_at"; its two marks
 * (every event with an id in [bottom, top] is in it); the generations that
 * a delete (gen) and a change of a cached object (objgen) move on
 */

#define NGX_HTTP_SOCIAL_KEY_FEED_RECENT    "social:feed:recent"
#define NGX_HTTP_SOCIAL_KEY_FEED_TOP       "social:feed:top"
#define NGX_HTTP_SOCIAL_KEY_FEED_BOTTOM    "social:feed:bottom"
#define NGX_HTTP_SOCIAL_KEY_FEED_GEN       "social:feed:gen"
#define NGX_HTTP_SOCIAL_KEY_FEED_OBJGEN    "social:feed:objgen"

/*
 * moved on by each write of an event after its commit, before its answer
 * (written), and what of it the set holds: written as a refresh read it
 * before it read PostgreSQL (loaded); while written is ahead, a read does
 * not take the set as PostgreSQL's newest
 */
#define NGX_HTTP_SOCIAL_KEY_FEED_WRITTEN   "social:feed:written"
#define NGX_HTTP_SOCIAL_KEY_FEED_LOADED    "social:feed:loaded"

/*
 * how many members of the set each actor has, and "*" the members counted:
 * a hint that lets a reader whose follows have too few events in the set
 * go to PostgreSQL without walking it (trusted only while "*" is the
 * set's size)
 */
#define NGX_HTTP_SOCIAL_KEY_FEED_ACTORS    "social:feed:actors"

/*
 * A reader's feed context, what GET /feed filters the set with, kept so
 * that a read makes one Redis trip: "gen|own|n|id,...", the generation it
 * was read from PostgreSQL at, the reader's newest event, how many of the
 * ids are followed (the reader first), then those and the ids in a block
 * with the reader.  Every write that changes it (an event of the reader's,
 * a follow, a block, either way) sets the reader's generation to a value
 * never used before (from the counter), after its commit and before its
 * answer; a context of another generation is not used.
 */

#define NGX_HTTP_SOCIAL_KEY_FEED_CONTEXT   "social:feed:ctx:"   /* <user> */
#define NGX_HTTP_SOCIAL_KEY_FEED_RGEN      "social:feed:rgen:"  /* <user> */
#define NGX_HTTP_SOCIAL_KEY_FEED_RGENS     "social:feed:rgens"

/* the cached objects: a hash each, its JSON in the field "json" */

#define NGX_HTTP_SOCIAL_KEY_POST           "social:post:"     /* <post> */
#define NGX_HTTP_SOCIAL_KEY_USER           "social:user:"     /* <user> */


/*
 * The error points (what each holds: ngx_http_social_point_store.c).  A
 * batch's keys are the pending ones renamed under its id:
 * social:err:b:<epoch>:<seq>:rows, :u:<user>, :users; a held batch's under
 * social:err:held:<n>
 */

#define NGX_HTTP_SOCIAL_KEY_POINT_ROWS     "social:err:rows"
#define NGX_HTTP_SOCIAL_KEY_POINT_USER     "social:err:u:"    /* <user> */
#define NGX_HTTP_SOCIAL_KEY_POINT_DIRTY    "social:err:dirty"
#define NGX_HTTP_SOCIAL_KEY_POINT_EPOCH    "social:err:epoch"
#define NGX_HTTP_SOCIAL_KEY_POINT_SEQ      "social:err:seq"
#define NGX_HTTP_SOCIAL_KEY_POINT_OPEN     "social:err:open"
#define NGX_HTTP_SOCIAL_KEY_POINT_BATCH    "social:err:b:"    /* <batch> */
#define NGX_HTTP_SOCIAL_KEY_POINT_FAILED   "social:err:failed"
#define NGX_HTTP_SOCIAL_KEY_POINT_HELD     "social:err:held"
#define NGX_HTTP_SOCIAL_KEY_POINT_HELD_N   "social:err:held:n"

/* an utterance's owner, "<user>:<conversation>", for POST /errors */
#define NGX_HTTP_SOCIAL_KEY_POINT_OWNER    "social:err:own:"  /* <utt> */


/*
 * Revocation (ngx_http_social_revoke.c): a user's token generation, that
 * of a deleted user too, and the number of the last record of the
 * revocation log that Redis holds
 */

#define NGX_HTTP_SOCIAL_KEY_GEN            "social:gen:"      /* <user> */
#define NGX_HTTP_SOCIAL_KEY_REV            "social:rev"


/*
 * The signin attempts on an account in the window, counted on each try,
 * forgotten on a success, under the name it is asked by: i:<id>,
 * n:<username> or e:<email> (ASCII lower-cased), account or not
 */

#define NGX_HTTP_SOCIAL_KEY_SIGNIN         "social:signin:"


#endif /* _NGX_HTTP_SOCIAL_KEYS_H_INCLUDED_ */
