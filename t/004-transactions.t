# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => 17;

our $HttpConfig = <<'_EOC_';
    social_debug_endpoints on;
    social_postgres_pool 2;
_EOC_

our $Config = <<'_EOC_';
    location = /txn {
        social_endpoint debug_pg_txn;
    }
_EOC_

add_block_preprocessor(\&social_defaults);

run_tests();

__DATA__

=== TEST 1: statements between BEGIN and COMMIT run on one connection
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /txn?key=committed&commit=1
--- response_body chomp
{"visible":1}
--- error_log
social pg: reusing connection
--- no_error_log
[error]



=== TEST 2: a ROLLBACK leaves nothing behind
--- request
GET /txn?key=rolled-back&commit=0
--- response_body chomp
{"visible":0}
--- no_error_log
[error]



=== TEST 3: a client that goes away mid-transaction: it is rolled back
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /txn?key=abandoned&commit=1&ms=700
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 1
--- error_log
social: client closed the connection
social pg: result of a request that went away
social pg: rolling back on
--- no_error_log
[error]



=== TEST 4: what the abandoned transaction wrote is not there
--- request
GET /txn?key=probe&commit=1&check=abandoned
--- response_body chomp
{"visible":0}
--- no_error_log
[error]



=== TEST 5: concurrent transactions each get their own connection
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- init
Social::social_concurrent(6, "/txn?key=many&commit=1&ms=200", "many");
--- request
GET /many.txt
--- response_body
200:6
--- no_error_log
[error]
