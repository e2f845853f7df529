# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (2 * blocks());

add_block_preprocessor(\&social_defaults);

run_tests();

__DATA__

=== TEST 1: an unknown endpoint name fails the configuration
--- config
    location = /x {
        social_endpoint no_such_thing;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qunknown endpoint "no_such_thing" in "social_endpoint"\E}



=== TEST 2: the production module has no test-only endpoint (social_debug_endpoints is accepted, and does nothing)
--- main_config eval: $Social::ProductionMainConfig
--- http_config
    social_debug_endpoints on;
--- config
    location = /x {
        social_endpoint debug_pg_sleep;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qunknown endpoint "debug_pg_sleep" in "social_endpoint"\E}



=== TEST 3: social_endpoint takes exactly one name
--- config
    location = /x {
        social_endpoint health group;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qinvalid number of arguments in "social_endpoint" directive\E}



=== TEST 4: a PostgreSQL host name is refused (it would block to resolve)
--- http_config
    social_postgres "host=db.example.com dbname=social";
    social_redis 127.0.0.1:6379;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_postgres" needs a numeric host address or a unix socket directory\E}



=== TEST 5: a malformed connection string is refused
--- http_config
    social_postgres "host=127.0.0.1 port";
    social_redis 127.0.0.1:6379;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qinvalid connection string in "social_postgres"\E}



=== TEST 6: a Redis host name is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis redis.example.com:6379;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_redis" needs a numeric address and a port\E}



=== TEST 7: a Redis address without a port is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_redis" needs a numeric address and a port\E}



=== TEST 8: social_postgres belongs to the http block
--- config
    location = /health {
        social_postgres "host=127.0.0.1 dbname=social";
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_postgres" directive is not allowed here\E}



=== TEST 9: a pool of zero connections is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_postgres_pool 0;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_postgres_pool" must be between 1 and 1024, not "0"\E}



=== TEST 10: a bad timeout is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_postgres_query_timeout soon;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_postgres_query_timeout" directive invalid value\E}



=== TEST 11: social_postgres given twice is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_postgres "host=127.0.0.1 dbname=other";
    social_redis 127.0.0.1:6379;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_postgres" directive is duplicate\E}



=== TEST 12: a unix socket directory and a unix Redis socket are accepted
--- http_config
    social_postgres "host=/var/run/postgresql dbname=social";
    social_redis unix:/tmp/no-such-redis.sock;
--- config
    location = /plain {
        return 200 "fine\n";
    }
--- request
GET /plain
--- response_body
fine



=== TEST 13: a JWT key under 32 bytes is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_jwt_key_file /dev/null;
--- config
    location = /signup {
        social_endpoint signup;
    }
--- request
GET /signup
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_jwt_key_file" "/dev/null" must hold a key of 32 to 4096 bytes\E}



=== TEST 14: endpoints that issue tokens need the key
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
--- config
    location = /signin {
        social_endpoint signin;
    }
--- request
GET /signin
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qneed "social_jwt_key_file"\E}



=== TEST 15: a threshold above 1 is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_group_threshold 1.5;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_group_threshold" must be a number above 0 and at most 1, not "1.5"\E}



=== TEST 16: a password cost beyond scrypt's sane range is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_password_cost 30;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_password_cost" must be between 4 and 22, not "30"\E}



=== TEST 17: a password queue of nothing is refused
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_password_queue 0;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_password_queue" must be between 1 and 1024, not "0"\E}



=== TEST 18: social_signin_throttle takes free=, window= and max= only
--- http_config
    social_postgres "host=127.0.0.1 dbname=social";
    social_redis 127.0.0.1:6379;
    social_signin_throttle free=3 window=1m wait=2s;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qinvalid parameter "wait=2s"\E}



=== TEST 19: the gate's and the signin's directives, and throttling off
--- http_config
    social_password_queue 100;
    social_password_threads 2;
    social_signin_deadline 500ms;
    social_signin_throttle off;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 20: social_feed_cache_valid is at most 2s (a deleted post leaves every cached feed within 2 s)
--- http_config
    social_feed_cache_valid 3s;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_feed_cache_valid" directive must be at most 2s\E}



=== TEST 21: social_access names an endpoint of the module
--- config
    location = /x {
        social_access no_such_thing;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Qunknown endpoint "no_such_thing" in "social_access"\E}



=== TEST 22: the cache's directives, social_access and social_internal
--- http_config
    social_group_cache_valid 10m;
    social_feed_cache_valid 1s;
--- config
    social_internal off;
    location = /health {
        social_endpoint health;
    }
    location = /x {
        social_access feed;
        return 204;
    }
--- request
GET /health
--- error_code: 200
--- no_error_log
[emerg]



=== TEST 23: social_access takes only the reads of the response cache
--- config
    location = /x {
        social_access posts;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_access" takes an endpoint of the response cache (group, feed), not "posts"\E}



=== TEST 24: social_access and social_endpoint are not in one location
--- config
    location = /x {
        social_endpoint feed;
        social_access feed;
    }
--- request
GET /x
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_access" directive cannot be used with "social_endpoint" in one location\E}



=== TEST 25: social_group_cache_valid is at most 1h
--- http_config
    social_group_cache_valid 2h;
--- config
    location = /health {
        social_endpoint health;
    }
--- request
GET /health
--- must_die
--- suppress_stderr
--- error_log eval
qr{\[emerg\] .*\Q"social_group_cache_valid" directive must be at most 1h\E}
