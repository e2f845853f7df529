
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the libFuzzer harnesses of fuzz/ share (fuzz.c): a pool per input,
 * the key they sign with, base64url and HMAC to make signed inputs, and a
 * failure that libFuzzer records as a crash.  Each harness is one file
 * with its LLVMFuzzerTestOneInput(); util/fuzz links it with fuzz.o, the
 * module's pure parsers it drives and nginx's core objects (the pool,
 * strings), compiled with NGX_DEBUG_PALLOC so that ASan sees every pool
 * allocation.
 */


#ifndef _NGX_SOCIAL_FUZZ_H_INCLUDED_
#define _NGX_SOCIAL_FUZZ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* the harnesses' "now": tokens of the seeds are current at this time */
#define NGX_SOCIAL_FUZZ_NOW  1700000000


/* one way of a harness to try an input, in a pool of its own */
typedef void (*ngx_social_fuzz_pt)(ngx_pool_t *pool, const u_char *data,
    size_t size);


#define ngx_social_fuzz_check(cond, what)                                    \
    if (!(cond)) {                                                           \
        ngx_social_fuzz_fail(__FILE__, __LINE__, what);                      \
    }


extern ngx_str_t  ngx_social_fuzz_key;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

ngx_pool_t *ngx_social_fuzz_pool(void);
int ngx_social_fuzz_modes(const uint8_t *data, size_t size,
    ngx_social_fuzz_pt *modes, ngx_uint_t n);
u_char *ngx_social_fuzz_copy(ngx_pool_t *pool, const u_char *data,
    size_t len);
void ngx_social_fuzz_b64url(ngx_pool_t *pool, const u_char *data,
    size_t len, ngx_str_t *out);
void ngx_social_fuzz_hmac(ngx_str_t *key, const u_char *data, size_t len,
    u_char *mac);
ngx_uint_t ngx_social_fuzz_split(const u_char *data, size_t size,
    ngx_str_t *parts, ngx_uint_t n);
ngx_int_t ngx_social_fuzz_decimal(const u_char *p, size_t len, int64_t *n);
void ngx_social_fuzz_fail(const char *file, ngx_uint_t line,
    const char *what);


#endif /* _NGX_SOCIAL_FUZZ_H_INCLUDED_ */
