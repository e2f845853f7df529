# vim:set ft= ts=4 sw=4 et fdm=marker:

# Writes that commit together (ngx_http_social_batch.c, migrations 008,
# 009 and 012), against the real module: concurrent writes share transactions; a
# write that fails in a batch fails alone; a batch whose answer is lost
# (its connection timed out or was killed during the COMMIT) is answered
# once PostgreSQL says whether it committed, never twice; the reader's own
# write is in their feed at once while an open transaction holds the
# others' back; readers paging while writers write (some committing late)
# see every event once, with no gap; two batches that share their likes or
# follows, asked in opposite orders, do not deadlock (without the keys'
# order of migration 012, TEST 13 and 14 fail).
#
# Users (TEST 1): 1..40 u1..u40, 41 the reader, who follows 1..40.  Test
# triggers on posts: content "poison" is refused; content "slow..." makes
# the COMMIT take a second (a deferred constraint trigger).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
worker_connections(1024);
no_shuffle();

# 4 a block, and one more for each --- error_log (TEST 4, 5 and 7) and for
# the second pattern of TEST 13's and TEST 14's --- no_error_log
plan tests => repeat_each() * (4 * blocks() + 5);

sub auth { return Social::social_auth(@_) }

sub out { Social::social_result(@_, "\n") }

# a POST /posts of user $id, as raw HTTP
sub post_request {
    my ($id, $content) = @_;
    my $body = qq~{"content": "$content"}~;

    return "POST /posts HTTP/1.1\r\nHost: localhost\r\n"
           . auth($id) . "\r\nContent-Type: application/json\r\n"
           . "Content-Length: " . length($body) . "\r\n"
           . "Connection: close\r\n\r\n$body";
}

sub put_request {
    my ($id, $uri) = @_;

    return "PUT $uri HTTP/1.1\r\nHost: localhost\r\n" . auth($id) . "\r\n"
           . "Content-Length: 0\r\nConnection: close\r\n\r\n";
}

# a child process that runs $code and leaves; its pid
sub child {
    my $code = shift;
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        eval { $code->() };
        warn $@ if $@;
        require POSIX;
        POSIX::_exit(0);    # not exit: the runner's END would stop nginx
    }

    return $pid;
}

sub sleep_for { select undef, undef, undef, shift }

sub count_sql {
    my $sql = shift;
    my ($n) = Social::social_sql($sql);
    return $n;
}

# the PUTs [user, uri] in their order and then reversed, all at once while
# a transaction holds the tables for 0.8 s, so that they go as two batches
# together once it ends: the answers' statuses
sub both_ways {
    my @writes = @_;
    my $lock = child(sub { Social::social_sql("BEGIN; LOCK TABLE posts, likes, follows IN SHARE MODE; SELECT pg_sleep(0.8); COMMIT") });
    sleep_for(0.2);
    my ($statuses) = Social::social_at_once(0, [ map { put_request(@$_) } @writes, reverse @writes ]);
    waitpid $lock, 0;
    return $statuses;
}

# the reader's whole feed, paged with $limit: the event ids in order
sub feed_pass {
    my ($reader, $limit) = @_;
    my (@ids, $next);

    do {
        my $uri = "/feed?limit=$limit" . (defined $next ? "&before=$next" : '');
        my ($status, $body) = Social::social_http('GET', $uri, undef,
                                                  auth($reader));
        die "GET $uri: $status $body\n" unless $status == 200;
        push @ids, $body =~ /"event_id":(\d+)/g;
        $next = $body =~ /"next":"([^"]+)"/ ? $1 : undef;
    } while (defined $next);

    return \@ids;
}

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: forty writers and a reader who follows them; the test triggers
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(1, 40) i");
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('reader', 'x')");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) SELECT 41, i FROM generate_series(1, 40) i");
Social::social_sql(<<'SQL');
CREATE OR REPLACE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content = 'poison' THEN
        RAISE EXCEPTION 'a poisoned post';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION test_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(1);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS test_poison ON posts;
DROP TRIGGER IF EXISTS test_slow_commit ON posts;
CREATE TRIGGER test_poison BEFORE INSERT ON posts
    FOR EACH ROW EXECUTE FUNCTION test_poison();
CREATE CONSTRAINT TRIGGER test_slow_commit AFTER INSERT ON posts
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.content LIKE 'slow%')
    EXECUTE FUNCTION test_slow_commit();
SQL
::out(::count_sql("SELECT count(*) FROM follows WHERE follower_id = 41"));
--- response_body
40



