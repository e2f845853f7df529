# vim:set ft= ts=4 sw=4 et fdm=marker:

# The Redis side of GET /feed (ngx_http_social_feed_cache.c): the recent
# events set that every event write fills, its trim to
# social_feed_cache_size by the trim job, pages that start in Redis and go
# on in PostgreSQL with no seam, a flushed Redis that still gives the right
# feed and is filled again, deletes that take events and cached objects out
# of Redis at once, changed like counts and usernames, and
# POST /admin/cache/evict; the actors' counts of the set's members, with
# which a reader whose follows have too few events in it is not walked.
#
# Users (made with SQL by TEST 1): 1 ann (an admin, the reader), 2 bob,
# 3 cat; ann follows bob and cat.  Bob's posts p1..p12 are events 1..12.
#
# Events are named by their numbers (t/Social.pm, "The events' numbers"):
# event N is the N-th made since TEST 1, whose id is large and sparse
# (sql/008_event_order.sql).  Every answer is checked with its event ids
# as the events' numbers (social_numbered_answers); members(), pages()
# and what the blocks print give numbers; what a block writes to
# PostgreSQL or Redis, or looks for in the log, takes the event's id
# (social_event_id).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (3 * blocks() + 14);

our $HttpConfig = <<'_EOC_';
    social_feed_cache_size 5;
    social_trim_interval 200ms;
_EOC_

sub auth {
    my $id = shift;
    return Social::social_auth($id, $id == 1 ? (role => 'admin') : ());
}

# from an --- init: what the block checks, a line
sub auth_json {
    my $id = shift;
    return Social::social_auth_json($id, $id == 1 ? (role => 'admin') : ());
}

sub out {
    Social::social_result("$_[0]\n");
}

# polls Redis until $cond returns true, for at most 10 s
sub wait_for {
    my $cond = shift;
    for (1 .. 100) {
        return 1 if $cond->();
        select undef, undef, undef, 0.1;
    }
    return 0;
}

# the numbers of the events of the recent set, lowest first
sub members {
    my @m = split /\n/, Social::social_redis('ZRANGE', 'social:feed:recent',
                                              0, -1);
    return join ' ', map { /^(\d+)\|/ ? Social::social_event_ns("$1") : '?' }
                     @m;
}

# the number of the event whose id a key of Redis holds (top, bottom)
sub mark {
    my $key = shift;
    my $id = Social::social_redis('GET', $key);
    return $id eq '0' ? 0 : (Social::social_event_ns($id))[0];
}

# whether the actors' counts are those of the set's members: "counted",
# or what differs
sub counted {
    my %want;
    for (split /\n/, Social::social_redis('ZRANGE', 'social:feed:recent',
                                          0, -1))
    {
        $want{'*'}++;
        $want{$1}++ if /^\d+\|\w+\|(\d+)\|/;
    }
    my %got = split /\n/, Social::social_redis('HGETALL',
                                               'social:feed:actors');
    my $want = join ' ', map { "$_=$want{$_}" } sort keys %want;
    my $got = join ' ', map { "$_=$got{$_}" } sort keys %got;
    return $got eq $want ? "counted" : "counts $got, members $want";
}

# the events' numbers of the whole feed of ann (or of $reader), paged by
# $limit: "a b | c d | e"
sub pages {
    my ($limit, $reader) = @_;
    my ($uri, @pages) = ("/feed?limit=$limit");

    require JSON::PP;

    for (1 .. 50) {
        my ($status, $body) = Social::social_http('GET', $uri, undef,
                                                  auth($reader // 1));
        return "status $status" if $status ne '200';
        my $feed = JSON::PP::decode_json($body);
        push @pages, join ' ', Social::social_event_ns(map { $_->{event_id} }
                                                       @{ $feed->{events} });
        return join ' | ', @pages unless defined $feed->{next};
        $uri = "/feed?limit=$limit&before=$feed->{next}";
    }

    return "too many pages";
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Social::Locations)
        unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;

    social_numbered_answers($block);
    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: bob's twelve posts fill the set, which the trim job cuts to five
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'admin'), ('bob', 'x', 'user'), ('cat', 'x', 'user')");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) VALUES (1, 2), (1, 3)");
for my $i (1 .. 12) {
    Social::social_http('POST', '/posts', qq~{"content":"p$i"}~, ::auth(2));
}
my $ok = ::wait_for(sub {
    ::mark('social:feed:top') eq '12' && ::members() eq '8 9 10 11 12'
});
::out(($ok ? "trimmed" : "not trimmed") . ": " . ::members()
      . " top " . ::mark('social:feed:top')
      . " bottom " . ::mark('social:feed:bottom'));
