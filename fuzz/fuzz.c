
/*
 * Copyright (C) ngx_social developers
 */


/*
 * What the harnesses share (fuzz.h).  Every input gets a pool of its own,
 * destroyed after it: with NGX_DEBUG_PALLOC each allocation is its own
 * malloc, so ASan sees a read past any one of them, and LeakSanitizer a
 * pool that is not destroyed.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz.h"


/* a test key, 32 bytes as the server's: the seeds' tokens are signed so */

ngx_str_t  ngx_social_fuzz_key =
    ngx_string("ngx_social fuzz key, not secret");


static ngx_log_t    ngx_social_fuzz_log;
static ngx_cycle_t  ngx_social_fuzz_cycle;


/*
 * nginx's cycle (ngx_cycle.c would bring the whole of nginx): ngx_string.o
 * reads its log (ngx_sort() allocates with it), so a cycle that holds only
 * the harnesses' log stands for it
 */

volatile ngx_cycle_t  *ngx_cycle = &ngx_social_fuzz_cycle;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_uint_t  n;

    ngx_pagesize = getpagesize();
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;

    for (n = ngx_pagesize; n >>= 1; ngx_pagesize_shift++) {
        /* void */
    }

    /* errors (an allocation that failed) are written, debug is off */
    ngx_social_fuzz_log.log_level = NGX_LOG_NOTICE;
    ngx_social_fuzz_cycle.log = &ngx_social_fuzz_log;

    return 0;
}


/*
 * nginx's log is the cycle's (ngx_log.c needs the cycle, the times and
 * the configuration): the core objects that the harnesses link (the pool,
 * the allocator) call only this of it, so it is stubbed here, writing the
 * message to stderr
 */

void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   *p;
    va_list   args;
    u_char    errstr[NGX_MAX_ERROR_STR];

    p = ngx_slprintf(errstr, errstr + sizeof(errstr) - 1, "fuzz: [%ui] ",
                     level);

    va_start(args, fmt);
    p = ngx_vslprintf(p, errstr + sizeof(errstr) - 1, fmt, args);
    va_end(args);

    if (err) {
        p = ngx_slprintf(p, errstr + sizeof(errstr) - 1, " (%d)", err);
    }

    *p++ = '\n';

    (void) write(STDERR_FILENO, errstr, p - errstr);
}


/* the first byte of an input chooses which of n modes tries the rest */

int
ngx_social_fuzz_modes(const uint8_t *data, size_t size,
    ngx_social_fuzz_pt *modes, ngx_uint_t n)
{
    ngx_pool_t  *pool;

    if (size == 0) {
        return 0;
    }

    pool = ngx_social_fuzz_pool();

    modes[data[0] % n](pool, data + 1, size - 1);

    ngx_destroy_pool(pool);

    return 0;
}


ngx_pool_t *
ngx_social_fuzz_pool(void)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(1024, &ngx_social_fuzz_log);

    ngx_social_fuzz_check(pool != NULL, "no pool");

    return pool;
}


/* the bytes in an allocation of their own size: ASan sees past the end */

u_char *
ngx_social_fuzz_copy(ngx_pool_t *pool, const u_char *data, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(pool, len);

    ngx_social_fuzz_check(p != NULL, "no memory");

    ngx_memcpy(p, data, len);

    return p;
}


void
ngx_social_fuzz_b64url(ngx_pool_t *pool, const u_char *data, size_t len,
    ngx_str_t *out)
{
    ngx_str_t  src;

    src.data = (u_char *) data;
    src.len = len;

    out->data = ngx_pnalloc(pool, ngx_base64_encoded_length(len));

    ngx_social_fuzz_check(out->data != NULL, "no memory");

    ngx_encode_base64url(out, &src);
}


/* HMAC-SHA-256, 32 bytes into mac */

void
ngx_social_fuzz_hmac(ngx_str_t *key, const u_char *data, size_t len,
    u_char *mac)
{
    unsigned int  maclen;

    ngx_social_fuzz_check(HMAC(EVP_sha256(), key->data, key->len, data, len,
                               mac, &maclen)
                          != NULL && maclen == 32, "HMAC failed");
}


/*
 * the input cut at its NUL bytes into at most n parts, the last one
 * taking the rest; the number of parts found (missing ones are empty)
 */

ngx_uint_t
ngx_social_fuzz_split(const u_char *data, size_t size, ngx_str_t *parts,
    ngx_uint_t n)
{
    ngx_uint_t     i;
    const u_char  *p, *last, *nul;

    p = data;
    last = data + size;

    for (i = 0; i < n; i++) {
        parts[i].data = (u_char *) p;
        parts[i].len = 0;
    }

    for (i = 0; i < n && p <= last; i++) {
        nul = (i < n - 1) ? memchr(p, '\0', last - p) : NULL;

        parts[i].data = (u_char *) p;
        parts[i].len = (nul ? nul : last) - p;

        if (nul == NULL) {
            return i + 1;
        }

        p = nul + 1;
    }

    return n;
}


/*
 * the reference reading of decimal digits, written apart from the
 * module's: NGX_OK with the value, NGX_DECLINED when empty or not all
 * digits, NGX_ERROR when all digits but above INT64_MAX
 */

ngx_int_t
ngx_social_fuzz_decimal(const u_char *p, size_t len, int64_t *n)
{
    size_t          i;
    uint64_t        v;
    static u_char   max[] = "9223372036854775807";

    if (len == 0) {
        return NGX_DECLINED;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_DECLINED;
        }
    }

    while (len > 1 && *p == '0') {
        p++;
        len--;
    }

    if (len > sizeof(max) - 1
        || (len == sizeof(max) - 1 && ngx_memcmp(p, max, len) > 0))
    {
        return NGX_ERROR;
    }

    for (v = 0, i = 0; i < len; i++) {
        v = v * 10 + (p[i] - '0');
    }

    *n = (int64_t) v;

    return NGX_OK;
}


/* a property of the parsers does not hold: libFuzzer keeps the input */

void
ngx_social_fuzz_fail(const char *file, ngx_uint_t line, const char *what)
{
    (void) fprintf(stderr, "fuzz: %s:%u: %s\n", file, (unsigned) line, what);

    abort();
}
