
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Language practice, the conversations: POST and GET /conversations,
 * POST /utterances, GET /conversations/{id}/utterances.  A conversation is
 * its user's; only that user adds utterances to it, and the user or an
 * admin reads them.  Ids in a body that name the reader or the
 * conversation's user must match them: a mismatch is 403 or 422, never
 * silently used.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_pg.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_endpoints.h"
#include "ngx_http_social_points.h"


#define NGX_HTTP_SOCIAL_UTTERANCE_MAX  4000


/* a conversation's columns, from the first given to _conversation_json() */

enum {
    NGX_HTTP_SOCIAL_CONVERSATION_COL_ID = 0,
    NGX_HTTP_SOCIAL_CONVERSATION_COL_USER,
    NGX_HTTP_SOCIAL_CONVERSATION_COL_STARTED_AT
};


/* an utterance's columns, from the first given to _utterance_json() */

enum {
    NGX_HTTP_SOCIAL_UTTERANCE_COL_ID = 0,
    NGX_HTTP_SOCIAL_UTTERANCE_COL_CONVERSATION,
    NGX_HTTP_SOCIAL_UTTERANCE_COL_USER,
    NGX_HTTP_SOCIAL_UTTERANCE_COL_CONTENT,
    NGX_HTTP_SOCIAL_UTTERANCE_COL_CREATED_AT
};


/*
 * the rows of POST /utterances and of GET /conversations/{id}/utterances:
 * the conversation's user, then the utterance (NULLs: none)
 */

enum {
    NGX_HTTP_SOCIAL_UTTERANCES_COL_OWNER = 0,
    NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE
};


typedef struct {
    const char                     *values[4];
    ngx_uint_t                      limit;
} ngx_http_social_learning_t;


static ngx_int_t ngx_http_social_conversation_create(
    ngx_http_social_ctx_t *ctx);
