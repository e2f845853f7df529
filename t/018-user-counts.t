# vim:set ft= ts=4 sw=4 et fdm=marker:

# The counts of GET /user/{id} without counting (sql/011_user_counts.sql,
# ngx_http_social_counts.c): exact after posts and their deletion, follows
# and unfollows (repeats count once), a block, a deleted user, many
# writes at once; the same once the compaction moved the deltas into
# user_counts; a compaction that waits on no user; a TRUNCATE; and a
# read that never touches follows or posts, whatever their size.
#
# Users (TEST 1): 1 ann, 2 bob, 3 cat, 4 dan, 5 eve, 6 root (admin),
# 7..46 u7..u46.  TEST 1 to 8 run without the compaction
# (social_counts_interval 0), so that the counts are read from the deltas;
# TEST 9 to 11 with it every 100 ms.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

# TEST 16: 200 connections at once
worker_connections(1024);

# 4 a block, and one more for each --- error_log (TESTs 9 and 16)
plan tests => repeat_each() * (4 * blocks() + 2);

sub auth { return Social::social_auth(@_) }

sub out { Social::social_result(@_, "\n") }

sub sleep_for { select undef, undef, undef, shift }

# GET /user/$id as $id: "id followers/following/posts", or "id status"
sub counts {
    my $id = shift;
    my ($status, $body) = Social::social_http('GET', "/user/$id", undef,
                                              auth($id));

    return "$id $status" unless $status == 200;

    my %c = $body =~ /"(followers|following|posts)":(\d+)/g;

    return "$id $c{followers}/$c{following}/$c{posts}";
}

# the users whose counts, as user_counts and the deltas give them, are not
# what count(*) finds in follows and posts: each table counted once and
# joined by hash, whatever the planner's statistics say of tables just
# filled (with subqueries per user, or a nested loop, planned before
# autovacuum had seen 200k new rows, a CI run spent half an hour here)
sub wrong {
    my @ids = Social::social_sql(<<'SQL');
SET enable_nestloop = off;
WITH d AS (SELECT user_id, sum(followers) AS followers,
                  sum(following) AS following, sum(posts) AS posts
             FROM user_count_deltas GROUP BY user_id),
     ers AS (SELECT followed_id AS user_id, count(*) AS n
               FROM follows GROUP BY followed_id),
     ing AS (SELECT follower_id AS user_id, count(*) AS n
               FROM follows GROUP BY follower_id),
     p AS (SELECT author_id AS user_id, count(*) AS n
             FROM posts GROUP BY author_id)
SELECT u.user_id
  FROM users u
  LEFT JOIN user_counts c ON c.user_id = u.user_id
  LEFT JOIN d ON d.user_id = u.user_id
  LEFT JOIN ers ON ers.user_id = u.user_id
  LEFT JOIN ing ON ing.user_id = u.user_id
  LEFT JOIN p ON p.user_id = u.user_id
 WHERE coalesce(c.followers, 0) + coalesce(d.followers, 0)
       <> coalesce(ers.n, 0)
    OR coalesce(c.following, 0) + coalesce(d.following, 0)
       <> coalesce(ing.n, 0)
    OR coalesce(c.posts, 0) + coalesce(d.posts, 0) <> coalesce(p.n, 0)
 ORDER BY 1
SQL
    return "wrong: " . (@ids ? join(',', @ids) : 'none');
}

# each user's answer, then the check of every user
sub check {
    out(counts($_)) for @_;
    out(wrong());
}

sub status {
    my ($status) = Social::social_http(@_);
    return $status;
}

sub post {
    my ($id, $content) = @_;
    my ($status, $body) = Social::social_http('POST', '/posts',
                                              qq~{"content": "$content"}~,
                                              auth($id));
    return $body =~ /"post_id":(\d+)/ ? $1 : "none ($status)";
}

