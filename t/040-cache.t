# vim:set ft= ts=4 sw=4 et fdm=marker:

# The shipped production configuration's response cache (../shared/API.md,
# "Caching"), one point at a time, against the real module behind nginx's
# own proxy_cache: conf/social/http.conf, public.conf and internal.conf as
# they ship (t/Social.pm wires them as production.conf does).  X-Cache-Status
# and Cache-Control: private; no answer of one reader for another, nor for
# a request without a valid token, whatever identity header it sends; a
# revoked token never gets a HIT; a reader's own writes at once, others'
# within the TTL; a deleted post gone within 2 s, a deleted user at once;
# one write or delete invalidates only its readers; 50 concurrent misses
# make one backend read; an answer served stale while PostgreSQL is down;
# the TTL the module sets; evictions counted; the key's parts; the
# zone's sizes (keys for twice the answers that max_size holds).
#
# Users (made with SQL by TEST 1): 1 ann (admin), 2 bob, 3 cat in group 1;
# 4 dan, 7 gus in group 2; 5 eve, 6 fay, 8 hal (group 1), 9 ivy, 10 jay,
# 11 kim, 12 leo.  bob, cat, ivy and jay follow ann.  Every block makes its
# own cache entries (nginx may restart between blocks, and the cache with
# it): a block reads, writes, reads again in its --- init.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
no_root_location();

plan tests => repeat_each() * (3 * blocks());

sub auth {
    my $id = shift;
    return Social::social_auth($id, $id == 1 ? (role => 'admin') : ());
}

sub out {
    Social::social_result("$_[0]\n");
}

# GET $uri as $id (undef: no token), more headers after: (status, body,
# headers)
sub get {
    my ($uri, $id, @headers) = @_;
    return Social::social_http('GET', $uri, undef,
                               defined $id ? auth($id) : (), @headers);
}

