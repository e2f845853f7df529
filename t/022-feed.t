# vim:set ft= ts=4 sw=4 et fdm=marker:

# GET /feed of ../shared/API.md ("Activity feed"), from PostgreSQL, against
# the real module: what a reader's feed holds (their own events and those of
# whom they follow now), the exact shape of an event, newest first; follows
# that bring earlier events in and take them out at once; blocks in either
# direction on the actor, the post's author and the target; deleted posts
# and users; likes; paging with cursors while events arrive, full pages
# across filtered events, and the validation of limit and before.
#
# Users (made with SQL by TEST 1): 1 ann (the reader of most blocks), 2 bob,
# 3 cat, 4 dan, 5 eve, 6 fay, 7 kim, 8 leo, 9 max.  Every event is made in
# order by the blocks below, so event numbers and post ids are known: the
# comments of each block say which it makes.  Post N's content is "pN".
#
# Events are named by their numbers (t/Social.pm, "The events' numbers"):
# event N is the N-th made since TEST 1, whose id is large and sparse
# (sql/008_event_order.sql).  Every answer is checked with its event ids
# as the events' numbers (social_numbered_answers), page() gives numbers,
# and a block that names an event to PostgreSQL or in a request takes its
# id (social_event_id).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

our %Name = (1 => 'ann', 2 => 'bob', 3 => 'cat', 4 => 'dan', 5 => 'eve',
             6 => 'fay', 7 => 'kim', 8 => 'leo', 9 => 'max');

our $Time = '"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"';

# the headers of a request by user $id
sub auth { return Social::social_auth(@_) }

sub auth_json { return Social::social_auth_json(@_) }

# regular expressions of the exact JSON of a feed and its events
sub user_re {
    my $id = shift;
    return qq~\\{"user_id":$id,"username":"$Name{$id}"\\}~;
}

sub post_re {
    my ($pid, $author, $likes) = @_;
    return qq~\\{"post_id":$pid,"author_id":$author,"content":"p$pid",~
           . qq~"created_at":$Time,"like_count":$likes\\}~;
}

# a post event: P(event, author, post, like_count)
sub P {
    my ($eid, $actor, $pid, $likes) = @_;
    return qq~\\{"event_id":$eid,"type":"post","created_at":$Time,"actor":~
           . user_re($actor) . ',"post":' . post_re($pid, $actor, $likes)
           . ',"target":null\}';
}

# a like event: L(event, who likes, post, its author, like_count)
sub L {
    my ($eid, $actor, $pid, $author, $likes) = @_;
    return qq~\\{"event_id":$eid,"type":"like","created_at":$Time,"actor":~
           . user_re($actor) . ',"post":' . post_re($pid, $author, $likes)
           . ',"target":null\}';
}

# a follow event: F(event, follower, followed)
sub F {
    my ($eid, $actor, $target) = @_;
    return qq~\\{"event_id":$eid,"type":"follow","created_at":$Time,"actor":~
           . user_re($actor) . ',"post":null,"target":' . user_re($target)
           . '\}';
}

# events one after the other
sub seq {
    return CORE::join(',', @_);
}

# the whole feed: feed($has_next, events...)
sub feed {
    my $next = shift;
    return '^\{"events":\[' . join(',', @_) . '\],"next":'
           . ($next ? '"[A-Za-z0-9_-]+"' : 'null') . '\}$';
}

# from an --- init: requests [user, method, uri, body] one after the other,
# their statuses on one line
sub act {
    my @reqs = @_;
    my @st;

    for my $r (@reqs) {
        my ($u, $method, $uri, $body) = @$r;
        my ($status) = Social::social_http($method, $uri, $body, auth($u));
        push @st, $status;
    }

    return "@st\n";
}

# from an --- init: one page of user $u's feed: its events' numbers and
# "next"
sub page {
    my ($u, $query) = @_;

    require JSON::PP;

    my ($status, $body) = Social::social_http('GET', "/feed$query", undef,
                                              auth($u));
    return ("status $status", undef) if $status ne '200';

    my $feed = eval { JSON::PP::decode_json($body) };
    return ("bad json", undef) unless ref $feed eq 'HASH';

    return (join(' ', Social::social_event_ns(map { $_->{event_id} }
                                                  @{ $feed->{events} })),
            $feed->{next});
}

sub page_line {
    my ($ids, $next) = @_;
    return "$ids | " . (defined $next ? 'next' : 'null') . "\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    social_numbered_answers($block);
    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: a new user's feed is empty
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('ann', 'x'), ('bob', 'x'), ('cat', 'x'), ('dan', 'x'), ('eve', 'x'), ('fay', 'x'), ('kim', 'x'), ('leo', 'x'), ('max', 'x')");
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body chomp
{"events":[],"next":null}



=== TEST 2: no token is 401
--- request
GET /feed
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 3: a token signed with another key is 401
--- request
GET /feed
--- more_headers eval: ::auth(1, key => 'another key, not the test one!!')
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 4: ann posts p1 (event 1)
--- request
POST /posts
{"content": "p1"}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::post_re(1, 1, 0) . '$'



=== TEST 5: the reader's own post is in their feed, in the exact shape
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::P(1, 1, 1, 0))



=== TEST 6: bob posts p2, cat p3, bob p4 (events 2, 3, 4)
--- init
Social::social_result(::act([2, 'POST', '/posts', '{"content":"p2"}'], [3, 'POST', '/posts', '{"content":"p3"}'], [2, 'POST', '/posts', '{"content":"p4"}']));
--- response_body
201 201 201



=== TEST 7: whom ann does not follow is not in her feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::P(1, 1, 1, 0))



=== TEST 8: ann follows bob (event 5)
--- request
PUT /user/2/follow
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 9: following bob brings his earlier posts in, newest first
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(5, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0), ::P(1, 1, 1, 0))



=== TEST 10: following again is 204
--- request
PUT /user/2/follow
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 11: and makes no second follow event
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(5, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0), ::P(1, 1, 1, 0))