=== TEST 2: forty posts at once: every one answered after its commit, in fewer transactions than posts
--- init
my $before = ::count_sql("SELECT count(*) FROM write_batches");
my ($statuses, $answers) = Social::social_at_once(0, [ map { ::post_request($_, "a$_") } 1 .. 40 ]);
::out($statuses);
my $right = grep { $answers->[$_ - 1] =~ /"author_id":$_,"content":"a$_"/ } 1 .. 40;
::out("answers with their own post: $right");
::out(::count_sql("SELECT count(*) FROM posts WHERE content LIKE 'a%'") . " posts, "
      . ::count_sql("SELECT count(*) FROM events e JOIN posts p USING (post_id) WHERE p.content LIKE 'a%'") . " events");
my $batches = ::count_sql("SELECT count(*) FROM write_batches") - $before;
::out("batches fewer than the posts: " . ($batches < 40 ? "yes" : "no ($batches)"));
--- response_body
201:40
answers with their own post: 40
40 posts, 40 events
batches fewer than the posts: yes



=== TEST 3: likes and follows at once go in batches too
--- init
my ($post) = Social::social_sql("SELECT post_id FROM posts WHERE content = 'a40'");
::out(scalar Social::social_at_once(0, [ map { ::put_request($_, "/posts/$post/like") } 1 .. 30 ]));
::out(scalar Social::social_at_once(0, [ map { ::put_request($_, "/user/40/follow") } 1 .. 30 ]));
::out(::count_sql("SELECT count(*) FROM likes WHERE post_id = $post") . " likes, "
      . ::count_sql("SELECT count(*) FROM follows WHERE followed_id = 40 AND follower_id <= 30") . " followers, "
      . ::count_sql("SELECT count(*) FROM events WHERE type = 'follow' AND target_id = 40") . " follow events");
--- response_body
204:30
204:30
30 likes, 30 followers, 30 follow events



