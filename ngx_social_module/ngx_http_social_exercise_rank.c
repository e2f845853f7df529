
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The ranking of GET /exercises, pure over the statement's result and
 * Redis's counts: the result checked, the counts that still count merged
 * with its rows (sorted by keys, then source), each subcategory's
 * frequency summed, the most frequent taken, and each one's spelling and
 * own utterances (from both stores, each once, newest first).  What it
 * keeps is in the request's pool; nothing points into the result after.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_points.h"
#include "ngx_http_social_exercise_rank.h"


/* a count of a subcategory: a row of the result, or one of Redis */

typedef struct {
    ngx_str_t                       ck;
    ngx_str_t                       sk;
    ngx_int_t                       src;
    int                             row;
    ngx_http_social_point_count_t  *count;
} ngx_http_social_item_t;


/* a subcategory: its counts (items, by keys then source), its frequency */

typedef struct {
    ngx_uint_t                      first;
    ngx_uint_t                      last;       /* past its items */
    int64_t                         frequency;
    ngx_uint_t                      taken;      /* unsigned:1 */
} ngx_http_social_group_t;


/* a ranking's state */

typedef struct {
    ngx_pool_t                     *pool;
    ngx_http_social_point_view_t   *view;
    ngx_http_social_item_t         *items;
    ngx_uint_t                      limit;
} ngx_http_social_rank_t;


static ngx_int_t ngx_http_social_rank_items(ngx_http_social_rank_t *rk,
    PGresult *res, int version, ngx_uint_t *n);
static int ngx_libc_cdecl ngx_http_social_item_cmp(const void *one,
    const void *two);
static int ngx_http_social_rank_keys(ngx_http_social_item_t *a,
    ngx_http_social_item_t *b);
static ngx_int_t ngx_http_social_rank_focus(ngx_http_social_rank_t *rk,
    PGresult *res, ngx_http_social_group_t *group,
    ngx_http_social_focus_t *f);
static ngx_int_t ngx_http_social_rank_own(ngx_http_social_rank_t *rk,
    PGresult *res, ngx_http_social_group_t *group,
    ngx_http_social_focus_t *f);
static int ngx_libc_cdecl ngx_http_social_own_cmp(const void *one,
    const void *two);


/*
 * the result as the statement makes it: its columns, a known source in
 * each row, the keys and a count in each, one row of the bank's version;
 * that row, or -1
 */

int
ngx_http_social_exercise_check(PGresult *res)
{
    int        row, n, version;
    ngx_int_t  src;

    n = PQntuples(res);
    version = -1;

    if (PQnfields(res) != NGX_HTTP_SOCIAL_EXERCISES_NCOLS) {
        return -1;
    }

    for (row = 0; row < n; row++) {
        src = ngx_http_social_exercise_int(res, row,
                                         NGX_HTTP_SOCIAL_EXERCISES_COL_SOURCE);

        if (src < NGX_HTTP_SOCIAL_EXERCISES_TOTAL
            || (src == NGX_HTTP_SOCIAL_EXERCISES_TOTAL
                && ngx_strcmp(PQgetvalue(res, row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_SOURCE),
                              "-1")
                   != 0)
            || src == NGX_HTTP_SOCIAL_EXERCISES_OPEN
            || src == NGX_HTTP_SOCIAL_EXERCISES_WAITING
            || src > NGX_HTTP_SOCIAL_EXERCISES_VERSION
            || ngx_http_social_exercise_int(res, row,
                                         NGX_HTTP_SOCIAL_EXERCISES_COL_COUNT)
               < 0)
        {
            return -1;
        }

        if (src == NGX_HTTP_SOCIAL_EXERCISES_VERSION) {
            if (version != -1
                || PQgetisnull(res, row,
                               NGX_HTTP_SOCIAL_EXERCISES_COL_OPEN_APPLIED)
                || PQgetisnull(res, row,
                               NGX_HTTP_SOCIAL_EXERCISES_COL_LATER_APPLIED))
            {
                return -1;
            }

            version = row;
            continue;
        }

        if (PQgetisnull(res, row, NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY_KEY)
            || PQgetisnull(res, row,
                           NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY_KEY))
        {
            return -1;
        }
    }

    return version;
}


/*
 * The subcategories: each one's counts summed (the result's and those of
 * Redis that still count), the most frequent taken (ties by keys, as
 * bytes), at most the limit of them
 */

