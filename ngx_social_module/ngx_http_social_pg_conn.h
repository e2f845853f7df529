
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the pool (_pg.c) and its connections (_pg_conn.c) share, and no
 * other file: the rest of the module sees _pg.h.
 */


#ifndef _NGX_HTTP_SOCIAL_PG_CONN_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_PG_CONN_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_util.h"
#include "ngx_http_social_pg.h"


#define NGX_HTTP_SOCIAL_PG_PREPARED  64


#define NGX_HTTP_SOCIAL_PG_CLOSED      0
#define NGX_HTTP_SOCIAL_PG_CONNECTING  1
#define NGX_HTTP_SOCIAL_PG_IDLE        2
#define NGX_HTTP_SOCIAL_PG_BUSY        3

#define NGX_HTTP_SOCIAL_PG_PIN         1
#define NGX_HTTP_SOCIAL_PG_UNPIN       2


typedef struct ngx_http_social_pg_op_s    ngx_http_social_pg_op_t;
typedef struct ngx_http_social_pg_pool_s  ngx_http_social_pg_pool_t;


struct ngx_http_social_pg_op_s {
    ngx_http_social_op_t            op;
    ngx_queue_t                     queue;      /* in pool->waiting */
    ngx_http_social_pg_handler_pt   handler;
    const char                     *sql;
    const char *const              *values;
    int                             nparams;
    ngx_event_t                     timer;      /* waiting too long */
    ngx_http_social_pg_conn_t      *conn;

    unsigned                        waiting:1;
    unsigned                        preparing:1;
    unsigned                        unprepared:1;
    unsigned                        pin:1;      /* BEGIN */
    unsigned                        unpin:1;    /* COMMIT or ROLLBACK */
};


struct ngx_http_social_pg_conn_s {
    ngx_queue_t                     queue;      /* in pool->idle */
    PGconn                         *pg;
    ngx_connection_t               *c;
    ngx_http_social_pg_op_t        *op;
    PGresult                       *res;
    ngx_uint_t                      state;
    ngx_http_social_ctx_t          *pinned;

    /* the statements prepared on this connection, by their text's address */
    const char                     *prepared[NGX_HTTP_SOCIAL_PG_PREPARED];
    ngx_uint_t                      nprepared;

    unsigned                        flushing:1;
    unsigned                        rollback:1;
};


struct ngx_http_social_pg_pool_s {
    ngx_http_social_main_conf_t    *smcf;
    ngx_log_t                      *log;
    ngx_http_social_pg_conn_t      *conns;
    ngx_queue_t                     idle;
    ngx_queue_t                     waiting;
    ngx_uint_t                      nwaiting;
    ngx_http_social_backoff_t       backoff;    /* between connects */
};


extern ngx_http_social_pg_pool_t  *ngx_http_social_pg_pool;


/* ngx_http_social_pg.c: the pool */
void ngx_http_social_pg_complete(ngx_http_social_pg_conn_t *conn);
void ngx_http_social_pg_ready(ngx_http_social_pg_conn_t *conn);
void ngx_http_social_pg_rollback(ngx_http_social_pg_conn_t *conn);
void ngx_http_social_pg_fail(ngx_http_social_pg_op_t *op, ngx_uint_t reason);
void ngx_http_social_pg_fail_waiting(ngx_uint_t reason);

/* ngx_http_social_pg_conn.c: one connection */
ngx_int_t ngx_http_social_pg_connect(ngx_http_social_pg_conn_t *conn);
ngx_int_t ngx_http_social_pg_send(ngx_http_social_pg_conn_t *conn,
    ngx_http_social_pg_op_t *op);
void ngx_http_social_pg_close(ngx_http_social_pg_conn_t *conn,
    ngx_uint_t reason);


#endif /* _NGX_HTTP_SOCIAL_PG_CONN_H_INCLUDED_ */