static void ngx_http_social_conversation_created(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static ngx_int_t ngx_http_social_conversation_list(
    ngx_http_social_ctx_t *ctx);
static void ngx_http_social_conversation_listed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_utterance_created(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_utterance_listed(ngx_http_social_ctx_t *ctx,
    PGresult *res);
static void ngx_http_social_conversation_json(yajl_gen g, PGresult *res,
    int row, int col);
static void ngx_http_social_utterance_json(yajl_gen g, PGresult *res,
    int row, int col);
static void ngx_http_social_utterance_own(ngx_http_social_ctx_t *ctx,
    PGresult *res, int col);
static ngx_http_social_learning_t *ngx_http_social_learning_state(
    ngx_http_social_ctx_t *ctx);


/* an admin may start one for another user, who must exist */
static const char  ngx_http_social_sql_conversation_create[] =
    "INSERT INTO conversations (user_id) "
    "SELECT user_id FROM users WHERE user_id = $1 "
    "RETURNING conversation_id, user_id, social_time(started_at)";

static const char  ngx_http_social_sql_conversation_list[] =
    "SELECT conversation_id, user_id, social_time(started_at) "
    "  FROM conversations "
    " WHERE user_id = $1 AND conversation_id < $2 "
    " ORDER BY conversation_id DESC LIMIT $3";

/*
 * one row: the conversation's user (NULL: no such conversation), and the
 * utterance when that user is the reader and "user_id", if given, is too
 */
static const char  ngx_http_social_sql_utterance_create[] =
    "WITH c AS (SELECT conversation_id, user_id FROM conversations "
    "            WHERE conversation_id = $1), "
    "     u AS (INSERT INTO utterances (conversation_id, user_id, content) "
    "           SELECT conversation_id, user_id, $3 FROM c "
    "            WHERE user_id = $2 "
    "              AND ($4::bigint IS NULL OR user_id = $4::bigint) "
    "           RETURNING utterance_id, conversation_id, user_id, content, "
    "                     social_time(created_at)) "
    "SELECT (SELECT user_id FROM c), u.* FROM (SELECT 1) one "
    "  LEFT JOIN u ON true";

/* no row: no such conversation; a row with NULLs: no utterance (yet) */
static const char  ngx_http_social_sql_utterance_list[] =
    "SELECT c.user_id, u.utterance_id, u.conversation_id, u.user_id, "
    "       u.content, u.created_at "
    "  FROM conversations c "
    "  LEFT JOIN LATERAL (SELECT utterance_id, conversation_id, user_id, "
    "                            content, social_time(created_at) "
    "                              AS created_at "
    "                       FROM utterances "
    "                      WHERE conversation_id = c.conversation_id "
    "                        AND utterance_id < $2 "
    "                      ORDER BY utterance_id DESC LIMIT $3) u ON true "
    " WHERE c.conversation_id = $1 "
    " ORDER BY u.utterance_id DESC";


static ngx_http_social_learning_t *
ngx_http_social_learning_state(ngx_http_social_ctx_t *ctx)
{
    ngx_http_social_learning_t  *l;

    l = ngx_pcalloc(ctx->request->pool, sizeof(ngx_http_social_learning_t));
    if (l == NULL) {
        return NULL;
    }

    ctx->data = l;

    return l;
}


/* POST /conversations {} | {"user_id"}; GET /conversations */

ngx_int_t
ngx_http_social_conversations(ngx_http_social_ctx_t *ctx)
{
    if (ctx->request->method == NGX_HTTP_POST) {
        return ngx_http_social_conversation_create(ctx);
    }

    return ngx_http_social_conversation_list(ctx);
}


static ngx_int_t
ngx_http_social_conversation_create(ngx_http_social_ctx_t *ctx)
{
    int64_t                      id;
    ngx_int_t                    rc;
    ngx_http_social_learning_t  *l;

    l = ngx_http_social_learning_state(ctx);
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_social_json_id(ctx, ctx->body, "user_id", &id);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_DECLINED) {
        id = ctx->user_id;
    }

    if (id != ctx->user_id && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    l->values[0] = ngx_http_social_int64(ctx, id);

    return ngx_http_social_pg_or_503(ctx,
                                     ngx_http_social_sql_conversation_create,
                                     1, l->values,
                                     ngx_http_social_conversation_created);
}


static void
ngx_http_social_conversation_created(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    yajl_gen  g;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_no_such(ctx, "user_id"));
        return;
    }

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_conversation_json(g, res, 0, 0);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_CREATED, g));
}


static ngx_int_t
ngx_http_social_conversation_list(ngx_http_social_ctx_t *ctx)
{
    int64_t                      before, unused;
    ngx_http_social_learning_t  *l;

    l = ngx_http_social_learning_state(ctx);
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_social_page_limit(ctx, &l->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &before, &unused) != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    l->values[0] = ngx_http_social_int64(ctx, ctx->user_id);
    l->values[1] = ngx_http_social_int64(ctx, before);

    /* one more than the page: whether there is a next one */
    l->values[2] = ngx_http_social_int64(ctx, l->limit + 1);

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_conversation_list,
                                     3, l->values,
                                     ngx_http_social_conversation_listed);
}


static void
ngx_http_social_conversation_listed(ngx_http_social_ctx_t *ctx,
    PGresult *res)
{
    int                          i, n;
    yajl_gen                     g;
    ngx_http_social_learning_t  *l = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    n = ngx_min(PQntuples(res), (int) l->limit);

    g = ngx_http_social_page_start(ctx, "conversations");
    if (g == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_social_conversation_json(g, res, i, 0);
    }

    ngx_http_social_page_end(ctx, g,
                             PQntuples(res) > (int) l->limit
                             ? PQgetvalue(res, n - 1,
                                          NGX_HTTP_SOCIAL_CONVERSATION_COL_ID)
                             : NULL, "0");
}


/*
 * POST /utterances {"conversation_id", "content", "user_id"?}: the
 * conversation's user only; "user_id", when given, must be that user
 */

