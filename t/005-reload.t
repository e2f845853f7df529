# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
master_on();
workers(1);

plan tests => 13;

add_block_preprocessor(\&social_defaults);

run_tests();

__DATA__

=== TEST 1: the PostgreSQL pool holds two connections, Redis one
--- config
    location = /health {
        social_endpoint health;
    }
    location = /sleep {
        social_endpoint debug_pg_sleep;
    }
--- init
Social::social_concurrent(2, "/sleep?ms=200");
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- no_error_log
[error]



=== TEST 2: on reload, idle connections close at once, a busy one after its reply
--- init
my $bg = Social::social_background("/sleep?ms=800");
select undef, undef, undef, 0.3;
Social::social_signal("HUP");
sleep 2;
Social::social_result(Social::social_background_result($bg));
--- response_body
200:1
--- error_log
social pg: closing idle
social redis: closing idle
social pg: closing
after its reply, the worker is exiting



=== TEST 3: a graceful quit waits for a password hash on the thread pool, and the client gets its answer
--- http_config eval
$Social::Backends =~ s/social_password_cost \d+/social_password_cost 18/r
--- config
    location = /signup {
        social_endpoint signup;
    }
--- init
Social::social_signal("QUIT", 0.3);
--- request
POST /signup
{"password": "a password that takes a while"}
--- more_headers
Content-Type: application/json
--- timeout: 10
--- error_code: 201
--- response_body_like chomp
^\{"user_id":\d+,
--- error_log
gracefully shutting down
--- no_error_log
[error]