=== TEST 4: a write that fails in a batch fails alone: the others of its batch commit
--- init
# inserts into posts wait 0.8 s: the writes queue up behind the first
# batches, the poisoned one among them, and go as one batch
my $lock = ::child(sub { Social::social_sql("BEGIN; LOCK TABLE posts IN SHARE MODE; SELECT pg_sleep(0.8); COMMIT") });
::sleep_for(0.2);
my @requests = map { ::post_request($_, $_ == 7 ? "poison" : "b$_") } 1 .. 30;
my ($statuses, $answers) = Social::social_at_once(0, \@requests);
waitpid $lock, 0;
::out($statuses);
::out("the poisoned one: " . ($answers->[6] =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none'));
::out(::count_sql("SELECT count(*) FROM posts WHERE content LIKE 'b%'") . " posts, "
      . ::count_sql("SELECT count(*) FROM posts WHERE content = 'poison'") . " poisoned");
--- response_body
201:29 500:1
the poisoned one: 500
29 posts, 0 poisoned
--- error_log
a poisoned post
--- no_error_log
[alert]



=== TEST 5: the answer lost after the COMMIT (the query timed out): PostgreSQL is asked, the post is read back, never written twice
--- http_config eval: $Social::Backends . "social_postgres_query_timeout 300ms;\n"
--- timeout: 10
--- request
POST /posts
{"content": "slow one"}
--- more_headers eval: ::auth(3) . "\r\nContent-Type: application/json"
--- error_code: 201
--- response_body_like: ^\{"post_id":\d+,"author_id":3,"content":"slow one","created_at":"[^"]+","like_count":0\}$
--- error_log
committed, its answers are read back
--- no_error_log
[alert]



=== TEST 6: ... and there is one such post
--- init
::out(::count_sql("SELECT count(*) FROM posts WHERE content = 'slow one'"));
--- response_body
1



=== TEST 7: the batch's connection killed during its COMMIT: it did not commit, the post goes again, once
--- init
my $killer = ::child(sub {
    ::sleep_for(0.5);
    Social::social_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%social_write_batch%' AND state = 'active' AND pid <> pg_backend_pid()");
});
my ($status, $body) = Social::social_http('POST', '/posts', '{"content": "slow two"}', ::auth(4));
waitpid $killer, 0;
::out("$status " . ($body =~ /"content":"slow two"/ ? "the post" : $body));
::out(::count_sql("SELECT count(*) FROM posts WHERE content = 'slow two'"));
--- response_body
201 the post
1
--- error_log
did not commit, its writes go again
--- no_error_log
[alert]



=== TEST 8: the reader's own post is in their feed at once while an open transaction holds the others' back; the others see it once it ends
--- init
my $open = ::child(sub { Social::social_sql("BEGIN; SELECT pg_current_xact_id(); SELECT pg_sleep(1.2); COMMIT") });
::sleep_for(0.3);
my ($s) = Social::social_http('POST', '/posts', '{"content": "mine now"}', ::auth(2));
my (undef, $own) = Social::social_http('GET', '/feed?limit=1', undef, ::auth(2));
my (undef, $other) = Social::social_http('GET', '/feed?limit=1', undef, ::auth(41));
waitpid $open, 0;
my (undef, $later) = Social::social_http('GET', '/feed?limit=1', undef, ::auth(41));
::out("posted $s");
::out("own feed: " . ($own =~ /"content":"mine now"/ ? "there" : "missing"));
::out("the reader's, while the transaction is open: " . ($other =~ /"content":"mine now"/ ? "there" : "not yet"));
::out("the reader's, after it: " . ($later =~ /"content":"mine now"/ ? "there" : "missing"));
--- response_body
posted 201
own feed: there
the reader's, while the transaction is open: not yet
the reader's, after it: there



=== TEST 9: paging while writers write, one of them committing late: every pass holds every event below its first once, no gap
--- init
my @writers = map {
    my $u = $_;
    ::child(sub {
        Social::social_http('POST', '/posts', qq~{"content": "c$u-$_"}~, ::auth($u)) for 1 .. 25;
    });
} 1 .. 4;
# a writer whose events take their ids long before they commit; after
# each commit it counts a write in Redis, as the module does before it
# answers (another node's batch, say)
push @writers, ::child(sub {
    for (1 .. 10) {
        Social::social_sql("BEGIN; WITH p AS (INSERT INTO posts (author_id, content) VALUES (5, 'late') RETURNING post_id, author_id) INSERT INTO events (actor_id, type, post_id) SELECT author_id, 'post', post_id FROM p; SELECT pg_sleep(0.15); COMMIT");
        Social::social_redis('INCR', 'social:feed:written');
    }
});
require POSIX;
my @passes;
my %alive = map { $_ => 1 } @writers;
while (%alive) {
    push @passes, ::feed_pass(41, 7);
    for my $pid (keys %alive) {
        delete $alive{$pid} if waitpid($pid, POSIX::WNOHANG()) != 0;
    }
}
push @passes, ::feed_pass(41, 7);
my @all = Social::social_sql("SELECT event_id FROM events WHERE actor_id IN (SELECT followed_id FROM follows WHERE follower_id = 41) ORDER BY event_id DESC");
my $bad = 0;
for my $p (@passes) {
    my %seen;
    my $dups = grep { $seen{$_}++ } @$p;
    my @expected = grep { $_ <= $p->[0] } @all;
    $bad++ if $dups || "@expected" ne "@$p";
}
::out("passes: " . (@passes >= 3 ? "several" : scalar @passes));
::out("passes with a gap or a duplicate: $bad");
::out("the last pass holds every event: " . ("@{ $passes[-1] }" eq "@all" ? "yes" : "no"));
::out(::count_sql("SELECT count(*) FROM posts WHERE content LIKE 'c%' OR content = 'late'"));
--- response_body
passes: several
passes with a gap or a duplicate: 0
the last pass holds every event: yes
110



=== TEST 10: a pass whose page ends on the reader's own post above the horizon goes on below that horizon: others' posts that commit meanwhile show on top, never in the middle of the pass
--- init
my $open = ::child(sub { Social::social_sql("BEGIN; SELECT pg_current_xact_id(); SELECT pg_sleep(1.2); COMMIT") });
::sleep_for(0.3);
Social::social_http('POST', '/posts', '{"content": "between"}', ::auth(6));
Social::social_http('POST', '/posts', '{"content": "own one"}', ::auth(41));
my (undef, $p1) = Social::social_http('GET', '/feed?limit=1', undef, ::auth(41));
my ($next) = $p1 =~ /"next":"([^"]+)"/;
waitpid $open, 0;
# the transaction ended: "between" is below the horizon now
my (undef, $p2) = Social::social_http('GET', "/feed?limit=3&before=$next", undef, ::auth(41));
my (undef, $top) = Social::social_http('GET', '/feed?limit=2', undef, ::auth(41));
my @c1 = $p1 =~ /"content":"([^"]+)"/g;
my @c2 = $p2 =~ /"content":"([^"]+)"/g;
my @ct = $top =~ /"content":"([^"]+)"/g;
::out("page 1: @c1");
::out("page 2 has between: " . ((grep { $_ eq 'between' } @c2) ? "yes" : "no") . ", has own one: " . ((grep { $_ eq 'own one' } @c2) ? "yes" : "no") . ", events " . scalar(@c2));
::out("from the top again: @ct");
--- response_body
page 1: own one
page 2 has between: no, has own one: no, events 3
from the top again: own one between



