# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(2);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

add_block_preprocessor(\&social_defaults);

run_tests();

__DATA__

=== TEST 1: the module loads and /health answers from it
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- response_headers
Content-Type: application/json
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- no_error_log
[error]



=== TEST 2: HEAD /health has the headers and no body
--- config
    location = /health {
        social_endpoint health;
    }
--- request
HEAD /health
--- response_headers
Content-Type: application/json
--- response_body
--- no_error_log
[error]



=== TEST 3: locations without social_endpoint are nginx's as before
--- config
    location = /health {
        social_endpoint health;
    }
    location = /plain {
        return 200 "plain\n";
    }
--- request
GET /plain
--- response_headers
Content-Type: text/plain
--- response_body
plain
--- no_error_log
[error]



=== TEST 4: the endpoint answers at any path the operator maps
--- config
    location ~ ^/status/(\w+)$ {
        social_endpoint health;
    }
--- request
GET /status/now
--- response_headers
Content-Length: 44
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- no_error_log
[error]