sub put_request {
    my ($method, $id, $uri) = @_;

    return "$method $uri HTTP/1.1\r\nHost: localhost\r\n" . auth($id)
           . "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}

# waits until the compaction has left no delta, at most $secs
sub compacted {
    my $secs = shift;
    my $n;

    for (1 .. $secs * 10) {
        ($n) = Social::social_sql("SELECT count(*) FROM user_count_deltas");
        last if $n == 0;
        sleep_for(0.1);
    }

    return "deltas left: $n";
}

our $Still = $Social::Backends . "    social_counts_interval 0;\n";
our $Compacting = $Social::Backends . "    social_counts_interval 100ms;\n";

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: the users: nothing to count
--- http_config eval: $main::Still
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('cat', 'x', 'user'), ('dan', 'x', 'user'), ('eve', 'x', 'user'), ('root', 'x', 'admin')");
Social::social_sql("INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(7, 46) i");
::check(1 .. 5);
--- response_body
1 0/0/0
2 0/0/0
3 0/0/0
4 0/0/0
5 0/0/0
wrong: none



=== TEST 2: posts
--- http_config eval: $main::Still
--- init
::post(1, "a$_") for 1 .. 3;
::post(2, "b1");
::check(1, 2);
--- response_body
1 0/0/3
2 0/0/1
wrong: none



=== TEST 3: posts deleted, by their author and by an admin; again, nothing more
--- http_config eval: $main::Still
--- init
my @a = Social::social_sql("SELECT post_id FROM posts WHERE author_id = 1 ORDER BY post_id");
my ($b) = Social::social_sql("SELECT post_id FROM posts WHERE author_id = 2");
::out(::status('DELETE', "/posts/$a[0]", undef, ::auth(1)));
::out(::status('DELETE', "/posts/$a[1]", undef, ::auth(6, role => 'admin')));
::out(::status('DELETE', "/posts/$b", undef, ::auth(6, role => 'admin')));
::out(::status('DELETE', "/posts/$a[0]", undef, ::auth(1)));
::check(1, 2);
--- response_body
204
204
204
404
1 0/0/1
2 0/0/0
wrong: none



=== TEST 4: follows and unfollows; repeats count once
--- http_config eval: $main::Still
--- init
::out(join ' ', map { ::status('PUT', "/user/$_->[1]/follow", undef, ::auth($_->[0])) } [2, 1], [3, 1], [1, 2], [2, 1], [4, 1], [2, 1]);
::out(join ' ', map { ::status('DELETE', "/user/$_->[1]/follow", undef, ::auth($_->[0])) } [3, 1], [3, 1], [5, 1]);
::check(1 .. 5);
--- response_body
204 204 204 204 204 204
204 204 204
1 2/1/1
2 1/1/0
3 0/0/0
4 0/1/0
5 0/0/0
wrong: none



=== TEST 5: a block takes the follows away both ways; again, nothing more
--- http_config eval: $main::Still
--- init
::out(::status('PUT', "/user/2/block", undef, ::auth(1)));
::out(::status('PUT', "/user/2/block", undef, ::auth(1)));
::out(::status('PUT', "/user/1/follow", undef, ::auth(2)));
::check(1, 2);
--- response_body
204
204
403
1 1/0/1
2 0/0/0
wrong: none



=== TEST 6: dan, who follows and is followed, with posts
--- http_config eval: $main::Still
--- init
::out(join ' ', map { ::status('PUT', "/user/$_->[1]/follow", undef, ::auth($_->[0])) } [4, 3], [3, 4], [5, 4]);
::post(4, "d$_") for 1 .. 2;
::check(1, 3, 4, 5);
--- response_body
204 204 204
1 1/0/1
3 1/1/0
4 2/2/2
5 0/1/0
wrong: none



=== TEST 7: dan deleted: whom he followed lose a follower, his followers a following
--- http_config eval: $main::Still
--- init
::out(::status('DELETE', "/user/4", undef, ::auth(4)));
::check(1, 3, 4, 5);
--- response_body
204
1 0/0/1
3 0/0/0
4 401
5 0/0/0
wrong: none



=== TEST 8: forty at once: follows, the same again, unfollows beside follows, posts
--- http_config eval: $main::Still
--- init
::out(scalar Social::social_at_once(0, [ map { ::put_request('PUT', $_, "/user/5/follow") } 7 .. 46 ]));
::out(scalar Social::social_at_once(0, [ map { ::put_request('PUT', $_, "/user/5/follow") } 7 .. 46 ]));
::out(scalar Social::social_at_once(0, [ map { ::put_request($_ <= 26 ? 'DELETE' : 'PUT', $_, "/user/5/follow") } 7 .. 46 ]));
my $n = 0;
my ($statuses) = Social::social_at_once(0, [ map { my $b = qq~{"content": "u$_"}~; "POST /posts HTTP/1.1\r\nHost: localhost\r\n" . ::auth($_) . "\r\nContent-Type: application/json\r\nContent-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b" } 7 .. 46 ]);
::out($statuses);
::check(5, 7, 46);
::out(Social::social_sql("SELECT count(*) > 0 FROM user_count_deltas") . " deltas, "
      . Social::social_sql("SELECT count(*) FROM user_counts WHERE posts + followers + following <> 0") . " compacted counts");
--- response_body
204:40
204:40
204:40
201:40
5 20/0/0
7 0/0/1
46 0/1/1
wrong: none
t deltas, 0 compacted counts



=== TEST 9: the compaction: the deltas moved, the counts the same; a deleted user's deltas dropped
--- http_config eval: $main::Compacting
--- init
::out(::compacted(5));
::check(1, 2, 3, 5, 7, 46);
::out(Social::social_sql("SELECT count(*) FROM user_counts WHERE user_id = 4") . " counts of dan");
--- response_body
deltas left: 0
1 0/0/1
2 0/0/0
3 0/0/0
5 20/0/0
7 0/0/1
46 0/1/1
wrong: none
0 counts of dan
--- error_log
deltas compacted



=== TEST 10: 200k followers by SQL: compacted in rounds, and read without a look at follows or posts, even while they are locked
--- http_config eval: $main::Compacting
--- timeout: 60
--- init
Social::social_sql("INSERT INTO users (username, password_hash) SELECT 'f' || i, 'x' FROM generate_series(1, 200000) i");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) SELECT user_id, 3 FROM users WHERE username LIKE 'f%'");
::out(::counts(3));
::out(::compacted(30));
::out(::counts(3));
::out(Social::social_sql("SELECT followers FROM user_counts WHERE user_id = 3") . " in user_counts");
# a reader of follows or posts would wait for this lock
my $pid = Social::social_lock_for('follows, posts', 3);
require Time::HiRes;
my $t0 = Time::HiRes::time();
::out(::counts(3));
::out(::counts(5));
my $secs = Time::HiRes::time() - $t0;
::out("while locked: " . ($secs < 1.5 ? "at once" : "waited ${secs}s"));
waitpid $pid, 0;
::out(::wrong());
--- response_body
3 200000/0/0
deltas left: 0
3 200000/0/0
200000 in user_counts
3 200000/0/0
5 20/0/0
while locked: at once
wrong: none