--- response_body
trimmed: 8 9 10 11 12 top 12 bottom 8
--- error_log
social: feed trimmed by



=== TEST 2: a page within the set comes from Redis
--- request
GET /feed?limit=3
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,"type":"post",.*"content":"p12",.*\},\{"event_id":11,.*\},\{"event_id":10,.*\}\],"next":"[A-Za-z0-9_-]+"\}$
--- error_log
social feed: 4 events from redis



=== TEST 3: the objects read for it were cached: the same page again is Redis alone
--- request
GET /feed?limit=3
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,"type":"post","created_at":"[^"]+","actor":\{"user_id":2,"username":"bob"\},"post":\{"post_id":12,"author_id":2,"content":"p12","created_at":"[^"]+","like_count":0\},"target":null\},\{"event_id":11,.*\},\{"event_id":10,.*\}\],"next":"[A-Za-z0-9_-]+"\}$
--- error_log
social feed: 4 events from redis, objects cached



=== TEST 4: the set behind PostgreSQL (as when a refresh is late after a write, which moves social:feed:written on): the events above its top come from PostgreSQL, the others from the set
--- http_config
    social_feed_cache_size 5;
    social_trim_interval 1h;
--- init
Social::social_redis('SET', 'social:feed:top', Social::social_event_id(10));
Social::social_redis('INCR', 'social:feed:written');
--- request
GET /feed?limit=3
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,"type":"post",.*"content":"p12",.*\},\{"event_id":11,.*"content":"p11",.*\},\{"event_id":10,.*"content":"p10",.*\}\],"next":"[A-Za-z0-9_-]+"\}$
--- error_log eval
sub {
    "set at " . Social::social_event_id(10) . " of "
    . Social::social_event_id(12);
}



=== TEST 5: a page longer than the set comes from PostgreSQL
--- init
::wait_for(sub { ::mark('social:feed:top') eq '12' });
--- request
GET /feed?limit=7
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,.*\{"event_id":6,[^\]]*\],"next":"[A-Za-z0-9_-]+"\}$
--- error_log
social feed: redis set few



=== TEST 6: paging through the whole feed crosses from Redis to PostgreSQL with no seam, in any page size
--- init
::out(join "\n", map { ::pages($_) } 1, 2, 5, 100);
--- response_body
12 | 11 | 10 | 9 | 8 | 7 | 6 | 5 | 4 | 3 | 2 | 1
12 11 | 10 9 | 8 7 | 6 5 | 4 3 | 2 1
12 11 10 9 8 | 7 6 5 4 3 | 2 1
12 11 10 9 8 7 6 5 4 3 2 1



