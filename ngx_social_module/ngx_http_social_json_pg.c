
/*
 * Copyright (C) ngx_social developers
 */


/*
 * The bridge from PostgreSQL to JSON: a column of a result written as a
 * JSON value, and JSON that PostgreSQL built written as it is.
 */


#include "ngx_http_social_module.h"
#include "ngx_http_social_json.h"


/*
 * JSON that PostgreSQL built (to_json, json_agg) goes out as it is: yajl
 * writes a number's text verbatim, which is what this needs
 */

void
ngx_http_social_json_raw(yajl_gen g, const char *json, size_t len)
{
    (void) yajl_gen_number(g, json, len);
}


/* a column of a result as a JSON value: NULL as null */

void
ngx_http_social_json_pg(yajl_gen g, PGresult *res, int row, int col,
    ngx_uint_t type)
{
    if (PQgetisnull(res, row, col)) {
        (void) yajl_gen_null(g);
        return;
    }

    switch (type) {

    case NGX_HTTP_SOCIAL_JSON_STRING:
        (void) yajl_gen_string(g, (u_char *) PQgetvalue(res, row, col),
                               PQgetlength(res, row, col));
        break;

    default:
        /* integers and JSON text */
        ngx_http_social_json_raw(g, PQgetvalue(res, row, col),
                                 PQgetlength(res, row, col));
    }
}
