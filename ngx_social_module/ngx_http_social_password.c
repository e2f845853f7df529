
/*
 * Copyright (C) ngx_social developers
 */


/*
 * Passwords: scrypt (OpenSSL's EVP_PBE_scrypt) with a random salt, run on
 * an nginx thread pool, never on the event loop.  A password the server
 * generated (128 random bits) cannot be guessed, so it is stored under a
 * fast keyed hash (HMAC-SHA-256 with a key derived from the server key)
 * and checked on the loop.
 *
 * Every scrypt waits for its turn at the worker's gate
 * (ngx_http_social_password_gate.c): a request admitted there keeps what
 * is to be hashed in its pool, and the thread task is made when the turn
 * comes, so that a request that goes away before costs nothing.
 *
 *     scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>
 *     hmac$<hash, base64>
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_task.h"
#include "ngx_http_social_request.h"
#include "ngx_http_social_json.h"
#include "ngx_http_social_password.h"
#include "ngx_http_social_password_gate.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>


/* what a client may choose: bytes, not characters */
#define NGX_HTTP_SOCIAL_PASSWORD_MIN  8
#define NGX_HTTP_SOCIAL_PASSWORD_MAX  128

#define NGX_HTTP_SOCIAL_SALT_LEN      16
#define NGX_HTTP_SOCIAL_HASH_LEN      32
#define NGX_HTTP_SOCIAL_SCRYPT_R      8
#define NGX_HTTP_SOCIAL_SCRYPT_P      1


/* what waits for its turn, in the request's pool */

typedef struct {
    ngx_http_social_password_pt     handler;
    ngx_str_t                       password;
    ngx_uint_t                      ln;
    ngx_uint_t                      verify;     /* unsigned:1 */
    u_char                          salt[NGX_HTTP_SOCIAL_SALT_LEN];
    u_char                          expect[NGX_HTTP_SOCIAL_HASH_LEN];
} ngx_http_social_scrypt_job_t;


/* the thread task's, malloc'ed: it may outlive the request */

typedef struct {
    ngx_http_social_gate_t         *gate;
    ngx_http_social_password_pt     handler;
    u_char                         *password;   /* wiped */
    size_t                          len;
    uint64_t                        n;
    ngx_uint_t                      ln;
    ngx_uint_t                      verify;     /* unsigned:1 */
    ngx_int_t                       ok;
    ngx_msec_t                      start;
    ngx_event_t                     hold;       /* the worker waits for it */
    u_char                          salt[NGX_HTTP_SOCIAL_SALT_LEN];
    u_char                          expect[NGX_HTTP_SOCIAL_HASH_LEN];
    u_char                          hash[NGX_HTTP_SOCIAL_HASH_LEN];
} ngx_http_social_scrypt_t;


static ngx_int_t ngx_http_social_scrypt_wait(ngx_http_social_ctx_t *ctx,
    ngx_http_social_scrypt_job_t *job);