ngx_int_t
ngx_http_social_utterances(ngx_http_social_ctx_t *ctx)
{
    int64_t                      conversation, user;
    ngx_int_t                    rc;
    ngx_str_t                    content;
    ngx_http_social_learning_t  *l;

    l = ngx_http_social_learning_state(ctx);
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_social_json_id(ctx, ctx->body, "conversation_id",
                                 &conversation);

    if (rc == NGX_DECLINED) {
        ngx_http_social_note_invalid(ctx, "conversation_id", "is required");
    }

    if (rc != NGX_OK) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (ngx_http_social_json_content(ctx, ctx->body, "content",
                                     NGX_HTTP_SOCIAL_UTTERANCE_MAX, &content)
        != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    rc = ngx_http_social_json_id(ctx, ctx->body, "user_id", &user);

    if (rc == NGX_ERROR) {
        return ngx_http_social_unprocessable(ctx);
    }

    if (rc == NGX_OK && user != ctx->user_id && !ctx->admin) {
        return ngx_http_social_forbidden(ctx);
    }

    l->values[0] = ngx_http_social_int64(ctx, conversation);
    l->values[1] = ngx_http_social_int64(ctx, ctx->user_id);
    l->values[2] = (char *) content.data;
    l->values[3] = (rc == NGX_OK) ? ngx_http_social_int64(ctx, user) : NULL;

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_utterance_create,
                                     4, l->values,
                                     ngx_http_social_utterance_created);
}