=== TEST 12: following oneself is 422
--- request
PUT /user/1/follow
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+"



=== TEST 13: ann likes p4 twice (event 6), bob likes p1 (event 7), cat likes p2 (event 8)
--- init
Social::social_result(::act([1, 'PUT', '/posts/4/like'], [1, 'PUT', '/posts/4/like'], [2, 'PUT', '/posts/1/like'], [3, 'PUT', '/posts/2/like']));
--- response_body
204 204 204 204



=== TEST 14: the likes of ann and bob, not cat's; like counts of every like
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(7, 2, 1, 1, 1), ::L(6, 1, 4, 2, 1), ::F(5, 1, 2), ::P(4, 2, 4, 1), ::P(2, 2, 2, 1), ::P(1, 1, 1, 1))



=== TEST 15: a like twice counts once
--- request
GET /posts/4
--- more_headers eval: ::auth(1)
--- response_body_like eval: '^\{"post_id":4,"author_id":2,"content":"p4","created_at":' . $::Time . ',"like_count":1,"liked_by_me":true\}$'



=== TEST 16: ann unlikes p4
--- request
DELETE /posts/4/like
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 17: unliking again is 204
--- request
DELETE /posts/4/like
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 18: the unlike took the like event out and the count down
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(7, 2, 1, 1, 1), ::F(5, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 1), ::P(1, 1, 1, 1))



=== TEST 19: ann unfollows bob
--- request
DELETE /user/2/follow
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 20: bob's events are out at once (ann's own follow event may stay)
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: '^\{"events":\[(?:' . ::F(5, 1, 2) . ',)?' . ::P(1, 1, 1, 1) . '\],"next":null\}$'



=== TEST 21: ann follows bob again (event 9), then cat (event 10)
--- init
Social::social_result(::act([1, 'PUT', '/user/2/follow'], [1, 'PUT', '/user/3/follow']));
--- response_body
204 204



=== TEST 22: bob's and cat's earlier events are back in
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: '^\{"events":\[' . ::seq(::F(10, 1, 3), ::F(9, 1, 2), ::L(8, 3, 2, 2, 1), ::L(7, 2, 1, 1, 1)) . ',(?:' . ::F(5, 1, 2) . ',)?' . ::seq(::P(4, 2, 4, 0), ::P(3, 3, 3, 0), ::P(2, 2, 2, 1), ::P(1, 1, 1, 1)) . '\],"next":null\}$'



