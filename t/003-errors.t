# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

our $Config = <<'_EOC_';
    error_page 400 404 405 408 413 414 500 502 503 504 /_social/error;

    location = /_social/error {
        internal;
        social_endpoint error;
    }

    location = /echo {
        client_max_body_size 1k;
        social_endpoint debug_echo;
    }

    location = /health {
        client_max_body_size 1k;
        social_endpoint health;
    }

    location /api/ {
        return 404;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log || defined $block->error_log;

    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: a typed view of a valid body
--- request
POST /echo?limit=7
{"id": 9223372036854775807, "name": "n\u00e9", "tags": ["a", "bc"], "x": [1, {"y": null}]}
--- more_headers
Content-Type: application/json; charset=utf-8
--- response_headers
Content-Type: application/json
--- response_body chomp
{"id":9223372036854775807,"name":"né","tags":["a","bc"],"limit":7}



=== TEST 2: an empty body counts as {}
--- request
POST /echo
--- response_headers
Content-Type: application/json
--- response_body chomp
{"id":null,"name":null,"tags":[],"limit":20}



=== TEST 3: an unmatched path is a JSON 404
--- request
GET /api/nothing/here
--- response_headers
Content-Type: application/json
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"Nothing is here."}}



=== TEST 4: a method the endpoint does not take is 405 with Allow
--- request
DELETE /health
--- response_headers
Allow: GET, HEAD
--- error_code: 405
--- response_body chomp
{"error":{"code":"method_not_allowed","message":"This method is not allowed here."}}



=== TEST 5: a body over client_max_body_size is nginx's 413, as JSON
--- request eval
"POST /echo\n" . ("x" x 2048)
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 413
--- response_body chomp
{"error":{"code":"payload_too_large","message":"The request body is too large."}}
--- error_log
client intended to send too large body



=== TEST 6: a body that is not JSON by its type is 415
--- request
POST /echo
{"id": 1}
--- more_headers
Content-Type: text/plain
--- response_headers
Content-Type: application/json
--- error_code: 415
--- response_body chomp
{"error":{"code":"unsupported_media_type","message":"The request body must be application/json."}}



=== TEST 7: invalid JSON is 400 invalid_json
--- request
POST /echo
{"id": 1,
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"The request body is not valid UTF-8 JSON."}}



=== TEST 8: invalid UTF-8 is 400 invalid_json
--- request eval
"POST /echo\n{\"name\": \"\xff\xfe\"}"
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"The request body is not valid UTF-8 JSON."}}



=== TEST 9: valid JSON that is not an object is 422
--- request
POST /echo
[1, 2]
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"The request body must be a JSON object."}}



=== TEST 10: an id of 0 is 422 with field
--- request
POST /echo
{"id": 0}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"id must be an integer id from 1 to 2^63-1.","field":"id"}}



=== TEST 11: an id past 2^63-1 is 422, not a parse error
--- request
POST /echo
{"id": 9223372036854775808}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"id"



=== TEST 12: a non-integer id is 422
--- request
POST /echo
{"id": 1.0}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"id"



=== TEST 13: an id sent as a string is 422
--- request
POST /echo
{"id": "5"}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"id"



=== TEST 14: a negative id is 422
--- request
POST /echo
{"id": -3}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"id"



=== TEST 15: the field of an array item is its path
--- request
POST /echo
{"tags": ["ok", "much too long"]}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"tags[1] must be 1 to 5 characters long.","field":"tags[1]"}}



=== TEST 16: lengths count code points, not bytes
--- request
POST /echo
{"tags": ["ééééé"]}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- response_body chomp
{"id":null,"name":null,"tags":["ééééé"],"limit":20}



=== TEST 17: a NUL character is 422
--- request
POST /echo
{"name": "a\u0000b"}
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"name must not contain NUL.","field":"name"}}



=== TEST 18: limit=abc is 422 with field limit
--- request
POST /echo?limit=abc
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"limit must be an integer from 1 to 100.","field":"limit"}}



=== TEST 19: limit=0 is 422
--- request
POST /echo?limit=0
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"limit"



=== TEST 20: limit=101 is 422
--- request
POST /echo?limit=101
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"limit"



=== TEST 21: limit=1e2 is 422
--- request
POST /echo?limit=1e2
--- response_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"limit"



=== TEST 22: error order: 413 before 405
--- request eval
"PUT /health\n" . ("x" x 2048)
--- more_headers
Content-Type: text/plain
--- response_headers
Content-Type: application/json
--- error_code: 413
--- response_body_like chomp
"payload_too_large"
--- error_log
client intended to send too large body



=== TEST 23: error order: 405 before 415 and 400
--- request
GET /echo
{not json
--- more_headers
Content-Type: text/plain
--- response_headers
Allow: POST
--- error_code: 405
--- response_body_like chomp
"method_not_allowed"



=== TEST 24: error order: 415 before 400
--- request
POST /echo
{not json
--- more_headers
Content-Type: text/plain
--- response_headers
Content-Type: application/json
--- error_code: 415
--- response_body_like chomp
"unsupported_media_type"



=== TEST 25: error order: 400 before 422
--- request
POST /echo?limit=0
{not json
--- more_headers
Content-Type: application/json
--- response_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like chomp
"invalid_json"