static void ngx_http_social_scrypt_turn(ngx_http_social_ctx_t *ctx,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_social_scrypt_post(ngx_thread_pool_t *pool,
    ngx_http_social_scrypt_job_t *job, ngx_http_social_gate_t *gate);
static void ngx_http_social_scrypt_thread(void *data, ngx_log_t *log);
static void ngx_http_social_scrypt_done(ngx_event_t *ev);
static void ngx_http_social_scrypt_hold(ngx_event_t *ev);
static ngx_int_t ngx_http_social_password_format(ngx_http_social_ctx_t *ctx,
    ngx_http_social_scrypt_t *s, ngx_str_t *out);
static ngx_int_t ngx_http_social_hmac(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, u_char *out);


/* the rule of a password a client chooses: 8 to 128 bytes, no NUL */

ngx_uint_t
ngx_http_social_password_valid(ngx_str_t *password)
{
    return password->len >= NGX_HTTP_SOCIAL_PASSWORD_MIN
           && password->len <= NGX_HTTP_SOCIAL_PASSWORD_MAX
           && ngx_strlchr(password->data, password->data + password->len,
                          '\0')
              == NULL;
}


/*
 * scrypt of a new password, on the thread pool, at the request's turn:
 * handler(ctx, hash); NGX_BUSY when the gate has no place (answer with
 * ngx_http_social_gate_refuse())
 */

ngx_int_t
ngx_http_social_password_hash(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_http_social_password_pt handler)
{
    ngx_http_social_scrypt_job_t  *job;

    job = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_scrypt_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->password = *password;
    job->ln = ctx->smcf->password_cost;
    job->handler = handler;

    return ngx_http_social_scrypt_wait(ctx, job);
}


/*
 * does the password match the stored hash: handler(ctx, hash) with a
 * non-NULL hash when it does, after the request's turn (NGX_AGAIN, or
 * NGX_BUSY when the gate has no place); an hmac hash is checked at once
 * (NGX_OK or NGX_DECLINED, no handler)
 */

ngx_int_t
ngx_http_social_password_verify(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *stored, ngx_http_social_password_pt handler)
{
    u_char                        *p, *last, *f[6];
    ngx_int_t                      ln, r, par, rc;
    ngx_str_t                      src, dst;
    ngx_uint_t                     i;
    ngx_http_social_scrypt_job_t  *s;
    u_char                         mac[NGX_HTTP_SOCIAL_HASH_LEN];
    u_char                         want[NGX_HTTP_SOCIAL_HASH_LEN + 4];

    p = stored->data;
    last = p + stored->len;

    if (stored->len > 5 && ngx_strncmp(p, "hmac$", 5) == 0) {
        src.data = p + 5;
        src.len = stored->len - 5;
        dst.data = want;

        if (src.len != ngx_base64_encoded_length(NGX_HTTP_SOCIAL_HASH_LEN)
            || ngx_decode_base64(&dst, &src) != NGX_OK
            || dst.len != NGX_HTTP_SOCIAL_HASH_LEN
            || ngx_http_social_hmac(ctx, password, mac) != NGX_OK)
        {
            return NGX_DECLINED;
        }

        return CRYPTO_memcmp(mac, want, NGX_HTTP_SOCIAL_HASH_LEN) == 0
               ? NGX_OK : NGX_DECLINED;
    }

    /* scrypt$ln$r$p$salt$hash */

    for (i = 0; i < 6; i++) {
        f[i] = p;
        p = ngx_strlchr(p, last, '$');

        if (p == NULL) {
            p = last;
        }

        p++;
    }

    if (stored->len < 7 || ngx_strncmp(stored->data, "scrypt$", 7) != 0
        || f[5] >= last)
    {
        return NGX_DECLINED;
    }

    ln = ngx_atoi(f[1], f[2] - f[1] - 1);
    r = ngx_atoi(f[2], f[3] - f[2] - 1);
    par = ngx_atoi(f[3], f[4] - f[3] - 1);

    if (ln < 1 || ln > 22 || r != NGX_HTTP_SOCIAL_SCRYPT_R
        || par != NGX_HTTP_SOCIAL_SCRYPT_P)
    {
        return NGX_DECLINED;
    }

    s = ngx_pcalloc(ctx->pool, sizeof(ngx_http_social_scrypt_job_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    src.data = f[4];
    src.len = f[5] - f[4] - 1;
    dst.data = want;

    if (src.len != ngx_base64_encoded_length(NGX_HTTP_SOCIAL_SALT_LEN)
        || ngx_decode_base64(&dst, &src) != NGX_OK
        || dst.len != NGX_HTTP_SOCIAL_SALT_LEN)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(s->salt, want, NGX_HTTP_SOCIAL_SALT_LEN);

    src.data = f[5];
    src.len = last - f[5];
    dst.data = want;

    if (src.len != ngx_base64_encoded_length(NGX_HTTP_SOCIAL_HASH_LEN)
        || ngx_decode_base64(&dst, &src) != NGX_OK
        || dst.len != NGX_HTTP_SOCIAL_HASH_LEN)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(s->expect, want, NGX_HTTP_SOCIAL_HASH_LEN);

    s->password = *password;
    s->ln = ln;
    s->verify = 1;
    s->handler = handler;

    rc = ngx_http_social_scrypt_wait(ctx, s);

    return rc == NGX_OK ? NGX_AGAIN : rc;
}


/* 8..128 bytes, no NUL: NGX_OK, NGX_DECLINED when absent, NGX_ERROR */

ngx_int_t
ngx_http_social_password_field(ngx_http_social_ctx_t *ctx, const char *key,
    ngx_str_t *pw)
{
    ngx_http_social_json_t  *v;

    v = ngx_http_social_json_get(ctx->body, key);

    if (v == NULL || v->type == NGX_HTTP_SOCIAL_JSON_NULL) {
        return NGX_DECLINED;
    }

    if (v->type != NGX_HTTP_SOCIAL_JSON_STRING) {
        return ngx_http_social_note_invalid(ctx, key, "must be a string");
    }

    if (!ngx_http_social_password_valid(&v->str)) {
        return ngx_http_social_note_invalid(ctx, key,
                                            "must be 8 to 128 bytes long");
    }

    *pw = v->str;

    return NGX_OK;
}


/*
 * a worker starts by timing one hash of a random password, so that the
 * holds of its gate last as long as a hash from the first signin on
 */

ngx_int_t
ngx_http_social_password_init_process(ngx_cycle_t *cycle,
    ngx_http_social_main_conf_t *smcf)
{
    ngx_http_social_scrypt_job_t  job;
    u_char                        random[16];

    if (smcf->thread_pool == NULL) {
        return NGX_OK;
    }

    if (RAND_bytes(random, sizeof(random)) != 1) {
        return NGX_ERROR;
    }

    ngx_memzero(&job, sizeof(ngx_http_social_scrypt_job_t));
    job.password.data = random;
    job.password.len = sizeof(random);
    job.ln = smcf->password_cost;

    if (ngx_http_social_scrypt_post(smcf->thread_pool, &job, NULL) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "social: the first password hash could not be timed");
    }

    return NGX_OK;
}


/* a fast keyed hash of a password the server generated */

ngx_int_t
ngx_http_social_password_hmac(ngx_http_social_ctx_t *ctx,
    ngx_str_t *password, ngx_str_t *out)
{
    ngx_str_t  src;
    u_char     mac[NGX_HTTP_SOCIAL_HASH_LEN];

    if (ngx_http_social_hmac(ctx, password, mac) != NGX_OK) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(ctx->pool, sizeof("hmac$")
                   + ngx_base64_encoded_length(NGX_HTTP_SOCIAL_HASH_LEN));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(out->data, "hmac$", 5);

    src.data = mac;
    src.len = NGX_HTTP_SOCIAL_HASH_LEN;
    out->data += 5;
    ngx_encode_base64(out, &src);
    out->data -= 5;
    out->len += 5;

    return NGX_OK;
}


static ngx_int_t
ngx_http_social_hmac(ngx_http_social_ctx_t *ctx, ngx_str_t *password,
    u_char *out)
{
    unsigned int  len;
    u_char        pepper[EVP_MAX_MD_SIZE];

    static const char  label[] = "ngx_social password pepper";

    /* the pepper: a key of its own, derived from the server key */

    if (HMAC(EVP_sha256(), ctx->smcf->jwt_key.data, ctx->smcf->jwt_key.len,
             (u_char *) label, sizeof(label) - 1, pepper, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    if (HMAC(EVP_sha256(), pepper, len, password->data, password->len,
             out, &len)
        == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* in the queue of the gate: NGX_OK, NGX_BUSY or NGX_ERROR */

static ngx_int_t
ngx_http_social_scrypt_wait(ngx_http_social_ctx_t *ctx,
    ngx_http_social_scrypt_job_t *job)
{
    return ngx_http_social_gate_wait(ctx, ngx_http_social_scrypt_turn, job);
}


/* the turn has come: the hash goes to the thread pool */

static void
ngx_http_social_scrypt_turn(ngx_http_social_ctx_t *ctx, void *data,
    ngx_int_t rc)
{
    ngx_http_social_scrypt_job_t  *job = data;

    if (rc != NGX_OK) {
        ngx_http_social_done(ctx, ngx_http_social_gate_refuse(ctx));
        return;
    }

    if (ngx_http_social_scrypt_post(ctx->smcf->thread_pool, job, ctx->gate)
        != NGX_OK)
    {
        ngx_http_social_gate_end(ctx->gate, 0);
        ngx_http_social_done(ctx,
                       ngx_http_social_unavailable(ctx, "Password hashing"));
    }
}


/* the thread task of a gate's turn, or of the worker's first hash */

static ngx_int_t
ngx_http_social_scrypt_post(ngx_thread_pool_t *pool,
    ngx_http_social_scrypt_job_t *job, ngx_http_social_gate_t *gate)
{
    ngx_thread_task_t         *task;
    ngx_http_social_scrypt_t  *s;

    task = ngx_calloc(sizeof(ngx_thread_task_t)
                      + sizeof(ngx_http_social_scrypt_t) + job->password.len,
                      ngx_cycle->log);
    if (task == NULL) {
        return NGX_ERROR;
    }

    s = (ngx_http_social_scrypt_t *) (task + 1);
    task->ctx = s;

    s->gate = gate;
    s->handler = job->handler;
    s->password = (u_char *) (s + 1);
    s->len = job->password.len;
    ngx_memcpy(s->password, job->password.data, job->password.len);
    s->ln = job->ln;
    s->n = (uint64_t) 1 << job->ln;
    s->verify = job->verify;
    s->start = ngx_current_msec;
    ngx_memcpy(s->expect, job->expect, NGX_HTTP_SOCIAL_HASH_LEN);

    if (job->verify) {
        ngx_memcpy(s->salt, job->salt, NGX_HTTP_SOCIAL_SALT_LEN);

    } else if (RAND_bytes(s->salt, NGX_HTTP_SOCIAL_SALT_LEN) != 1) {
        ngx_free(task);
        return NGX_ERROR;
    }

    task->handler = ngx_http_social_scrypt_thread;
    task->event.handler = ngx_http_social_scrypt_done;
    task->event.data = task;
    task->event.log = ngx_cycle->log;

    if (ngx_thread_task_post(pool, task) != NGX_OK) {
        ngx_explicit_memzero(s->password, s->len);
        ngx_free(task);
        return NGX_ERROR;
    }

    /*
     * a worker that shuts down gracefully waits for its timers only: this
     * one, not cancelable, keeps it until the hash is done
     */

    s->hold.handler = ngx_http_social_scrypt_hold;
    s->hold.data = task;
    s->hold.log = task->event.log;
    ngx_add_timer(&s->hold, 600000);

    return NGX_OK;
}


/* in a thread of the pool: the slow part */

static void
ngx_http_social_scrypt_thread(void *data, ngx_log_t *log)
{
    ngx_http_social_scrypt_t  *s = data;

    uint64_t  maxmem;

    /* N * r * 128 bytes, and some room */

    maxmem = s->n * NGX_HTTP_SOCIAL_SCRYPT_R * 128 + 1024 * 1024;

    if (EVP_PBE_scrypt((char *) s->password, s->len, s->salt,
                       NGX_HTTP_SOCIAL_SALT_LEN, s->n, NGX_HTTP_SOCIAL_SCRYPT_R,
                       NGX_HTTP_SOCIAL_SCRYPT_P, maxmem, s->hash,
                       NGX_HTTP_SOCIAL_HASH_LEN)
        != 1)
    {
        s->ok = 0;
        return;
    }

    s->ok = s->verify ? CRYPTO_memcmp(s->hash, s->expect,
                                      NGX_HTTP_SOCIAL_HASH_LEN) == 0
                      : 1;
}


/* back on the event loop */

static void
ngx_http_social_scrypt_done(ngx_event_t *ev)
{
    ngx_thread_task_t         *task = ev->data;
    ngx_http_social_scrypt_t  *s = task->ctx;

    ngx_str_t               out, *hash;
    ngx_connection_t       *c;
    ngx_http_social_ctx_t  *ctx;

    if (s->hold.timer_set) {
        ngx_del_timer(&s->hold);
    }

    ngx_explicit_memzero(s->password, s->len);

    if (s->gate == NULL) {
        /* the worker's first hash: how long one takes here */
        ngx_http_social_gate_timed(ngx_current_msec - s->start);
        ngx_free(task);
        return;
    }

    ctx = ngx_http_social_gate_ctx(s->gate);

    /* the next turn; a gate whose request went away is freed */
    ngx_http_social_gate_end(s->gate, ngx_current_msec - s->start);

    if (ctx == NULL) {
        ngx_free(task);
        return;
    }

    hash = NULL;

    if (s->ok) {
        if (s->verify) {
            ngx_str_set(&out, "ok");
            hash = &out;

        } else if (ngx_http_social_password_format(ctx, s, &out) == NGX_OK) {
            hash = &out;
        }
    }

    c = ctx->request->connection;
    s->handler(ctx, hash);
    ngx_http_run_posted_requests(c);

    ngx_free(task);
}


static void
ngx_http_social_scrypt_hold(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                  "social: a password hash is still running after 10 min");
}


static ngx_int_t
ngx_http_social_password_format(ngx_http_social_ctx_t *ctx,
    ngx_http_social_scrypt_t *s, ngx_str_t *out)
{
    u_char     *p;
    ngx_str_t   src, dst;

    p = ngx_pnalloc(ctx->pool, 64
                    + ngx_base64_encoded_length(NGX_HTTP_SOCIAL_SALT_LEN)
                    + ngx_base64_encoded_length(NGX_HTTP_SOCIAL_HASH_LEN));
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;
    p = ngx_sprintf(p, "scrypt$%ui$%d$%d$", s->ln, NGX_HTTP_SOCIAL_SCRYPT_R,
                    NGX_HTTP_SOCIAL_SCRYPT_P);

    src.data = s->salt;
    src.len = NGX_HTTP_SOCIAL_SALT_LEN;
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;
    *p++ = '$';

    src.data = s->hash;
    src.len = NGX_HTTP_SOCIAL_HASH_LEN;
    dst.data = p;
    ngx_encode_base64(&dst, &src);
    p += dst.len;

    out->len = p - out->data;

    return NGX_OK;
}
