# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
worker_connections(1024);
no_shuffle();

plan tests => 61;

add_block_preprocessor(\&social_defaults);

our $Config = <<'_EOC_';
    location = /health {
        social_endpoint health;
    }
_EOC_

# outage("stop-pg", "start-pg", $name): GET /health every 50 ms from a
# child process while the backend is stopped for 3.5 s and started again;
# what the answers were while it was down (503 JSON with Retry-After, or
# the count of others) and how soon after it was back every answer was 200
# again (within 1.5 s, or the time)
sub outage {
    my ($stop, $start, $name) = @_;

    require POSIX;
    require Time::HiRes;

    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    my $log = "$root/logs/$name.answers";
    my $done = "$root/logs/$name.done";
    unlink $log, $done;

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        open my $out, '>', $log or POSIX::_exit(1);
        select((select($out), $| = 1)[0]);
        my $until = time + 30;
        while (!-e $done && time < $until) {
            my ($st, $body, $h) = Social::social_http('GET', '/health');
            my $json = ($h->{'content-type'} // '') =~ m{application/json}
                       && $body =~ /^\{/;
            printf $out "%.3f %s %s\n", Time::HiRes::time(), $st,
                   $st eq '200' || ($st eq '503' && $json
                                    && $h->{'retry-after'}) ? 'ok' : 'bad';
            select undef, undef, undef, 0.05;
        }
        POSIX::_exit(0);
    }

    select undef, undef, undef, 0.5;
    Social::social_service($stop);
    select undef, undef, undef, 3.5;
    Social::social_service($start);
    my $back = Time::HiRes::time();
    select undef, undef, undef, 2.5;
    open my $touch, '>', $done or die "$done: $!\n";
    close $touch;
    waitpid $pid, 0;

    my ($bad, $down, $last, $first) = (0, 0);
    open my $in, '<', $log or die "$log: $!\n";
    while (<$in>) {
        my ($t, $st, $ok) = split;
        $bad++ if $ok ne 'ok';
        $down++ if $st eq '503' && $t < $back;
        $last = $t if $st ne '200' && $t >= $back;
        $first //= $t if $st eq '200' && $t >= $back;
    }
    close $in;

    my $late = defined $last ? $last - $back : 0;

    return "while down: "
           . ($bad ? "$bad answers not 503 JSON with Retry-After"
                   : $down ? "503 JSON with Retry-After"
                           : "no 503")
           . "\nback: " . (defined $first && $late <= 1.5
                            ? "200 within 1.5 s"
                            : sprintf("not 200 until %.2f s", $late))
           . "\n";
}

run_tests();

__DATA__

=== TEST 1: both backends up
--- config eval: $::Config
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- no_error_log
[error]



=== TEST 2: PostgreSQL stopped: 503 naming it, with Retry-After
--- init
Social::social_service("stop-pg");
--- request
GET /health
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body chomp
{"status":"unavailable","postgres":"down","redis":"ok","error":{"code":"service_unavailable","message":"PostgreSQL unavailable."}}



=== TEST 3: PostgreSQL started again: 200 from the same nginx, no reload
--- init
Social::social_service("start-pg");
sleep 2.2;
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- error_log
social pg: connected



=== TEST 4: Redis stopped: 503 naming it
--- init
Social::social_service("stop-redis");
--- request
GET /health
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body chomp
{"status":"unavailable","postgres":"ok","redis":"down","error":{"code":"service_unavailable","message":"Redis unavailable."}}



=== TEST 5: Redis started again: 200 from the same nginx
--- init
Social::social_service("start-redis");
sleep 2.2;
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- error_log
social redis: connected



=== TEST 6: a 1 MB Redis reply is read whole (level-triggered events)
--- config
    location = /blob {
        social_endpoint debug_redis_blob;
    }
--- request
GET /blob
--- timeout: 10
--- response_body chomp
{"bytes":1048576}
--- no_error_log
[error]



=== TEST 7: a client that goes away mid-query leaves no callback behind
--- config
    location = /sleep {
        social_endpoint debug_pg_sleep;
    }
    location = /health {
        social_endpoint health;
    }
--- request
GET /sleep?ms=700
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 1
--- error_log
social: client closed the connection
social: detaching op
social pg: result of a request that went away
--- no_error_log
[error]



=== TEST 8: and its connection went back to the pool
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- error_log
social pg: reusing connection
--- no_error_log
[error]



=== TEST 9: 200 concurrent requests are all answered
--- config eval: $::Config
--- init
Social::social_result(Social::social_concurrent(200, "/health") . "\n");
--- response_body
200:200
--- no_error_log
[error]



=== TEST 10: a full wait queue answers 503 at once
--- http_config
    social_postgres_pool 1;
    social_postgres_queue 1;
--- config
    location = /sleep {
        social_endpoint debug_pg_sleep;
    }
--- init
Social::social_result(Social::social_concurrent(5, "/sleep?ms=300") . "\n");
--- response_body
200:1 503:4
--- error_log
social: postgres wait queue is full



=== TEST 11: a wait past social_postgres_queue_timeout answers 503
--- http_config
    social_postgres_pool 1;
    social_postgres_queue_timeout 100ms;
--- config
    location = /sleep {
        social_endpoint debug_pg_sleep;
    }
--- init
Social::social_result(Social::social_concurrent(2, "/sleep?ms=500") . "\n");
--- response_body
200:1 503:1
--- error_log
social: no postgres connection within the queue timeout



=== TEST 12: a query past social_postgres_query_timeout answers 503
--- http_config
    social_postgres_query_timeout 200ms;
--- config
    location = /sleep {
        social_endpoint debug_pg_sleep;
    }
--- request
GET /sleep?ms=1000
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like chomp
"service_unavailable"
--- error_log
social: postgres query timed out



=== TEST 13: a Redis command past social_redis_timeout: 503, connection replaced
--- http_config
    social_redis_timeout 300ms;
--- config eval: $::Config
--- init
system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} CLIENT PAUSE 1200 ALL >/dev/null");
--- request
GET /health
--- error_code: 503
--- response_body chomp
{"status":"unavailable","postgres":"ok","redis":"timeout","error":{"code":"service_unavailable","message":"Redis unavailable."}}
--- error_log
social: redis timed out, dropping the connection



