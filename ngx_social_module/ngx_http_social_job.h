
/*
 * Copyright (C) ngx_social developers
 */


/* periodic jobs: a task without a request (see _job.c) */


#ifndef _NGX_HTTP_SOCIAL_JOB_H_INCLUDED_
#define _NGX_HTTP_SOCIAL_JOB_H_INCLUDED_


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"


typedef struct ngx_http_social_job_s  ngx_http_social_job_t;

/* a periodic job's run: it ends with ngx_http_social_job_done() */
typedef void (*ngx_http_social_job_pt)(ngx_http_social_job_t *job);


/*
 * A periodic job, run in one worker across all nodes at a time (a Redis
 * lock), or in every worker (every_worker: no lock).  During a run,
 * job->ctx serves the backend calls: its request is NULL, its pool lives
 * until ngx_http_social_job_done(), and its data points back at the job;
 * the run keeps its own state in job->data.
 */

struct ngx_http_social_job_s {
    const char                     *name;       /* social:lock:<name> */
    ngx_msec_t                      interval;   /* 0: off */
    ngx_http_social_job_pt          run;

    ngx_http_social_ctx_t          *ctx;        /* of the run, or NULL */
    void                           *data;
    ngx_http_social_main_conf_t    *smcf;
    ngx_str_t                       token;      /* the lock's value */
    ngx_event_t                     timer;
    unsigned                        again:1;    /* kicked during a run */
    unsigned                        every_worker:1;  /* no lock */
};


ngx_int_t ngx_http_social_job_start(ngx_cycle_t *cycle,
    ngx_http_social_job_t *job);
void ngx_http_social_job_kick(ngx_http_social_job_t *job);
void ngx_http_social_job_done(ngx_http_social_job_t *job);
void ngx_http_social_job_stop(ngx_http_social_job_t *job);


#endif /* _NGX_HTTP_SOCIAL_JOB_H_INCLUDED_ */