=== TEST 11: writes at once while the compaction runs
--- http_config eval: $main::Compacting
--- init
::out(scalar Social::social_at_once(0, [ map { ::put_request('PUT', $_, "/user/1/follow") } 7 .. 46 ]));
::out(scalar Social::social_at_once(0, [ map { ::put_request($_ % 2 ? 'DELETE' : 'PUT', $_, "/user/1/follow") } 7 .. 46 ]));
::check(1);
::out(::compacted(5));
::check(1, 7, 8);
--- response_body
204:40
204:40
1 20/0/1
wrong: none
deltas left: 0
1 20/0/1
7 0/0/1
8 0/1/1
wrong: none



=== TEST 12: the compaction waits for no user: one being deleted keeps its deltas, the others go on; a deleted user's are dropped (u10's: it followed 9 and ann, and posted)
--- http_config eval: $main::Still
--- init
Social::social_sql("SELECT social_compact_user_counts(1000000)");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) VALUES (8, 9), (9, 8), (10, 9)");
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    eval { Social::social_sql("BEGIN; DELETE FROM users WHERE user_id = 8; SELECT pg_sleep(2); ROLLBACK") };
    require POSIX;
    POSIX::_exit(0);
}
::sleep_for(0.5);
require Time::HiRes;
my $t0 = Time::HiRes::time();
::out("moved " . Social::social_sql("SELECT social_compact_user_counts(1000)"));
my $secs = Time::HiRes::time() - $t0;
::out("waited: " . ($secs < 1 ? "no" : "${secs}s"));
::out("left: " . join ',', Social::social_sql("SELECT user_id FROM user_count_deltas ORDER BY 1"));
waitpid $pid, 0;
::out("moved " . Social::social_sql("SELECT social_compact_user_counts(1000)"));
Social::social_sql("DELETE FROM users WHERE user_id = 10");
::out("moved " . Social::social_sql("SELECT social_compact_user_counts(1000)"));
::out("left: " . Social::social_sql("SELECT count(*) FROM user_count_deltas"));
::out(Social::social_sql("SELECT count(*) FROM user_counts WHERE user_id = 10") . " counts of u10");
::check(8, 9);
--- response_body
moved 2
waited: no
left: 8
moved 1
moved 4
left: 0
0 counts of u10
8 1/2/1
9 1/1/1
wrong: none



=== TEST 13: TRUNCATE posts, which no delete trigger sees: the counts are made again
--- http_config eval: $main::Still
--- init
Social::social_sql("TRUNCATE posts CASCADE");
::check(1, 8, 9);
::out(Social::social_sql("SELECT count(*) FROM user_counts WHERE posts <> 0") . " posts counted");
--- response_body
1 19/0/0
8 1/2/0
9 1/1/0
wrong: none
0 posts counted



=== TEST 14: GET /user of many readers at once: their reads share statements, and each reader gets their own answer (a block either way, an unknown and a deleted user are 404 among them; the email to oneself only)
--- http_config eval: $main::Still
--- config eval: $Social::Locations . "    location = /metrics { social_endpoint metrics; }\n"
--- init
Social::social_sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES (7, 8) ON CONFLICT DO NOTHING");
my %exists = map { $_ => 1 } Social::social_sql("SELECT user_id FROM users");
my ($unknown) = Social::social_sql("SELECT max(user_id) + 1000 FROM users");
# 7 and 8 in a block, each read by the other and by someone else
my %target = (7 => 8, 8 => 7, 13 => 8, 14 => 7, 9 => $unknown, 11 => 11,
              12 => 4);