# "status X-Cache-Status" of a GET
sub cs {
    my ($status, $body, $h) = get(@_);
    return "$status " . ($h->{'x-cache-status'} // '-');
}

# whether the feed of $id holds the post $content now: "status cache
# has|lacks"
sub feed_has {
    my ($id, $content) = @_;
    my ($status, $body, $h) = get('/feed', $id);
    return "$status " . ($h->{'x-cache-status'} // '-') . ' '
           . ($body =~ /"content":"\Q$content\E"/ ? 'has' : 'lacks');
}

sub post {
    my ($id, $content) = @_;
    my ($status, $body) = Social::social_http('POST', '/posts',
                                              qq~{"content":"$content"}~,
                                              auth($id));
    return $body =~ /"post_id":(\d+)/ ? $1 : "status $status";
}

# a request to the internal server's socket, as the public server sends
# them: "status X-Accel-Expires"
sub internal {
    my ($uri, @headers) = @_;

    require IO::Socket::UNIX;

    my $s = IO::Socket::UNIX->new(Peer => $Social::InternalSocket)
        or return "connect: $!";
    print $s "GET $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . join('', map { "$_\r\n" } @headers) . "\r\n";
    local $/;
    my $res = <$s> // '';
    my $status = $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
    my $ttl = $res =~ /^X-Accel-Expires: (\d+)\r$/mi ? $1 : '-';
    return "$status $ttl";
}

sub wait_until {
    my $cond = shift;
    for (1 .. 50) {
        return 1 if $cond->();
        select undef, undef, undef, 0.1;
    }
    return 0;
}

add_block_preprocessor(\&social_production_defaults);

run_tests();

__DATA__

=== TEST 1: a group read: MISS, then HIT, with Cache-Control: private and no X-Accel-Expires for the client
--- init
Social::social_reset();
Social::social_sql("INSERT INTO groups (group_id, profile, profile_len, size) VALUES (1, '{a,b}', 2, 4), (2, '{c,d}', 2, 2)");
Social::social_sql("SELECT setval('groups_group_id_seq', 2)");
Social::social_sql("INSERT INTO users (username, password_hash, role, group_id, attributes) VALUES ('ann', 'x', 'admin', 1, '{a,b}'), ('bob', 'x', 'user', 1, '{a,b}'), ('cat', 'x', 'user', 1, '{a,b}'), ('dan', 'x', 'user', 2, '{c,d}'), ('eve', 'x', 'user', NULL, '{}'), ('fay', 'x', 'user', NULL, '{}'), ('gus', 'x', 'user', 2, '{c,d}'), ('hal', 'x', 'user', 1, '{a,b}'), ('ivy', 'x', 'user', NULL, '{}'), ('jay', 'x', 'user', NULL, '{}'), ('kim', 'x', 'user', NULL, '{}'), ('leo', 'x', 'user', NULL, '{}')");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) VALUES (2, 1), (3, 1), (9, 1), (10, 1)");
my ($s1, $b1, $h1) = ::get('/group/1', 1);
my ($s2, $b2, $h2) = ::get('/group/1', 1);
::out(join ' | ', map {
    "$_->[0] $_->[2]{'x-cache-status'} $_->[2]{'cache-control'} "
    . ($_->[2]{'x-accel-expires'} // 'no ttl')
} [$s1, $b1, $h1], [$s2, $b2, $h2]);
::out($b1 eq $b2 ? "same body" : "bodies differ: $b1 / $b2");
::out($b1 =~ /^\{"group_id":1,"attributes":\["a","b"\],"size":4,"members":\[\{"user_id":1,"username":"ann",.*\{"user_id":8,"username":"hal",/ ? "ann's group" : $b1);
--- response_body
200 MISS private no ttl | 200 HIT private no ttl
same body
ann's group



=== TEST 2: another reader of the same URI never gets the first one's answer
--- init
::cs('/group/1', 1);
::out(join ' | ', ::cs('/group/1', 1), ::cs('/group/1', 2), ::cs('/group/1', 2), ::cs('/group/1', 3));
--- response_body
200 HIT | 200 MISS | 200 HIT | 200 MISS



=== TEST 3: without a valid token, the token check answers before the cache (401, X-Cache-Status NONE), whatever identity header the client sends
--- init
::cs('/group/1', 1);
my $forged = Social::social_token(1, role => 'admin', key => 'not the key');
::out(join ' | ',
      ::cs('/group/1', undef),
      ::cs('/group/1', undef, "Authorization: Bearer $forged"),
      ::cs('/group/1', undef, "X-Social-Reader: 1 admin"),
      ::cs('/feed', undef, "X-Social-Reader: 1 admin"));
# dan may not read group 1: sending ann's identity does not make him ann
::out(join ' | ', ::cs('/group/1', 4, "X-Social-Reader: 1 admin"),
                  ::cs('/group/1', 4, "X-Social-Reader: 1 admin"));
--- response_body
401 NONE | 401 NONE | 401 NONE | 401 NONE
403 MISS | 403 MISS



=== TEST 4: a revoked token never gets a HIT: signed out (at once), revoked by another node (within a second)
--- init
# eve's cached feed, then her sign-out: her token is refused at once
::cs('/feed', 5);
my $hit = ::cs('/feed', 5);
my ($s) = Social::social_http('POST', '/signout', undef, ::auth(5));
my @after = map { ::cs('/feed', 5) } 1 .. 5;
::out("$hit, signout $s, then " . join ' ', @after);
# fay's cached feed, then her generation moved by SQL (another node)
::cs('/feed', 6);
$hit = ::cs('/feed', 6);
Social::social_sql("UPDATE users SET token_gen = token_gen + 1 WHERE user_id = 6");
my $t0 = time;
my $ok = ::wait_until(sub { ::cs('/feed', 6) eq '401 NONE' });
my $took = time - $t0;
@after = map { ::cs('/feed', 6) } 1 .. 5;
::out("$hit, revoked " . ($ok && $took <= 2 ? "within a second" : "after ${took}s")
      . ", then " . join ' ', @after);
--- response_body
200 HIT, signout 204, then 401 NONE 401 NONE 401 NONE 401 NONE 401 NONE
200 HIT, revoked within a second, then 401 NONE 401 NONE 401 NONE 401 NONE 401 NONE



=== TEST 5: a reader sees their own writes at once: a post in their feed, new attributes in their group
--- init
::cs('/feed', 11);
my $before = ::feed_has(11, 'kim writes');
::post(11, 'kim writes');
::out("$before | " . ::feed_has(11, 'kim writes') . " | " . ::feed_has(11, 'kim writes'));
::cs('/group/8', 8);
my $g = ::cs('/group/8', 8);
Social::social_http('PUT', '/user/8', '{"attributes": ["x", "y"]}', ::auth(8));
my ($s, $body, $h) = ::get('/group/8', 8);
::out("$g | $s $h->{'x-cache-status'} " . ($body =~ /"user_id":8,"username":"hal","attributes":\["x","y"\]/ ? "new attributes" : $body));
--- response_body
200 HIT lacks | 200 MISS has | 200 HIT has
200 HIT | 200 MISS new attributes



=== TEST 6: others see a write within the feed's TTL (2 s), and it does not empty their cached answers
--- init
::cs('/feed', 2);
::cs('/group/2', 2);
::post(1, 'ann at t0');
my $at_once = ::feed_has(2, 'ann at t0');
my $group = ::cs('/group/2', 2);
select undef, undef, undef, 2.2;
::out("$at_once | $group | " . ::feed_has(2, 'ann at t0'));
--- response_body_like
^200 HIT lacks \| 200 HIT \| 200 (EXPIRED|MISS) has$



=== TEST 7: a deleted post is gone from every cached feed within 2 s
--- init
my $id = ::post(1, 'soon gone');
my @seen = map { ::feed_has($_, 'soon gone') } 2, 3;
Social::social_http('DELETE', "/posts/$id", undef, ::auth(1));
select undef, undef, undef, 2.1;
::out(join ' | ', @seen, map { ::feed_has($_, 'soon gone') } 2, 3);
--- response_body_like
^200 MISS has \| 200 MISS has \| 200 (EXPIRED|MISS) lacks \| 200 (EXPIRED|MISS) lacks$



=== TEST 8: a deleted user is gone at once from the cached answers of their group
--- init
::cs('/group/7', 7);
::cs('/group/4', 7);
::cs('/group/1', 2);
my @before = (::cs('/group/7', 7), ::cs('/group/4', 7), ::cs('/group/1', 2));
my ($s) = Social::social_http('DELETE', '/user/4', undef, ::auth(4));
my ($gs, $body, $h) = ::get('/group/7', 7);
::out(join(' | ', @before) . ", delete $s");
::out("$gs $h->{'x-cache-status'} " . ($body =~ /"username":"dan"/ ? "dan still there" : "without dan")
      . " | " . ::cs('/group/4', 7) . " | " . ::cs('/group/1', 2));
--- response_body
200 HIT | 200 HIT | 200 HIT, delete 204
200 MISS without dan | 403 MISS | 200 HIT



=== TEST 9: 50 concurrent misses for one key make one backend read (proxy_cache_lock)
--- init
# the users table locked for a second: every request waits, none is served
# before all 50 are in
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    Social::social_sql("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT");
    require POSIX;
    POSIX::_exit(0);    # not exit: the runner's END would stop nginx
}
select undef, undef, undef, 0.2;
my ($statuses, $answers) = Social::social_concurrent(50, '/group/3', ::auth(3));
waitpid $pid, 0;
my %cache;
$cache{ $_ =~ /^X-Cache-Status: (\w+)\r$/mi ? $1 : 'none' }++ for @$answers;
::out("$statuses " . join ' ', map { "$_:$cache{$_}" } sort keys %cache);
--- response_body
200:50 HIT:49 MISS:1



=== TEST 10: PostgreSQL down: a cached answer is served stale, an uncached one is the 503 JSON
--- init
::cs('/feed', 9);
::cs('/group/10', 10);
select undef, undef, undef, 2.2;
# without its context in Redis the feed's read needs PostgreSQL (with it,
# the handler would answer from Redis alone)
Social::social_redis('DEL', 'social:feed:ctx:9');
Social::social_service("stop-pg");
my ($s, $body, $h) = ::get('/feed', 9);
my ($s2, $body2, $h2) = ::get('/feed', 10);
Social::social_service("start-pg");
::out("$s $h->{'x-cache-status'} " . ($body =~ /^\{"events":\[/ ? "a feed" : $body));
::out("$s2 " . ($h2->{'x-cache-status'} // '-') . " $body2 retry-after " . ($h2->{'retry-after'} // '-'));
--- response_body
200 STALE a feed
503 MISS {"error":{"code":"service_unavailable","message":"PostgreSQL is down; try again shortly."}} retry-after 1
--- no_error_log
[alert]



=== TEST 11: POST /admin/cache/evict {"scope": "groups"} invalidates the cached group answers, and counts them
--- init
my $post = sub {
    my (undef, $body) = Social::social_http('POST', '/admin/cache/evict',
                                            '{"scope": "groups"}', ::auth(1));
    return $body;
};
$post->();
::cs('/group/1', 1);
::cs('/group/1', 2);
::cs('/group/2', 2);
::cs('/feed', 2);
::out($post->() . " | " . join ' ', ::cs('/group/1', 1), ::cs('/group/1', 1), ::cs('/feed', 2));
--- response_body
{"evicted":3} | 200 MISS 200 HIT 200 HIT



=== TEST 12: the internal server: the TTL of the directives in X-Accel-Expires, the reader from the public server only
--- init
::out(join ' | ', ::internal('/group/2', 'X-Social-Reader: 2 user'),
                  ::internal('/feed', 'X-Social-Reader: 2 user'),
                  ::internal('/group/2', 'X-Social-Reader: 3 admin'),
                  ::internal('/group/2', 'X-Social-Reader: 2 nobody'),
                  ::internal('/feed'),
                  ::internal('/posts'));
--- response_body
200 59 | 200 1 | 200 59 | 401 - | 401 - | 404 -



=== TEST 13: the key: format version and epoch, URI, reader, role, generations
--- init
::cs('/group/12', 12);
my @keys;
require File::Find;
File::Find::find(sub {
    return unless -f $_;
    open my $f, '<:raw', $_ or return;
    local $/;
    my $text = <$f>;
    push @keys, $1 if $text =~ /\nKEY: ([^\n]*\|\/group\/12\|[^\n]*)\n/;
}, "$ENV{TEST_NGINX_SERVROOT}/social_cache");
::out(join ' ', map { /^1\.\d+\|\/group\/12\|\|12\|user\|\d+\|\d+\|\d+$/ ? "a key as documented" : $_ } @keys);
--- response_body
a key as documented



=== TEST 14: HEAD through the cache: the GET's headers, no body
--- init
::cs('/group/2', 2);
my ($s, $body, $h) = Social::social_http('HEAD', '/group/2', undef, ::auth(2));
::out("$s $h->{'x-cache-status'} $h->{'cache-control'} [" . $body . "]");
--- response_body
200 HIT private []



=== TEST 15: a refusal of the token check reads the request's body: what it holds is never taken for the next request
--- init
require IO::Socket::INET;
require IO::Select;
my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
my @seen;
for my $first ("POST /feed", "GET /group/1") {
    my $inner = "GET /group/1 HTTP/1.1\r\nHost: localhost\r\nX-Social-Reader: 1 admin\r\n\r\n";
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp')
        or die "connect: $!\n";
    print $s "$first HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             . "Content-Length: " . length($inner) . "\r\n\r\n$inner";
    my $got = '';
    my $sel = IO::Select->new($s);
    while ($sel->can_read(1)) {
        last unless sysread($s, my $chunk, 65536);
        $got .= $chunk;
    }
    close $s;
    # the answers one after the other, each right after the body before
    push @seen, join ',', $got =~ m{HTTP/1\.1 (\d{3}) }g;
}
::out(join ' | ', @seen);
--- response_body
405 | 401



=== TEST 16: the shipped zone: the keys outnumber twice the answers max_size holds (a full keys zone answers 500), and the manager trims 1000 files a round or more
--- init
open my $fh, '<', "$Social::ConfDir/social/http.conf" or die "http.conf: $!\n";
my $conf = do { local $/; <$fh> };
close $fh;
my ($args) = $conf =~ /^proxy_cache_path\s+([^;]+);/m or die "no proxy_cache_path\n";
my %p = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } split /\s+/, $args;
my $bytes = sub {
    my ($n, $u) = $_[0] =~ /^(\d+)([kmg]?)$/i or die "size $_[0]\n";
    return $n * ({ '' => 1, k => 1024, m => 1024 ** 2, g => 1024 ** 3 }->{lc $u});
};
# nginx keeps about 128 bytes a key; an answer takes at least a 4 KB page
my $keys = $bytes->((split /:/, $p{keys_zone})[1]) / 128;
my $answers = $bytes->($p{max_size}) / 4096;
my $files = $p{manager_files} // 100;
::out(sprintf "keys / answers: %s; manager_files: %s",
              $keys >= 2 * $answers ? "2 or more" : sprintf("%.2f", $keys / $answers),
              $files >= 1000 ? "1000 or more" : $files);
--- response_body
keys / answers: 2 or more; manager_files: 1000 or more
