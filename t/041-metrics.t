# vim:set ft= ts=4 sw=4 et fdm=marker:

# GET /metrics and the rate limits of the shipped production configuration
# (conf/social/public.conf and http.conf as they ship): the Prometheus text
# exposition, its counters moving with the requests made (HITs of the
# response cache too, the internal server's never), the latency
# histogram, the backends' gauges, the error points waiting in Redis; a
# limit's 429 as the API's JSON with Retry-After, counted by its endpoint (one zone a location).
#
# Users (made with SQL by TEST 1): 1 ann (admin), 2 bob.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
no_root_location();

plan tests => repeat_each() * (3 * blocks() + 2);

sub auth {
    my $id = shift;
    return Social::social_auth($id, $id == 1 ? (role => 'admin') : ());
}

sub out {
    Social::social_result("$_[0]\n");
}

# the metrics as a hash: "name{labels}" => value
sub metrics {
    my ($status, $body, $h) = Social::social_http('GET', '/metrics');
    die "GET /metrics: $status\n" unless $status eq '200';
    my %m;
    for (split /\n/, $body) {
        next if /^#/;
        $m{$1} = $2 if /^(\S+) (\S+)$/;
    }
    return \%m;
}

# what moved between two readings: "name{labels}+n", sorted, for the
# names that match $re
sub moved {
    my ($a, $b, $re) = @_;
    return join ' ', map { "$_+" . ($b->{$_} - ($a->{$_} // 0)) }
                     grep { /$re/ && $b->{$_} != ($a->{$_} // 0) }
                     sort keys %$b;
}

add_block_preprocessor(\&social_production_defaults);

run_tests();

__DATA__

=== TEST 1: the text exposition: its type, a HELP and a TYPE per family, every family of the README
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'admin'), ('bob', 'x', 'user')");
Social::social_http('GET', '/feed', undef, ::auth(2));
my ($status, $body, $h) = Social::social_http('GET', '/metrics');
::out("$status $h->{'content-type'}");
my %type = $body =~ /^# TYPE (\S+) (\S+)$/mg;
my %help = $body =~ /^# HELP (\S+) (.+)$/mg;
::out(join "\n", map { "$_ $type{$_}" . ($help{$_} ? "" : " without HELP") } sort keys %type);
my @bad = grep { !/^#/ && !/^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.]+$/ } split /\n/, $body;
::out(@bad ? "bad lines: @bad" : "every line a sample or a comment");
--- response_body
200 text/plain; version=0.0.4; charset=utf-8
social_error_points_set_aside gauge
social_error_points_waiting gauge
social_flush_last_duration_seconds gauge
social_flush_last_rows gauge
social_flush_last_time_seconds gauge
social_flushes_total counter
social_http_cache_total counter
social_http_rate_limited_total counter
social_http_request_duration_seconds histogram
social_http_requests_total counter
social_password_hashes_queued gauge
social_password_hashes_refused_total counter
social_postgres_errors_total counter
social_postgres_pool_busy gauge
social_postgres_pool_size gauge
social_postgres_pool_waiting gauge
social_postgres_wait_timeouts_total counter
social_read_batches_total counter
social_reads_total counter
social_redis_connected gauge
social_redis_errors_total counter
social_redis_timeouts_total counter
social_trim_last_time_seconds gauge
social_trims_total counter
social_write_batches_total counter
social_writes_total counter
every line a sample or a comment



=== TEST 2: requests counted by endpoint and status in the public server's log phase, HITs and answers before the cache too, the internal server's not
--- init
my $a = ::metrics();
Social::social_http('GET', '/feed', undef, ::auth(2)) for 1 .. 3;
Social::social_http('GET', '/feed');
Social::social_http('GET', '/group/2', undef, ::auth(2));
Social::social_http('GET', '/nothing/here');
Social::social_http('POST', '/posts', '{"content": "hi"}', ::auth(2));
Social::social_http('POST', '/posts', '{"content": ""}', ::auth(2));
my $b = ::metrics();
::out(::moved($a, $b, qr/^social_http_(requests|cache)_total/));
--- response_body
social_http_cache_total{endpoint="feed",cache="HIT"}+2 social_http_cache_total{endpoint="feed",cache="MISS"}+1 social_http_cache_total{endpoint="feed",cache="NONE"}+1 social_http_cache_total{endpoint="group",cache="MISS"}+1 social_http_requests_total{endpoint="feed",status="200"}+3 social_http_requests_total{endpoint="feed",status="401"}+1 social_http_requests_total{endpoint="group",status="200"}+1 social_http_requests_total{endpoint="metrics",status="200"}+1 social_http_requests_total{endpoint="other",status="404"}+1 social_http_requests_total{endpoint="posts",status="201"}+1 social_http_requests_total{endpoint="posts",status="422"}+1



=== TEST 3: the latency histogram: cumulative buckets from 1 ms to 10 s, +Inf the count
--- init
Social::social_http('GET', '/health') for 1 .. 4;
my $m = ::metrics();
my @le = map { /le="([^"]+)"/ ? $1 : () } grep { /^social_http_request_duration_seconds_bucket\{endpoint="health"/ } sort { $m->{$a} <=> $m->{$b} } keys %$m;
my @counts = map { $m->{qq~social_http_request_duration_seconds_bucket{endpoint="health",le="$_"}~} } qw(0.001 0.0025 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf);
my $sorted = join(',', @counts) eq join(',', sort { $a <=> $b } @counts);
::out(scalar(@le) . " buckets, " . ($sorted ? "cumulative" : "not cumulative: @counts")
      . ", +Inf " . $counts[-1] . ", count " . $m->{'social_http_request_duration_seconds_count{endpoint="health"}'});
--- response_body
14 buckets, cumulative, +Inf 4, count 4



=== TEST 4: the backends: the pool's gauges, Redis connected, the error points waiting in Redis
--- init
Social::social_sql("INSERT INTO conversations (user_id) VALUES (2)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (1, 2, 'I has a cat')");
Social::social_http('POST', '/errors', '{"utterance_id": 1, "errors": [{"category": "grammar", "subcategory": "verb"}, {"category": "grammar", "subcategory": "article"}]}', ::auth(2));
select undef, undef, undef, 1.2;
my $m = ::metrics();
::out(join ' ', map { "$_=" . ($m->{$_} // 'absent') } qw(social_redis_connected social_error_points_waiting social_error_points_set_aside));
::out($m->{social_postgres_pool_size} >= 1 ? "a pool" : "no pool: $m->{social_postgres_pool_size}");
--- response_body
social_redis_connected=1 social_error_points_waiting=2 social_error_points_set_aside=0
a pool



=== TEST 5: past a limit, 429 too_many_requests as JSON with Retry-After, counted by its endpoint (one zone a location)
--- init
my $a = ::metrics();
# signin: 30 a minute with a burst of 10 per address: 11 pass at once
my ($at_once, $answers) = Social::social_concurrent_post(14, '/signin', '{"username": "nobody", "password": "x"}');
my $b = ::metrics();
::out($at_once);
my ($limited) = grep { m{^HTTP/1\.1 429} } @$answers;
my ($head, $body) = split /\r\n\r\n/, $limited // '', 2;
::out(join ' ', $body // 'no 429', map { $head =~ /^$_: ([^\r\n]*)/mi ? "$_: $1" : "no $_" } 'Retry-After', 'Content-Type');
::out(::moved($a, $b, qr/^social_http_rate_limited_total|^social_http_requests_total\{endpoint="signin"/));
--- response_body
401:11 429:3
{"error":{"code":"too_many_requests","message":"Too many requests; try again shortly."}} Retry-After: 1 Content-Type: application/json
social_http_rate_limited_total{endpoint="signin"}+3 social_http_requests_total{endpoint="signin",status="401"}+11 social_http_requests_total{endpoint="signin",status="429"}+3
--- no_error_log
[error]
--- error_log
limiting requests



=== TEST 6: the limit on writes is per user: bob past it, ann not
--- init
my %s;
for (1 .. 60) {
    my ($status) = Social::social_http('POST', '/posts', '{"content": "x"}', ::auth(2));
    $s{$status}++;
}
my ($ann) = Social::social_http('POST', '/posts', '{"content": "x"}', ::auth(1));
::out(join(' ', map { "$_:$s{$_}" } sort keys %s) . " | ann $ann");
--- response_body_like
^201:\d+ 429:\d+ \| ann 201$
--- no_error_log
[error]



=== TEST 7: the token read once a request (the limit's $social_reader, then the handler), its expiry looked at each time: a write whose body comes after the token expired is 401, one in time 201
--- init
require IO::Socket::INET;
my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
sub slow_post {
    my ($auth, $wait) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp')
        or die "connect: $!\n";
    my $body = '{"content": "late"}';
    $s->autoflush(1);
    print $s "POST /posts HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n$auth\r\n"
             . "Content-Type: application/json\r\nContent-Length: " . length($body) . "\r\n\r\n";
    select undef, undef, undef, $wait;
    print $s $body;
    local $/;
    my $res = <$s> // '';
    return $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
}
::out("expired while its body came: " . slow_post(Social::social_auth(2, exp => 2), 3.5)
      . ", in time: " . slow_post(Social::social_auth(2, exp => 60), 0.5));
--- response_body
expired while its body came: 401, in time: 201
--- no_error_log
[error]



=== TEST 8: /metrics answers loopback's 127.0.0.1 only: from another address, 403 as JSON
--- init
require IO::Socket::INET;
my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", LocalAddr => '127.0.0.2', Proto => 'tcp')
    or die "connect from 127.0.0.2: $!\n";
print $s "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
local $/;
my $res = <$s>;
my ($head, $body) = split /\r\n\r\n/, $res, 2;
::out(($head =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none') . " $body");
--- response_body
403 {"error":{"code":"forbidden","message":"This is not allowed."}}
--- error_log
access forbidden by rule, client: 127.0.0.2
--- no_error_log
[alert]



=== TEST 9: the flush's last batch (time, duration, rows) and the trim job's last run
--- http_config eval
$Social::Production . "    social_flush_interval 1s;\n    social_trim_interval 200ms;\n"
--- init
my $t0 = time;
Social::social_http('POST', '/errors', '{"utterance_id": 1, "errors": [{"category": "grammar", "subcategory": "tense"}]}', ::auth(2));
my $m;
for (1 .. 50) {
    $m = ::metrics();
    last if $m->{social_flushes_total} >= 1 && $m->{social_trims_total} >= 1;
    select undef, undef, undef, 0.2;
}
::out("flushes $m->{social_flushes_total}, rows $m->{social_flush_last_rows}, "
      . ($m->{social_flush_last_time_seconds} >= $t0 ? "flushed now" : "flushed at $m->{social_flush_last_time_seconds}")
      . ", took " . ($m->{social_flush_last_duration_seconds} < 10 ? "a while" : $m->{social_flush_last_duration_seconds})
      . ", waiting $m->{social_error_points_waiting}");
::out(($m->{social_trims_total} >= 1 ? "trimmed" : "not trimmed") . ", "
      . ($m->{social_trim_last_time_seconds} >= $t0 ? "now" : "at $m->{social_trim_last_time_seconds}"));
--- response_body_like
^flushes [1-9]\d*, rows [1-9]\d*, flushed now, took a while, waiting 0
trimmed, now$



=== TEST 10: the backends' failures counted: Redis down (not connected, errors), PostgreSQL down (errors)
--- init
my $a = ::metrics();
Social::social_service("stop-redis");
Social::social_http('GET', '/feed?limit=3', undef, ::auth(1));
Social::social_http('POST', '/errors', '{"utterance_id": 1, "errors": [{"category": "a", "subcategory": "b"}]}', ::auth(2));
my $down = ::metrics();
Social::social_service("start-redis");
Social::social_service("stop-pg");
Social::social_http('GET', '/group/1?n=1', undef, ::auth(1));
Social::social_http('GET', '/user/1', undef, ::auth(1));
my $b = ::metrics();
Social::social_service("start-pg");
::out("redis connected $down->{social_redis_connected}, "
      . ($down->{social_redis_errors_total} > ($a->{social_redis_errors_total} // 0) ? "redis errors counted" : "redis errors not counted")
      . ", " . (defined $down->{social_error_points_waiting} ? "points waiting shown" : "points waiting left out"));
::out($b->{social_postgres_errors_total} > ($a->{social_postgres_errors_total} // 0) ? "postgres errors counted" : "postgres errors not counted");
--- response_body
redis connected 0, redis errors counted, points waiting left out
postgres errors counted
--- no_error_log
[alert]