my @readers = grep { $_ != 10 } 7 .. 46;
for my $k (@readers) {
    $target{$k} //= $exists{$k + 1} ? $k + 1 : 1;
}
my $metric = sub {
    my ($status, $body) = Social::social_http('GET', '/metrics');
    return $body =~ /^$_[0] (\d+)$/m ? $1 : "none";
};
my ($b0, $n0) = ($metric->('social_read_batches_total'), $metric->('social_reads_total'));
my ($statuses, $answers) = Social::social_at_once(0, [ map { ::put_request('GET', $_, "/user/$target{$_}") } @readers ]);
my ($b1, $n1) = ($metric->('social_read_batches_total'), $metric->('social_reads_total'));
::out($statuses);
my @wrong;
for my $i (0 .. $#readers) {
    my ($k, $a) = ($readers[$i], $answers->[$i]);
    my $t = $target{$k};
    my $found = $k != 7 && $k != 8 && $exists{$t};
    my $ok = $found
        ? $a =~ m{^HTTP/1\.1 200 } && $a =~ /"user_id":$t,/
          && ($k == $t ? 1 : 0) == ($a =~ /"email":/ ? 1 : 0)
        : $a =~ m{^HTTP/1\.1 404 } && $a =~ /"code":"not_found"/;
    push @wrong, "$k:$t" unless $ok;
}
::out("wrong answers: " . (@wrong ? "@wrong" : "none"));
::out("reads: " . ($n1 - $n0) . ", in fewer statements: "
      . ($b1 - $b0 < $n1 - $n0 ? "yes" : "no (" . ($b1 - $b0) . ")"));
--- response_body
200:35 404:4
wrong answers: none
reads: 39, in fewer statements: yes



=== TEST 15: social_postgres_queue 0 (nothing waits): once the pool's connections are made, a read and a write go, each when a statement can take it
--- http_config eval: $main::Still . "    social_postgres_queue 0;\n"
--- init
# the pool connects as the worker starts: until then a statement that
# would wait is refused (503), which is what the setting says
my $first;
for (1 .. 50) {
    $first = ::counts(11);
    last unless $first =~ / 503$/;
    ::sleep_for(0.1);
}
my ($posts) = $first =~ m{/(\d+)$};
::out(defined $posts ? "read" : "no read: $first");
::out(::post(11, "with no queue") =~ /^\d+$/ ? "posted" : "not posted");
my ($after) = ::counts(11) =~ m{/(\d+)$};
::out(defined $after && $after == $posts + 1 ? "read again, one post more"
                                             : "read again: " . ::counts(11));
--- response_body
read
posted
read again, one post more



=== TEST 16: the read queue full: with social_postgres_queue 0 and both statements in flight (users locked), a read is refused at once with the 503 JSON; the reads the statements took answer 200 once the lock goes
--- http_config eval: $main::Still . "    social_postgres_queue 0;\n"
--- timeout: 30
--- init
# the pool connected first (TEST 15), and Redis holding every revocation
# record: while it is behind the log, each token check asks PostgreSQL,
# whose users are locked below, and is refused before its read (the
# worker's poll publishes what Redis missed, within about 2 s)
for (1 .. 80) {
    last unless ::counts(11) =~ / 503$/
                || (Social::social_redis('GET', 'social:rev') || 0)
                   < Social::social_sql("SELECT rev FROM revocation_counter");
    ::sleep_for(0.1);
}
my $pid = Social::social_lock_for('users', 2);
my ($counts, $answers) = Social::social_concurrent(200, "/user/11", ::auth(11));
waitpid $pid, 0;
my %st = map { /^(\d+):(\d+)$/ ? ($1 => $2) : () } split / /, $counts;
my @refused = grep { m{^HTTP/1\.1 503} } @$answers;
my @json = grep { /"code":"service_unavailable"/ } @refused;
::out("statuses: " . join(',', sort keys %st));
::out("taken by the statements: " . (($st{200} // 0) >= 1 && ($st{200} // 0) <= 128 ? "1 to 128" : "$counts"));
::out("refused: " . (@refused && @refused == @json ? "some, each the JSON" : "$counts"));
::out("after: " . (::counts(11) =~ / 503$/ ? "503" : "read"));
--- response_body
statuses: 200,503
taken by the statements: 1 to 128
refused: some, each the JSON
after: read
--- error_log
social: the read queue is full