=== TEST 23: ann deletes p1
--- request
DELETE /posts/1
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 24: the deleted post is gone
--- request
GET /posts/1
--- more_headers eval: ::auth(1)
--- error_code: 404
--- response_body_like chomp
^\{"error":\{"code":"not_found",



=== TEST 25: the post and bob's like of it are gone from the feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: '^\{"events":\[' . ::seq(::F(10, 1, 3), ::F(9, 1, 2), ::L(8, 3, 2, 2, 1)) . ',(?:' . ::F(5, 1, 2) . ',)?' . ::seq(::P(4, 2, 4, 0), ::P(3, 3, 3, 0), ::P(2, 2, 2, 1)) . '\],"next":null\}$'



=== TEST 26: bob likes cat's p3 (event 11); a follow event of bob that ann's unfollow may have left is taken out with SQL, so that what follows is exact
--- init
Social::social_result(::act([2, 'PUT', '/posts/3/like']));
Social::social_sql("DELETE FROM events WHERE event_id = "
                   . Social::social_event_id(5));
# as an operator who deletes with SQL would: the feed set in Redis is dropped
Social::social_redis('DEL', 'social:feed:top');
--- response_body
204



=== TEST 27: the feed before cat goes
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(11, 2, 3, 3, 1), ::F(10, 1, 3), ::F(9, 1, 2), ::L(8, 3, 2, 2, 1), ::P(4, 2, 4, 0), ::P(3, 3, 3, 1), ::P(2, 2, 2, 1))



=== TEST 28: cat deletes herself
--- request
DELETE /user/3
--- more_headers eval: ::auth(3)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 29: cat's events, the events about her and those on her posts are gone; her like no longer counts
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 30: dan posts p5 (event 12), bob likes it (event 13)
--- init
Social::social_result(::act([4, 'POST', '/posts', '{"content":"p5"}'], [2, 'PUT', '/posts/5/like']));
--- response_body
201 204



=== TEST 31: bob's like of dan's post is in ann's feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 32: ann blocks dan
--- request
PUT /user/4/block
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 33: a block by the reader hides the events on the post of whom she blocks
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 34: ann unblocks dan
--- request
DELETE /user/4/block
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 35: the like is back
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 36: dan blocks ann
--- init
Social::social_result(::act([4, 'PUT', '/user/1/block']));
--- response_body
204



=== TEST 37: a block of the reader by the post's author hides it too
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 38: dan unblocks ann; bob follows eve (event 14)
--- init
Social::social_result(::act([4, 'DELETE', '/user/1/block'], [2, 'PUT', '/user/5/follow']));
--- response_body
204 204



=== TEST 39: bob's follow of eve is in ann's feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 40: ann blocks eve
--- request
PUT /user/5/block
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 41: a block by the reader hides the events whose target she blocks
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 42: ann unblocks eve
--- request
DELETE /user/5/block
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 43: the follow is back
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 44: eve blocks ann
--- init
Social::social_result(::act([5, 'PUT', '/user/1/block']));
--- response_body
204



=== TEST 45: a block of the reader by the target hides it too
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 46: eve unblocks ann; fay follows ann (event 15), ann follows fay (event 16), fay posts p6 (event 17)
--- init
Social::social_result(::act([5, 'DELETE', '/user/1/block'], [6, 'PUT', '/user/1/follow'], [1, 'PUT', '/user/6/follow'], [6, 'POST', '/posts', '{"content":"p6"}']));
--- response_body
204 204 204 201



=== TEST 47: fay's post and both follows are in ann's feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::P(17, 6, 6, 0), ::F(16, 1, 6), ::F(15, 6, 1), ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 48: ann blocks fay
--- request
PUT /user/6/block
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 49: the block removed the follows both ways
--- sql
SELECT count(*) FROM follows WHERE 6 IN (follower_id, followed_id)
--- response_body
0



=== TEST 50: everything of fay and about her is out of ann's feed
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 51: following across the block is 403
--- request
PUT /user/6/follow
--- more_headers eval: ::auth(1)
--- error_code: 403
--- response_body_like chomp
^\{"error":\{"code":"forbidden",



=== TEST 52: the other way too: fay cannot follow ann
--- init
Social::social_result(::act([6, 'PUT', '/user/1/follow']));
--- response_body
403



=== TEST 53: ann unblocks fay, follows her again (event 18); fay blocks ann: the follows both ways are gone
--- init
Social::social_result(::act([1, 'DELETE', '/user/6/block'], [1, 'PUT', '/user/6/follow'], [6, 'PUT', '/user/1/block']));
--- sql
SELECT 'follows ' || count(*) FROM follows WHERE 6 IN (follower_id, followed_id)
--- response_body
204 204 204
follows 0



=== TEST 54: and fay's events are out
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 55: even a follow left behind (written with SQL) shows no event of a user in a block with the reader
--- init
Social::social_sql("INSERT INTO follows (follower_id, followed_id) VALUES (1, 6)");
--- request
GET /feed
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::feed(0, ::F(14, 2, 5), ::L(13, 2, 5, 4, 1), ::F(9, 1, 2), ::P(4, 2, 4, 0), ::P(2, 2, 2, 0))



=== TEST 56: paging: max posts p7..p16 (events 19-28), kim follows leo (29), leo posts p17 (30), likes max's ten posts (31-40), posts p18 (41) and p19 (42); kim blocks max
--- init
Social::social_sql("DELETE FROM follows WHERE follower_id = 1 AND followed_id = 6");
Social::social_result(::act(
    (map { [9, 'POST', '/posts', qq{{"content":"p$_"}}] } 7 .. 16),
    [7, 'PUT', '/user/8/follow'],
    [8, 'POST', '/posts', '{"content":"p17"}'],
    (map { [8, 'PUT', "/posts/$_/like"] } 7 .. 16),
    [8, 'POST', '/posts', '{"content":"p18"}'],
    [8, 'POST', '/posts', '{"content":"p19"}'],
    [7, 'PUT', '/user/9/block']));
--- response_body
201 201 201 201 201 201 201 201 201 201 204 201 204 204 204 204 204 204 204 204 204 204 201 201 204



=== TEST 57: a page is full across ten hidden events in between
--- request
GET /feed?limit=3
--- more_headers eval: ::auth(7)
--- response_body_like eval: ::feed(1, ::P(42, 8, 19, 0), ::P(41, 8, 18, 0), ::P(30, 8, 17, 0))



=== TEST 58: limit=1 after a page of two reaches over the ten hidden events
--- init
my ($ids, $next) = ::page(7, "?limit=2");
my @l = (::page_line($ids, $next));
($ids, $next) = ::page(7, "?limit=1&before=$next") if defined $next;
push @l, ::page_line($ids, $next);
Social::social_result(CORE::join('', @l));
--- response_body
42 41 | next
30 | next



=== TEST 59: limit=100 is in range
--- request
GET /feed?limit=100
--- more_headers eval: ::auth(7)
--- response_body_like eval: ::feed(0, ::P(42, 8, 19, 0), ::P(41, 8, 18, 0), ::P(30, 8, 17, 0), ::F(29, 7, 8))



=== TEST 60: paging while leo posts p20 and p21 (events 43, 44) between the pages: no duplicates, no gaps
--- init
my @l;
my ($ids, $next) = ::page(7, "?limit=2");
push @l, ::page_line($ids, $next);
my @st = map { (Social::social_http('POST', '/posts', qq{{"content":"p$_"}}, ::auth(8)))[0] } 20, 21;
if (defined $next) {
    ($ids, $next) = ::page(7, "?limit=2&before=$next");
    push @l, ::page_line($ids, $next);
}
($ids, $next) = ::page(7, "?limit=2");
push @l, ::page_line($ids, $next);
Social::social_result("posts @st\n" . CORE::join('', @l));
--- response_body
posts 201 201
42 41 | next
30 29 | null
44 43 | next



=== TEST 61: one event a page, to the end: every event once, in order
--- init
my (@all, $n);
my ($ids, $next) = ::page(7, "?limit=1");
push @all, $ids;
while (defined $next && ++$n < 20) {
    ($ids, $next) = ::page(7, "?limit=1&before=$next");
    push @all, $ids;
}
Social::social_result(CORE::join(' ', @all) . "\n");
--- response_body
44 43 42 41 30 29



=== TEST 62: the cursor of a page is what the next page starts after, also for limit=3 across the hidden events
--- init
my ($ids, $next) = ::page(7, "?limit=3");
my @l = (::page_line($ids, $next));
($ids, $next) = ::page(7, "?limit=3&before=$next") if defined $next;
push @l, ::page_line($ids, $next);
Social::social_result(CORE::join('', @l));
--- response_body
44 43 42 | next
41 30 29 | null



=== TEST 63: limit=abc is 422
--- request
GET /feed?limit=abc
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 64: limit=0 is 422
--- request
GET /feed?limit=0
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 65: limit=101 is 422
--- request
GET /feed?limit=101
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 66: limit=1e2 is 422
--- request
GET /feed?limit=1e2
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 67: a cursor that is not one is 422
--- request
GET /feed?before=abc
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"before"\}\}$



=== TEST 68: an event id is not a cursor
--- request eval: sub { "GET /feed?before=" . Social::social_event_id(42) }
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"before"\}\}$



=== TEST 69: an empty cursor is 422
--- request
GET /feed?before=
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"before"\}\}$



=== TEST 70: a cursor of a page with no next page (e:0) was never issued
--- request
GET /feed?before=ZTow
--- more_headers eval: ::auth(7)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"before"\}\}$



=== TEST 71: a bad limit, a bad cursor and no token: 401 first
--- request
GET /feed?limit=0&before=abc
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}