static void
ngx_http_social_utterance_created(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    yajl_gen                     g;
    ngx_http_social_learning_t  *l = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQgetisnull(res, 0, NGX_HTTP_SOCIAL_UTTERANCES_COL_OWNER)) {
        ngx_http_social_done(ctx,
                             ngx_http_social_no_such(ctx, "conversation_id"));
        return;
    }

    if (ngx_strcmp(PQgetvalue(res, 0, NGX_HTTP_SOCIAL_UTTERANCES_COL_OWNER),
                   l->values[1])
        != 0)
    {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    if (PQgetisnull(res, 0, NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE)) {
        /* the reader's conversation, and user_id names someone else */
        ngx_http_social_note_invalid(ctx, "user_id",
                                     "does not match the conversation's user");
        ngx_http_social_done(ctx, ngx_http_social_unprocessable(ctx));
        return;
    }

    /*
     * committed: its owner into Redis, so that its POST /errors needs no
     * PostgreSQL (fire and forget: without it, that asks PostgreSQL)
     */

    ngx_http_social_utterance_own(ctx, res,
                                  NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE);

    g = ngx_http_social_json_gen(ctx->request->pool);
    if (g == NULL) {
        ngx_http_social_done(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_social_utterance_json(g, res, 0,
                                   NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE);

    ngx_http_social_done(ctx, ngx_http_social_send(ctx, NGX_HTTP_CREATED, g));
}


/* GET /conversations/{id}/utterances: the conversation's user or an admin */

ngx_int_t
ngx_http_social_conversation_utterances(ngx_http_social_ctx_t *ctx)
{
    int64_t                      id, before, unused;
    ngx_http_social_learning_t  *l;

    l = ngx_http_social_learning_state(ctx);
    if (l == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_social_page_limit(ctx, &l->limit) != NGX_OK
        || ngx_http_social_cursor_parse(ctx, &before, &unused) != NGX_OK)
    {
        return ngx_http_social_unprocessable(ctx);
    }

    if (ngx_http_social_path_id(ctx, &id) != NGX_OK) {
        return ngx_http_social_not_found(ctx);
    }

    l->values[0] = ngx_http_social_int64(ctx, id);
    l->values[1] = ngx_http_social_int64(ctx, before);
    l->values[2] = ngx_http_social_int64(ctx, l->limit + 1);
    l->values[3] = ngx_http_social_int64(ctx, ctx->user_id);

    return ngx_http_social_pg_or_503(ctx, ngx_http_social_sql_utterance_list,
                                     3, l->values,
                                     ngx_http_social_utterance_listed);
}


static void
ngx_http_social_utterance_listed(ngx_http_social_ctx_t *ctx, PGresult *res)
{
    int                          i, n;
    yajl_gen                     g;
    ngx_http_social_learning_t  *l = ctx->data;

    if (!ngx_http_social_pg_ok_or_done(ctx, res, PGRES_TUPLES_OK)) {
        return;
    }

    if (PQntuples(res) == 0) {
        ngx_http_social_done(ctx, ngx_http_social_not_found(ctx));
        return;
    }

    if (!ctx->admin
        && ngx_strcmp(PQgetvalue(res, 0,
                                 NGX_HTTP_SOCIAL_UTTERANCES_COL_OWNER),
                      l->values[3])
           != 0)
    {
        ngx_http_social_done(ctx, ngx_http_social_forbidden(ctx));
        return;
    }

    /* a conversation without utterances is one row of NULLs */

    n = PQgetisnull(res, 0, NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE)
        ? 0 : ngx_min(PQntuples(res), (int) l->limit);

    g = ngx_http_social_page_start(ctx, "utterances");
    if (g == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        ngx_http_social_utterance_json(g, res, i,
                                     NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE);
    }

    ngx_http_social_page_end(ctx, g,
                             PQntuples(res) > (int) l->limit
                             ? PQgetvalue(res, n - 1,
                                     NGX_HTTP_SOCIAL_UTTERANCES_COL_UTTERANCE
                                     + NGX_HTTP_SOCIAL_UTTERANCE_COL_ID)
                             : NULL, "0");
}


/* conversation_id, user_id, started_at from "col" */

static void
ngx_http_social_conversation_json(yajl_gen g, PGresult *res, int row,
    int col)
{
    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "conversation_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_CONVERSATION_COL_ID,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "user_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_CONVERSATION_COL_USER,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "started_at");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_CONVERSATION_COL_STARTED_AT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    yajl_gen_map_close(g);
}


/* utterance_id, conversation_id, user_id, content, created_at from "col" */

static void
ngx_http_social_utterance_json(yajl_gen g, PGresult *res, int row, int col)
{
    yajl_gen_map_open(g);
    ngx_http_social_json_str(g, "utterance_id");
    ngx_http_social_json_pg(g, res, row, col + NGX_HTTP_SOCIAL_UTTERANCE_COL_ID,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "conversation_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_UTTERANCE_COL_CONVERSATION,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "user_id");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_UTTERANCE_COL_USER,
                            NGX_HTTP_SOCIAL_JSON_INTEGER);
    ngx_http_social_json_str(g, "content");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_UTTERANCE_COL_CONTENT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    ngx_http_social_json_str(g, "created_at");
    ngx_http_social_json_pg(g, res, row,
                            col + NGX_HTTP_SOCIAL_UTTERANCE_COL_CREATED_AT,
                            NGX_HTTP_SOCIAL_JSON_STRING);
    yajl_gen_map_close(g);
}


/* the utterance's owner entry in Redis, from its columns from "col" on */

static void
ngx_http_social_utterance_own(ngx_http_social_ctx_t *ctx, PGresult *res,
    int col)
{
    int      c;
    int64_t  utterance, user, conversation;

    c = col + NGX_HTTP_SOCIAL_UTTERANCE_COL_ID;
    utterance = ngx_atoof((u_char *) PQgetvalue(res, 0, c),
                          PQgetlength(res, 0, c));

    c = col + NGX_HTTP_SOCIAL_UTTERANCE_COL_USER;
    user = ngx_atoof((u_char *) PQgetvalue(res, 0, c),
                     PQgetlength(res, 0, c));

    c = col + NGX_HTTP_SOCIAL_UTTERANCE_COL_CONVERSATION;
    conversation = ngx_atoof((u_char *) PQgetvalue(res, 0, c),
                             PQgetlength(res, 0, c));

    if (utterance > 0 && user > 0 && conversation > 0) {
        ngx_http_social_point_own(ctx, utterance, user, conversation);
    }
}