=== TEST 7: Redis flushed: the feed is still right (from PostgreSQL until the set is filled again)
--- init
Social::social_redis('FLUSHALL');
--- request
GET /feed?limit=2
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,.*\},\{"event_id":11,.*\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 8: and the set is filled again without a write
--- init
my $ok = ::wait_for(sub { ::members() eq '8 9 10 11 12' });
::out(($ok ? "filled" : "not filled") . ": " . ::members() . " | "
      . ::pages(4));
--- response_body
filled: 8 9 10 11 12 | 12 11 10 9 | 8 7 6 5 | 4 3 2 1



=== TEST 9: cat likes p11 (event 13): ann sees the like and the new like_count at once
--- init
::pages(3);
Social::social_http('PUT', '/posts/11/like', undef, ::auth(3));
--- request
GET /feed?limit=2
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":13,"type":"like","created_at":"[^"]+","actor":\{"user_id":3,"username":"cat"\},"post":\{"post_id":11,"author_id":2,"content":"p11","created_at":"[^"]+","like_count":1\},"target":null\},\{"event_id":12,.*"like_count":0\},"target":null\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 10: cat takes the like back: the event leaves Redis, like_count is 0 again
--- init
::pages(3);
Social::social_http('DELETE', '/posts/11/like', undef, ::auth(3));
::out(::members() . " | " . ::pages(3));
--- response_body_like
^(\d+ )*12 \| 12 11 10 \| 9 8 7 \| 6 5 4 \| 3 2 1$



=== TEST 11: ... and p11 shows like_count 0
--- request
GET /feed?limit=2
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":12,.*\},\{"event_id":11,.*"like_count":0\},"target":null\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 12: bob deletes p12: out of the set and its cached object, at once
--- init
::pages(3);
my ($st) = Social::social_http('DELETE', '/posts/12', undef, ::auth(2));
::out("$st | " . (::members() =~ /\b12\b/ ? "in set" : "not in set")
      . " | post object " . Social::social_redis('EXISTS', 'social:post:12')
      . " | " . ::pages(5));
--- response_body
204 | not in set | post object 0 | 11 10 9 8 7 | 6 5 4 3 2 | 1



=== TEST 13: bob is renamed: ann's feed says so at once
--- init
::pages(3);
Social::social_http('PUT', '/user/2', '{"username":"bobby"}', ::auth(2));
--- request
GET /feed?limit=1
--- more_headers eval: ::auth(1)
--- response_body_like: ^\{"events":\[\{"event_id":11,"type":"post","created_at":"[^"]+","actor":\{"user_id":2,"username":"bobby"\},.*\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 14: cat posts p13 (event 14) and likes p11 (event 15); cat is deleted by the admin: her events and those on her posts leave Redis
--- init
Social::social_http('POST', '/posts', '{"content":"p13"}', ::auth(3));
Social::social_http('PUT', '/posts/11/like', undef, ::auth(3));
::wait_for(sub { ::members() =~ /\b15$/ });
my $before = ::members();
::pages(3);
my ($st) = Social::social_http('DELETE', '/user/3', undef, ::auth(1));
::out("$before | $st | " . ::members() . " | "
      . Social::social_redis('EXISTS', 'social:user:3') . " | "
      . ::pages(3));
--- response_body_like
^(\d+ )*11 14 15 \| 204 \| (\d+ )*11 \| 0 \| 11 10 9 \| 8 7 6 \| 5 4 3 \| 2 1$



=== TEST 15: paging with Redis while new posts arrive: no duplicates, no gaps
--- init
require JSON::PP;
my ($st, $body) = Social::social_http('GET', '/feed?limit=4', undef, ::auth(1));
my $feed = JSON::PP::decode_json($body);
my @seen = Social::social_event_ns(map { $_->{event_id} } @{ $feed->{events} });
Social::social_http('POST', '/posts', qq~{"content":"n$_"}~, ::auth(2)) for 1 .. 3;
while (defined $feed->{next}) {
    ($st, $body) = Social::social_http('GET', "/feed?limit=4&before=$feed->{next}", undef, ::auth(1));
    $feed = JSON::PP::decode_json($body);
    push @seen, Social::social_event_ns(map { $_->{event_id} } @{ $feed->{events} });
}
::out("@seen | " . ::pages(100));
--- response_body
11 10 9 8 7 6 5 4 3 2 1 | 18 17 16 11 10 9 8 7 6 5 4 3 2 1



=== TEST 16: evicting takes a scope, which must be one of the five
--- request
POST /admin/cache/evict
{"scope":"everything"}
--- more_headers eval: ::auth(1) . "\r\nContent-Type: application/json"
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"scope must be one of all, feed, posts, users, groups.","field":"scope"}}



=== TEST 17: no scope is 422
--- request
POST /admin/cache/evict
{}
--- more_headers eval: ::auth(1) . "\r\nContent-Type: application/json"
--- error_code: 422
--- response_body_like: "field":"scope"



=== TEST 18: evicting is for admins
--- request
POST /admin/cache/evict
{"scope":"all"}
--- more_headers eval: ::auth(2) . "\r\nContent-Type: application/json"
--- error_code: 403
--- response_body_like: "code":"forbidden"



=== TEST 19: without a token, 401
--- request
POST /admin/cache/evict
{"scope":"all"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 20: evicting the feed removes its events from Redis and counts them; the feed is still right
--- init
::wait_for(sub { Social::social_redis('ZCARD', 'social:feed:recent') eq '5' });
my $n = Social::social_redis('ZCARD', 'social:feed:recent');
my ($st, $body) = Social::social_http('POST', '/admin/cache/evict', '{"scope":"feed"}', ::auth(1));
::out("$st $body | " . ($body eq qq~{"evicted":$n}~ ? "counted" : "expected $n") . " | " . ::pages(100));
--- response_body
200 {"evicted":5} | counted | 18 17 16 11 10 9 8 7 6 5 4 3 2 1



=== TEST 21: evicting users and posts removes the cached objects and counts them
--- init
::wait_for(sub { Social::social_redis('ZCARD', 'social:feed:recent') eq '5' });
::pages(5);
my $users = my @u = split /\n/, Social::social_redis('KEYS', 'social:user:*');
my $posts = my @p = split /\n/, Social::social_redis('KEYS', 'social:post:*');
my (undef, $u) = Social::social_http('POST', '/admin/cache/evict', '{"scope":"users"}', ::auth(1));
my (undef, $p) = Social::social_http('POST', '/admin/cache/evict', '{"scope":"posts"}', ::auth(1));
my (undef, $g) = Social::social_http('POST', '/admin/cache/evict', '{"scope":"groups"}', ::auth(1));
::out(($u eq qq~{"evicted":$users}~ && $users > 0 ? "users counted" : "users $u, expected $users")
      . " | " . ($p eq qq~{"evicted":$posts}~ && $posts > 0 ? "posts counted" : "posts $p, expected $posts")
      . " | $g | " . Social::social_redis('KEYS', 'social:post:*') . "|");
--- response_body
users counted | posts counted | {"evicted":0} | |



=== TEST 22: evicting all, then the feed is right and the set fills again
--- init
my (undef, $all) = Social::social_http('POST', '/admin/cache/evict', '{"scope":"all"}', ::auth(1));
my $ok = ::wait_for(sub { ::members() eq '10 11 16 17 18' });
::out(($all =~ /^\{"evicted":\d+\}$/ ? "evicted" : $all) . " | " . ($ok ? "filled" : "not filled: " . ::members()) . " | " . ::pages(7));
--- response_body
evicted | filled | 18 17 16 11 10 9 8 | 7 6 5 4 3 2 1



=== TEST 23: an event deleted with SQL, behind the module's back, leaves the set within the trim interval
--- init
::wait_for(sub { ::members() =~ /\b18$/ });
Social::social_sql("DELETE FROM events WHERE event_id = "
                   . Social::social_event_id(18));
my $ok = ::wait_for(sub { ::members() !~ /\b18\b/ });
::out(($ok ? "repaired" : "not repaired: " . ::members()) . " | " . ::pages(100));
--- response_body
repaired | 17 16 11 10 9 8 7 6 5 4 3 2 1
--- error_log
were deleted behind the feed in Redis



=== TEST 24: the set lost while its marks remain: the feed is still right, and the set is filled again
--- init
::wait_for(sub { ::members() eq '9 10 11 16 17' });
Social::social_redis('DEL', 'social:feed:recent');
my $page = ::pages(3);
my $ok = ::wait_for(sub { ::members() eq '9 10 11 16 17' });
::out("$page | " . ($ok ? "filled" : "not filled: " . ::members()));
--- response_body
17 16 11 | 10 9 8 | 7 6 5 | 4 3 2 | 1 | filled



=== TEST 25: after loads, trims, deletes, evictions and a lost set, the actors' counts are those of the set
--- init
::wait_for(sub { ::members() eq '9 10 11 16 17' });
::out(::counted());
--- response_body
counted



=== TEST 26: a reader whose follows have fewer events in the set than the page is not walked: the page from PostgreSQL
--- init
Social::social_sql("INSERT INTO users (user_id, username, password_hash) VALUES (4, 'dan', 'x')");
Social::social_sql("SELECT setval('users_user_id_seq', 4)");
Social::social_sql("INSERT INTO posts (post_id, author_id, content) VALUES (100, 4, 'an old post of dan')");
Social::social_sql("SELECT setval('posts_post_id_seq', 100)");
Social::social_sql("INSERT INTO events (actor_id, type, post_id) VALUES (4, 'post', 100)");
::wait_for(sub { ::members() eq '10 11 16 17 19' });
--- request
GET /feed?limit=3
--- more_headers eval: ::auth(4)
--- response_body_like: ^\{"events":\[\{"event_id":19,"type":"post",.*"content":"an old post of dan",.*\}\],"next":null\}$
--- error_log
social feed: redis set few



=== TEST 27: the counts lost: pages are walked again, right, and the trim job counts the set again
--- init
::wait_for(sub { ::members() eq '10 11 16 17 19' });
Social::social_redis('DEL', 'social:feed:actors');
my $page = ::pages(3);
my $ok = ::wait_for(sub { ::counted() eq 'counted' });
::out("$page | " . ($ok ? "counted again" : ::counted()));
--- response_body
17 16 11 | 10 9 8 | 7 6 5 | 4 3 2 | 1 | counted again



=== TEST 28: counts enough, but the set's events below the cursor too few: walked, short, and the page from PostgreSQL
--- init
::out(::pages(3));
--- response_body
17 16 11 | 10 9 8 | 7 6 5 | 4 3 2 | 1
--- error_log
social feed: 4 events from redis
social feed: redis set short



=== TEST 29: dan is quiet a while: his next page comes from PostgreSQL straight, and his follow of bob brings bob's events in at once
--- init
my $first = ::pages(3, 4);
Social::social_http('PUT', '/user/2/follow', undef, ::auth(4));
::out("$first | " . ::pages(3, 4));
--- response_body
19 | 20 19 17 | 16 11 10 | 9 8 7 | 6 5 4 | 3 2 1
--- error_log
social feed: a quiet reader, from postgres



=== TEST 30: a page written from the set and the cached objects is, byte for byte, the page PostgreSQL gives (the set lost: read from PostgreSQL)
--- init
Social::social_http('POST', '/posts', qq~{"content":"q$_ \\u00e9\\"\\u2028<"}~,
                    ::auth_json(2))
    for 1 .. 4;
::wait_for(sub { (Social::social_redis('GET', 'social:feed:written') || 0)
                 <= (Social::social_redis('GET', 'social:feed:loaded') || 0) });
my @pages;
for my $from ('redis', 'redis', 'postgres') {
    Social::social_redis('DEL', 'social:feed:recent') if $from eq 'postgres';
    my ($status, $body) = Social::social_http('GET', '/feed?limit=3', undef,
                                              ::auth(1));
    push @pages, "$status $body";
}
::out($pages[1] eq $pages[2] ? "the same" : "redis: $pages[1]\npostgres: $pages[2]");
::out($pages[1] =~ /^200 \{"events":\[\{"event_id":\d+,"type":"\w+","created_at":"[^"]+","actor":\{.*\}\],"next":"[A-Za-z0-9_-]+"\}$/ ? "a page" : "not a page");
--- response_body
the same
a page
--- error_log
objects cached



=== TEST 31: a member not as the module writes it (a time with a quote, forged in the set): the page comes from PostgreSQL, with nothing of it
--- init
::wait_for(sub { (Social::social_redis('GET', 'social:feed:written') || 0)
                 <= (Social::social_redis('GET', 'social:feed:loaded') || 0)
                 && Social::social_redis('EXISTS', 'social:feed:recent') });
my ($top) = split /\n/, Social::social_redis('ZREVRANGE', 'social:feed:recent',
                                             0, 0, 'WITHSCORES');
my $score = (split /\n/, Social::social_redis('ZREVRANGE',
    'social:feed:recent', 0, 0, 'WITHSCORES'))[1];
(my $forged = $top) =~ s/Z$/Z","x":"y/;
Social::social_redis('ZADD', 'social:feed:recent', $score, $forged);
my ($status, $body) = Social::social_http('GET', '/feed?limit=3', undef,
                                          ::auth(1));
Social::social_redis('ZREM', 'social:feed:recent', $forged);
::out($forged ne $top ? "forged" : "not forged: $top");
::out($status);
::out($body =~ /"x"|\\"x/ ? "the forged time is in the page" : "not in the page");
::out(join ' ', map { /"content":"(q\d)/ } split /\},\{"event_id"/, $body);
--- response_body
forged
200
not in the page
q4 q3 q2
--- error_log
social feed: a member of the set is not as written



=== TEST 32: the page's objects are the worker's own MGET after the walk: a key holding no JSON string (a hash where the newest post's object would be) reads as not cached, the page comes from PostgreSQL as it would from Redis, and the object is cached again
--- init
::wait_for(sub { (Social::social_redis('GET', 'social:feed:written') || 0)
                 <= (Social::social_redis('GET', 'social:feed:loaded') || 0) });
my @pages;
for (1 .. 2) {
    my ($status, $body) = Social::social_http('GET', '/feed?limit=3', undef,
                                              ::auth(1));
    push @pages, "$status $body";
}
my ($post) = $pages[1] =~ /"post":\{"post_id":(\d+)/;
Social::social_redis('DEL', "social:post:$post");
Social::social_redis('HSET', "social:post:$post", 'content', 'not json');
my ($status, $body) = Social::social_http('GET', '/feed?limit=3', undef,
                                          ::auth(1));
::out($pages[0] eq $pages[1] ? "cached" : "not the same twice");
::out("$status $body" eq $pages[1] ? "the same page" : "another page: $body");
::out(::wait_for(sub { Social::social_redis('TYPE', "social:post:$post")
                       eq 'string' })
      ? "cached again" : Social::social_redis('TYPE', "social:post:$post"));
--- response_body
cached
the same page
cached again
--- error_log
objects missing



=== TEST 33: the event after the page only says that there is a next one: its objects are not read, so one not cached (its post's object gone) leaves the page to Redis
--- init
::wait_for(sub { (Social::social_redis('GET', 'social:feed:written') || 0)
                 <= (Social::social_redis('GET', 'social:feed:loaded') || 0) });
my (undef, $three) = Social::social_http('GET', '/feed?limit=3', undef,
                                         ::auth(1));
my @posts = $three =~ /"post":\{"post_id":(\d+)/g;
my @pages;
for (1 .. 2) {
    my ($status, $body) = Social::social_http('GET', '/feed?limit=2', undef,
                                              ::auth(1));
    push @pages, "$status $body";
}
Social::social_redis('DEL', "social:post:$posts[2]");
my ($status, $body) = Social::social_http('GET', '/feed?limit=2', undef,
                                          ::auth(1));
::out(@posts == 3 ? "three posts" : "posts: @posts");
::out("$status $body" eq $pages[1] ? "the same page" : "another page: $body");
::out(Social::social_redis('EXISTS', "social:post:$posts[2]") eq '0'
      ? "the third post's object still gone" : "the third post's object back");
--- response_body
three posts
the same page
the third post's object still gone
--- error_log
objects cached