=== TEST 11: one batch of posts, likes and follows (three statements, whatever their number): the same like and the same follow asked twice are made once, a missing post and a missing user are 404, each answered as if alone
--- init
my ($post) = Social::social_sql("SELECT post_id FROM posts WHERE content = 'a39'");
# the writes wait behind the tables' lock, and go together
my $lock = ::child(sub { Social::social_sql("BEGIN; LOCK TABLE posts, likes, follows IN SHARE MODE; SELECT pg_sleep(0.8); COMMIT") });
::sleep_for(0.2);
my @requests = ((map { ::post_request($_, "c$_") } 21 .. 25),
                ::put_request(31, "/posts/$post/like"),
                ::put_request(31, "/posts/$post/like"),
                ::put_request(32, "/user/39/follow"),
                ::put_request(32, "/user/39/follow"),
                ::put_request(33, "/posts/999999999/like"),
                ::put_request(34, "/user/999999999/follow"));
my ($statuses, $answers) = Social::social_at_once(0, \@requests);
waitpid $lock, 0;
::out($statuses);
my $right = grep { $answers->[$_ - 21] =~ /"author_id":$_,"content":"c$_"/ } 21 .. 25;
::out("posts answered with their own: $right");
::out(::count_sql("SELECT count(*) FROM likes WHERE user_id = 31 AND post_id = $post") . " like, "
      . ::count_sql("SELECT count(*) FROM events WHERE type = 'like' AND actor_id = 31") . " like event, "
      . ::count_sql("SELECT count(*) FROM follows WHERE follower_id = 32 AND followed_id = 39") . " follow, "
      . ::count_sql("SELECT count(*) FROM events WHERE type = 'follow' AND actor_id = 32") . " follow event");
my ($status, $body) = Social::social_http('GET', '/user/39', undef, ::auth(39));
::out($body =~ /"followers":(\d+)/ ? "u39's followers: $1" : $body);
# the function itself, one batch for certain: write i's row is answer i
# (a like: post, user; a follow: follower, followed)
::out(join "\n", Social::social_sql("SELECT coalesce(c0, '-') || ' ' || coalesce(c1, '-') || ' ' || coalesce(c2, '-') FROM social_write_batch('test-11-' || gen_random_uuid(), '{like,post,follow,like,unlike,follow,unfollow}', ARRAY['$post', '26', '38', '$post', '$post', '38', '37'], '{35,d26,35,35,36,35,35}')"));
::out(::count_sql("SELECT count(*) FROM likes WHERE user_id = 35 AND post_id = $post") . " like, "
      . ::count_sql("SELECT count(*) FROM follows WHERE followed_id = 35 AND follower_id IN (37, 38)") . " follow, "
      . ::count_sql("SELECT count(*) FROM posts WHERE content = 'd26' AND author_id = 26") . " post");
--- response_body_like
^201:5 204:4 404:2
posts answered with their own: 5
1 like, 1 like event, 1 follow, 1 follow event
u39's followers: 2
true - \{\d+\}
\d+ 26 d26
true false -
true - \{\d+\}
true - \{\d+\}
true false -
true false -
1 like, 1 follow, 1 post



=== TEST 12: the test triggers go
--- init
Social::social_sql("DROP TRIGGER test_poison ON posts; DROP TRIGGER test_slow_commit ON posts; DROP FUNCTION test_poison(); DROP FUNCTION test_slow_commit()");
::out("gone");
--- response_body
gone



=== TEST 13: 64 likes, then the same 64 the other way, held by the tables' lock and then sent as two batches at once: every one 204, each made once, no deadlock (a batch writes its likes in their keys' order, migration 012)
--- init
my @posts = map { Social::social_sql("SELECT post_id FROM posts WHERE content = 'a$_'") } 35 .. 38;
my @writes = map { my $u = $_; map { [$u, "/posts/$_/like"] } @posts } 1 .. 16;
::out(::both_ways(@writes));
::out(::count_sql("SELECT count(*) FROM likes WHERE user_id <= 16 AND post_id IN (" . join(',', @posts) . ")") . " likes, "
      . ::count_sql("SELECT count(*) FROM events WHERE type = 'like' AND post_id IN (" . join(',', @posts) . ")") . " like events");
--- response_body
204:128
64 likes, 64 like events
--- no_error_log
deadlock
[error]



=== TEST 14: 64 follows, then the same 64 the other way, held by the tables' lock and then sent as two batches at once: every one 204, each made once, no deadlock (a batch writes its follows in their keys' order, migration 012)
--- init
my @writes = map { my $u = $_; map { [$u, "/user/$_/follow"] } 33 .. 36 } 11 .. 26;
::out(::both_ways(@writes));
::out(::count_sql("SELECT count(*) FROM follows WHERE follower_id BETWEEN 11 AND 26 AND followed_id BETWEEN 33 AND 36") . " follows, "
      . ::count_sql("SELECT count(*) FROM events WHERE type = 'follow' AND actor_id BETWEEN 11 AND 26 AND target_id BETWEEN 33 AND 36") . " follow events");
--- response_body
204:128
64 follows, 64 follow events
--- no_error_log
deadlock
[error]