ngx_int_t
ngx_http_social_exercise_rank(ngx_pool_t *pool, PGresult *res, int version,
    ngx_http_social_point_view_t *view, ngx_uint_t limit,
    ngx_http_social_focus_t *focus, ngx_uint_t *nfocus)
{
    ngx_uint_t                n, ngroups, i, k, best, total;
    ngx_http_social_rank_t    rank, *rk;
    ngx_http_social_item_t   *items, *it;
    ngx_http_social_group_t  *groups, *g;

    rk = &rank;
    rk->pool = pool;
    rk->view = view;
    rk->limit = limit;

    if (ngx_http_social_rank_items(rk, res, version, &n) != NGX_OK) {
        return NGX_ERROR;
    }

    items = rk->items;

    groups = ngx_palloc(rk->pool,
                        (n + 1) * sizeof(ngx_http_social_group_t));
    if (groups == NULL) {
        return NGX_ERROR;
    }

    ngroups = 0;
    g = NULL;
    total = 0;

    for (i = 0; i < n; i++) {
        it = &items[i];

        if (g == NULL || ngx_http_social_rank_keys(it, it - 1) != 0) {
            g = &groups[ngroups++];
            g->first = i;
            g->frequency = 0;
            g->taken = 0;
            total = 0;
        }

        g->last = i + 1;

        if (it->count) {
            g->frequency += it->count->n;
            continue;
        }

        if (it->src == NGX_HTTP_SOCIAL_EXERCISES_TWICE) {
            g->frequency -= ngx_http_social_exercise_int(res, it->row,
                                          NGX_HTTP_SOCIAL_EXERCISES_COL_COUNT);
            continue;
        }

        /* a row for each of its newest utterances: the total once */

        if (!total) {
            total = 1;
            g->frequency += ngx_http_social_exercise_int(res, it->row,
                                          NGX_HTTP_SOCIAL_EXERCISES_COL_COUNT);
        }
    }

    *nfocus = 0;

    for (k = 0; k < rk->limit && k < ngroups; k++) {
        best = ngroups;

        for (i = 0; i < ngroups; i++) {
            if (groups[i].taken) {
                continue;
            }

            if (best == ngroups
                || groups[i].frequency > groups[best].frequency
                || (groups[i].frequency == groups[best].frequency
                    && ngx_http_social_rank_keys(&items[groups[i].first],
                                                 &items[groups[best].first])
                       < 0))
            {
                best = i;
            }
        }

        groups[best].taken = 1;

        if (ngx_http_social_rank_focus(rk, res, &groups[best],
                                       &focus[(*nfocus)++])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The counts, sorted by keys then source: the result's rows and Redis's
 * counts that still count (the open batch's unless it is applied, the
 * user's unless a batch cut after the read is)
 */

static ngx_int_t
ngx_http_social_rank_items(ngx_http_social_rank_t *rk, PGresult *res,
    int version, ngx_uint_t *n)
{
    int                             row, rows;
    ngx_uint_t                      i, k, open_applied, later_applied;
    ngx_http_social_item_t         *it;
    ngx_http_social_point_count_t  *count;

    rows = PQntuples(res);

    open_applied = (PQgetvalue(res, version,
                        NGX_HTTP_SOCIAL_EXERCISES_COL_OPEN_APPLIED)[0] == 't');
    later_applied = (PQgetvalue(res, version,
                       NGX_HTTP_SOCIAL_EXERCISES_COL_LATER_APPLIED)[0] == 't');

    rk->items = ngx_palloc(rk->pool,
                           (rows + rk->view->ncounts)
                           * sizeof(ngx_http_social_item_t));
    if (rk->items == NULL) {
        return NGX_ERROR;
    }

    k = 0;

    for (row = 0; row < rows; row++) {
        if (row == version) {
            continue;
        }

        it = &rk->items[k++];

        ngx_http_social_exercise_str(res, row,
                                  NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY_KEY,
                                  &it->ck);
        ngx_http_social_exercise_str(res, row,
                               NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY_KEY,
                               &it->sk);
        it->src = ngx_http_social_exercise_int(res, row,
                                         NGX_HTTP_SOCIAL_EXERCISES_COL_SOURCE);
        it->row = row;
        it->count = NULL;
    }

    for (i = 0; i < rk->view->ncounts; i++) {
        count = &rk->view->counts[i];

        if (count->open ? open_applied : later_applied) {
            /* the batch that holds it is in the totals */
            continue;
        }

        it = &rk->items[k++];

        it->ck = count->ck;
        it->sk = count->sk;
        it->src = count->open ? NGX_HTTP_SOCIAL_EXERCISES_OPEN
                              : NGX_HTTP_SOCIAL_EXERCISES_WAITING;
        it->row = (int) i;      /* Redis's order, for a stable sort */
        it->count = count;
    }

    ngx_qsort(rk->items, k, sizeof(ngx_http_social_item_t),
              ngx_http_social_item_cmp);

    *n = k;

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_social_item_cmp(const void *one, const void *two)
{
    int                      cmp;
    ngx_http_social_item_t  *a, *b;

    a = (ngx_http_social_item_t *) one;
    b = (ngx_http_social_item_t *) two;

    cmp = ngx_http_social_rank_keys(a, b);

    if (cmp != 0) {
        return cmp;
    }

    if (a->src != b->src) {
        return (a->src < b->src) ? -1 : 1;
    }

    /* the result's rows as they came (qsort is not stable) */

    return (a->row < b->row) ? -1 : (a->row > b->row);
}


/* two counts' keys as the ranking orders them: category, then subcategory */

static int
ngx_http_social_rank_keys(ngx_http_social_item_t *a,
    ngx_http_social_item_t *b)
{
    int  cmp;

    cmp = ngx_memn2cmp(a->ck.data, b->ck.data, a->ck.len, b->ck.len);

    if (cmp != 0) {
        return cmp;
    }

    return ngx_memn2cmp(a->sk.data, b->sk.data, a->sk.len, b->sk.len);
}


/*
 * A focus subcategory, kept in the request's pool: its keys, its first
 * spelling (PostgreSQL's, else the open batch's, else Redis's), its
 * frequency and its own utterances
 */

static ngx_int_t
ngx_http_social_rank_focus(ngx_http_social_rank_t *rk, PGresult *res,
    ngx_http_social_group_t *group, ngx_http_social_focus_t *f)
{
    ngx_uint_t               i;
    ngx_pool_t              *pool;
    ngx_http_social_item_t  *it;

    pool = rk->pool;

    ngx_memzero(f, sizeof(ngx_http_social_focus_t));

    f->frequency = group->frequency;

    it = &rk->items[group->first];

    f->ck.data = ngx_pstrdup(pool, &it->ck);
    f->ck.len = it->ck.len;
    f->sk.data = ngx_pstrdup(pool, &it->sk);
    f->sk.len = it->sk.len;

    if ((f->ck.data == NULL && f->ck.len) || (f->sk.data == NULL && f->sk.len))
    {
        return NGX_ERROR;
    }

    f->category = f->ck;
    f->subcategory = f->sk;

    for (i = group->first; i < group->last; i++) {
        it = &rk->items[i];

        if (it->count) {
            /* Redis's, in the pool */
            f->category = it->count->category;
            f->subcategory = it->count->subcategory;
            break;
        }

        if (PQgetisnull(res, it->row, NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY)
            || PQgetisnull(res, it->row,
                           NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY))
        {
            continue;
        }

        if (ngx_http_social_exercise_copy(pool, res, it->row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_CATEGORY,
                                      &f->category)
            != NGX_OK
            || ngx_http_social_exercise_copy(pool, res, it->row,
                                   NGX_HTTP_SOCIAL_EXERCISES_COL_SUBCATEGORY,
                                   &f->subcategory)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        break;
    }

    return ngx_http_social_rank_own(rk, res, group, f);
}


/*
 * The subcategory's own utterances: PostgreSQL's newest (with their
 * texts) and those waiting in Redis (their texts read later), each once,
 * newest (highest id) first, at most the limit
 */

static ngx_int_t
ngx_http_social_rank_own(ngx_http_social_rank_t *rk, PGresult *res,
    ngx_http_social_group_t *group, ngx_http_social_focus_t *f)
{
    u_char                  *p, *end, *comma;
    int64_t                  id;
    ngx_str_t               *ids;
    ngx_uint_t               n, i, k;
    ngx_pool_t              *pool;
    ngx_http_social_own_t   *all;
    ngx_http_social_item_t  *it;

    pool = rk->pool;

    /* at most: a row's utterance each, and each id of Redis's */

    n = 0;

    for (i = group->first; i < group->last; i++) {
        it = &rk->items[i];
        n++;

        if (it->count) {
            ids = &it->count->utterances;

            for (k = 0; k < ids->len; k++) {
                n += (ids->data[k] == ',');
            }
        }
    }

    all = ngx_palloc(pool, n * sizeof(ngx_http_social_own_t));
    f->own = ngx_palloc(pool, rk->limit * sizeof(ngx_http_social_own_t));

    if (all == NULL || f->own == NULL) {
        return NGX_ERROR;
    }

    n = 0;

    for (i = group->first; i < group->last; i++) {
        it = &rk->items[i];

        if (it->count == NULL) {
            if (it->src != NGX_HTTP_SOCIAL_EXERCISES_TOTAL
                || PQgetisnull(res, it->row,
                               NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE))
            {
                continue;
            }

            all[n].id = ngx_http_social_exercise_int(res, it->row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_UTTERANCE);

            /* beyond the statement's cut, the text is read if offered */

            if (PQgetisnull(res, it->row,
                            NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT))
            {
                ngx_str_null(&all[n].content);

            } else {
                ngx_http_social_exercise_str(res, it->row,
                                      NGX_HTTP_SOCIAL_EXERCISES_COL_CONTENT,
                                      &all[n].content);
            }

            if (all[n].id > 0) {
                n++;
            }

            continue;
        }

        p = it->count->utterances.data;
        end = p + it->count->utterances.len;

        while (p < end) {
            comma = ngx_strlchr(p, end, ',');

            if (comma == NULL) {
                comma = end;
            }

            id = ngx_atoof(p, comma - p);

            if (id > 0) {
                all[n].id = id;
                ngx_str_null(&all[n].content);
                n++;
            }

            p = comma + 1;
        }
    }

    /* newest first; of one id, the one with its text */

    ngx_qsort(all, n, sizeof(ngx_http_social_own_t), ngx_http_social_own_cmp);

    k = 0;

    for (i = 0; i < n && k < rk->limit; i++) {
        if (k > 0 && f->own[k - 1].id == all[i].id) {
            continue;
        }

        f->own[k] = all[i];

        if (all[i].content.data) {
            /* kept past this result */

            p = ngx_pnalloc(pool, all[i].content.len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(p, all[i].content.data, all[i].content.len);
            p[all[i].content.len] = '\0';
            f->own[k].content.data = p;
        }

        k++;
    }

    f->nown = k;

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_http_social_own_cmp(const void *one, const void *two)
{
    ngx_http_social_own_t  *a, *b;

    a = (ngx_http_social_own_t *) one;
    b = (ngx_http_social_own_t *) two;

    if (a->id != b->id) {
        return (a->id > b->id) ? -1 : 1;
    }

    /* the text first */

    return (b->content.data != NULL) - (a->content.data != NULL);
}


/* a column's decimal integer (-1 when it is not one) */

int64_t
ngx_http_social_exercise_int(PGresult *res, int row, int col)
{
    u_char   *p;
    size_t    len;
    int64_t   n;

    p = (u_char *) PQgetvalue(res, row, col);
    len = PQgetlength(res, row, col);

    if (len > 1 && p[0] == '-') {
        n = ngx_atoof(p + 1, len - 1);
        return (n == NGX_ERROR) ? -1 : -n;
    }

    n = ngx_atoof(p, len);

    return (n == NGX_ERROR) ? -1 : n;
}


/* a column's text, as it stays in the result */

void
ngx_http_social_exercise_str(PGresult *res, int row, int col, ngx_str_t *s)
{
    s->data = (u_char *) PQgetvalue(res, row, col);
    s->len = PQgetlength(res, row, col);
}


/* a column's text, copied to the pool (the result goes before the answer) */

ngx_int_t
ngx_http_social_exercise_copy(ngx_pool_t *pool, PGresult *res, int row,
    int col, ngx_str_t *s)
{
    s->len = PQgetlength(res, row, col);
    s->data = ngx_pnalloc(pool, s->len + 1);

    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, PQgetvalue(res, row, col), s->len);
    s->data[s->len] = '\0';

    return NGX_OK;
}