=== TEST 14: and the next request after the pause gets a new connection
--- init
sleep 2.5;
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- error_log
social redis: closing



=== TEST 15: social_postgres_queue 0: nothing waits, but connections are made
--- http_config
    social_postgres_pool 1;
    social_postgres_queue 0;
--- config eval: $::Config
--- init
Social::social_http("GET", "/health");
select undef, undef, undef, 0.5;
--- request
GET /health
--- response_body chomp
{"status":"ok","postgres":"ok","redis":"ok"}
--- no_error_log
[error]



=== TEST 16: PostgreSQL stopped for 3.5 s under light load: only 503 JSON with Retry-After, then 200 again within 1.5 s of it being back
--- config eval: $::Config
--- init
Social::social_result(::outage("stop-pg", "start-pg", "pg-outage"));
--- response_body
while down: 503 JSON with Retry-After
back: 200 within 1.5 s
--- no_error_log
[crit]
[alert]



=== TEST 17: Redis stopped for 3.5 s under light load: the same
--- config eval: $::Config
--- init
Social::social_result(::outage("stop-redis", "start-redis", "redis-outage"));
--- response_body
while down: 503 JSON with Retry-After
back: 200 within 1.5 s
--- no_error_log
[crit]
[alert]



=== TEST 18: a 16 MB command sent while Redis is busy (a script running for 0.8 s) is written in parts: the rest when epoll says the socket takes it, then answered
--- config
    location = /blob {
        social_endpoint debug_redis_blob;
    }
--- init
system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} EVAL "
       . "\"local t = redis.call('TIME') "
       . "local s = t[1] * 1000000 + t[2] "
       . "repeat local n = redis.call('TIME') "
       . "until n[1] * 1000000 + n[2] - s > 800000 return 1\" 0 "
       . "> /dev/null &");
select(undef, undef, undef, 0.2);
--- request
GET /blob?mb=16
--- timeout: 20
--- response_body chomp
{"bytes":16777216}
--- error_log
social redis: a write did not finish, the write waits for epoll
--- no_error_log
[error]
