# vim:set ft= ts=4 sw=4 et fdm=marker:

# GET /feed merged per followee (ngx_http_social_feed.c): on a network drawn
# at random (a fixed seed), every reader's feed, paged with several limits,
# is the one a plain reading of API.md gives ("Activity feed"): the events
# whose actor is the reader or someone the reader follows, less those whose
# actor, post author or target is in a block with the reader either way,
# newest first, no duplicate and no gap across pages, every page full while
# more exist.  The reference is computed here, in Perl, from the tables.
#
# 40 users; follows drawn with a skew (a few users followed by many); ten
# blocks (which remove the follows across them, as the API does); 2500
# events: posts by a skewed few, likes of random posts, follows of random
# users.  Reader 1 follows two users with many events (fewer followees
# than a page: the merge without a threshold), reader 2 follows everyone
# (the threshold cuts most of them).  The Redis set keeps the newest 50, so
# the first pages come from Redis and the others from PostgreSQL, from the
# window of the last 1000 events below the cursor when it holds a page, or
# merged per followee when it does not (the readers of few events, and
# every page past 2500 - 1000).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (3 * blocks());

our $HttpConfig = <<'_EOC_';
    social_feed_cache_size 50;
    social_trim_interval 200ms;
_EOC_

our $Users = 40;

# the backends without Redis: every page from PostgreSQL's windowed query
(our $NoRedis = $Social::Backends) =~ s/^\s*social_redis .*\n//m;

# the whole feed of $reader paged by $limit, as the module answers it: the
# event ids, or an error
sub pages {
    my ($reader, $limit) = @_;
    my ($uri, @ids, %seen) = ("/feed?limit=$limit");

    require JSON::PP;

    for (1 .. 3000) {
        my ($status, $body) = Social::social_http('GET', $uri, undef,
                                        Social::social_auth($reader));
        return "status $status" if $status ne '200';
        my $feed = JSON::PP::decode_json($body);
        my @page = map { $_->{event_id} } @{ $feed->{events} };

        return "a page of " . @page . " with a next page"
            if @page != $limit && defined $feed->{next};
        return "an empty page" if !@page && @ids;

        for (@page) {
            return "$_ twice" if $seen{$_}++;
        }

        push @ids, @page;
        return \@ids unless defined $feed->{next};
        $uri = "/feed?limit=$limit&before=$feed->{next}";
    }

    return "too many pages";
}

# the tables a reference reads: follows, blocks, and every event with its
# actor, post author and target, newest first (three psql runs a check, not
# three a reader)
sub tables {
    my (%follows, %blocks);

    for (Social::social_sql("SELECT follower_id || ' ' || followed_id"
                            . " FROM follows"))
    {
        my ($a, $b) = split / /;
        $follows{$a}{$b} = 1;
    }

    for (Social::social_sql("SELECT blocker_id || ' ' || blocked_id"
                            . " FROM blocks"))
    {
        my ($a, $b) = split / /;
        $blocks{$a}{$b} = $blocks{$b}{$a} = 1;
    }

    my @events = map { [split / /] }
        Social::social_sql("SELECT e.event_id || ' ' || e.actor_id || ' '"
                           . " || coalesce(p.author_id, 0) || ' '"
                           . " || coalesce(e.target_id, 0)"
                           . " FROM events e LEFT JOIN posts p"
                           . " USING (post_id) ORDER BY e.event_id DESC");

    return { follows => \%follows, blocks => \%blocks, events => \@events };
}

# the feed of $reader as API.md says it, from the tables
sub reference {
    my ($reader, $t) = @_;

    my %follows = (%{ $t->{follows}{$reader} // {} }, $reader => 1);
    my %blocked = %{ $t->{blocks}{$reader} // {} };
    my @ids;

    for (@{ $t->{events} }) {
        my ($id, $actor, $author, $target) = @$_;
        next unless $follows{$actor};
        next if $blocked{$actor} || $blocked{$author} || $blocked{$target};
        push @ids, $id;
    }

    return \@ids;
}

# every reader's feed by $limit against the reference: a line
sub check {
    my ($limit, @readers) = @_;
    my ($events, @wrong) = (0);
    my $tables;

    @readers = (1 .. $Users) unless @readers;

    for my $reader (@readers) {
        my $got = pages($reader, $limit);

        # read after the pages, as the reference of each reader was
        $tables //= tables();
        my $want = reference($reader, $tables);

        if (!ref $got) {
            push @wrong, "reader $reader: $got";

        } elsif ("@$got" ne "@$want") {
            my $i = 0;
            $i++ while $i < @$got && $i < @$want && $got->[$i] == $want->[$i];
            push @wrong, "reader $reader: from the event at $i on, got "
                         . join(' ', grep { defined } @$got[$i .. $i + 4])
                         . ", want "
                         . join(' ', grep { defined } @$want[$i .. $i + 4]);
        }

        $events += @$want;
    }

    Social::social_result(
        @wrong ? join('', map { "$_\n" } @wrong)
               : "limit $limit: " . @readers . " readers as the reference"
                 . ($events >= 20 * @readers ? ", many events" : ", few")
                 . "\n");
}

# a skewed draw among 1 .. $n: low numbers far more often
sub skewed {
    my $n = shift;
    return 1 + int(exp(rand() * log($n + 1)) - 1) % $n;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("config", $Social::Locations)
        unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;

    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: a network drawn at random
--- init
Social::social_reset();
srand(25);
my (@sql, %follow, %block);
push @sql, "INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(1, $::Users) i";
push @sql, "UPDATE users SET role = 'admin' WHERE user_id = $::Users";
for my $a (3 .. $::Users) {
    for (1 .. int(rand(12))) {
        my $b = ::skewed($::Users);
        $follow{"$a $b"} = 1 if $a != $b;
    }
}
for my $b (3 .. $::Users) {
    $follow{"2 $b"} = 1;
}
$follow{"1 3"} = $follow{"1 4"} = 1;
for (1 .. 10) {
    my ($a, $b) = (3 + int(rand($::Users - 2)), 3 + int(rand($::Users - 2)));
    next if $a == $b;
    $block{"$a $b"} = 1;
    delete $follow{"$a $b"};
    delete $follow{"$b $a"};
}
# reader 2 is in one block too
$block{"2 5"} = 1;
delete $follow{"2 5"};
push @sql, "INSERT INTO follows (follower_id, followed_id) VALUES "
           . join(', ', map { "(" . join(', ', split / /) . ")" } sort keys %follow);
push @sql, "INSERT INTO blocks (blocker_id, blocked_id) VALUES "
           . join(', ', map { "(" . join(', ', split / /) . ")" } sort keys %block);
my $posts = 0;
for my $i (1 .. 2500) {
    my $r = rand();
    if ($r < 0.6 || $posts < 10) {
        my $a = $i % 7 == 0 ? 3 : $i % 5 == 0 ? 4 : ::skewed($::Users);
        $posts++;
        push @sql, "WITH p AS (INSERT INTO posts (author_id, content) VALUES ($a, 'p$posts') RETURNING post_id) INSERT INTO events (actor_id, type, post_id) SELECT $a, 'post', post_id FROM p";
    } elsif ($r < 0.85) {
        my ($a, $p) = (::skewed($::Users), 1 + int(rand($posts)));
        push @sql, "WITH l AS (INSERT INTO likes (user_id, post_id) VALUES ($a, $p) ON CONFLICT DO NOTHING RETURNING post_id) INSERT INTO events (actor_id, type, post_id) SELECT $a, 'like', post_id FROM l";
    } else {
        my ($a, $t) = (::skewed($::Users), 1 + int(rand($::Users)));
        push @sql, "INSERT INTO events (actor_id, type, target_id) VALUES ($a, 'follow', $t)" if $a != $t;
    }
}
while (my @some = splice @sql, 0, 400) {
    Social::social_sql(join ";\n", @some);
}
Social::social_result(Social::social_sql("SELECT (count(*) > 2000)::text FROM events") . "\n");
--- response_body
true



=== TEST 2: every reader, pages of 20 (the first from Redis, then from PostgreSQL)
--- init
::check(20);
--- response_body
limit 20: 40 readers as the reference, many events



=== TEST 3: every reader, pages of 7
--- init
::check(7);
--- response_body
limit 7: 40 readers as the reference, many events



=== TEST 4: pages of 1 and of 100 for the readers of few and of all followees, and a few others
--- init
::check(1, 7, 12);
::check(100, 1, 2, 7, 20);
--- response_body
limit 1: 2 readers as the reference, many events
limit 100: 4 readers as the reference, many events



=== TEST 5: reader 1 follows five more users: their earlier events are in at once, in every page size
--- init
for my $u (10 .. 14) {
    Social::social_http('PUT', "/user/$u/follow", undef, Social::social_auth(1));
}
::check(3, 1);
::check(20, 1);
--- response_body
limit 3: 1 readers as the reference, many events
limit 20: 1 readers as the reference, many events



=== TEST 6: reader 1 unfollows two of them and blocks a third: out at once
--- init
for my $u (10, 11) {
    Social::social_http('DELETE', "/user/$u/follow", undef, Social::social_auth(1));
}
Social::social_http('PUT', "/user/12/block", undef, Social::social_auth(1));
::check(5, 1);
::check(20, 1, 12);
--- response_body
limit 5: 1 readers as the reference, many events
limit 20: 2 readers as the reference, many events



=== TEST 7: posts deleted, one by one's author and one by an admin: gone from every feed
--- init
my ($p, $q) = Social::social_sql("SELECT post_id FROM posts WHERE author_id IN (3, 4) ORDER BY post_id DESC LIMIT 2");
my ($author) = Social::social_sql("SELECT author_id FROM posts WHERE post_id = $p");
Social::social_http('DELETE', "/posts/$p", undef, Social::social_auth($author));
Social::social_http('DELETE', "/posts/$q", undef, Social::social_auth(40, role => 'admin'));
my $left = Social::social_sql("SELECT count(*) FROM posts WHERE post_id IN ($p, $q)");
Social::social_result("posts left: $left\n");
::check(20);
--- response_body
posts left: 0
limit 20: 40 readers as the reference, many events



=== TEST 8: without Redis, every page from PostgreSQL: windows that hold a page, part of one, or nothing, in pages of 20 and of 3
--- http_config eval: $::NoRedis
--- init
::check(20);
::check(3, 1, 7, 12, 20);
--- response_body
limit 20: 40 readers as the reference, many events
limit 3: 4 readers as the reference, many events



=== TEST 9: a follow of oneself written with SQL (the API refuses it) counts the reader once: reader 41 of sparse own posts (merged per followee), with Redis
--- init
my @sql = ("INSERT INTO users (user_id, username, password_hash) VALUES (41, 'u41', 'x')",
           "SELECT setval('users_user_id_seq', 41)",
           "INSERT INTO follows (follower_id, followed_id) VALUES (41, 41), (7, 7)");
for my $i (1 .. 30) {
    push @sql, "WITH p AS (INSERT INTO posts (author_id, content) VALUES (41, 'q$i') RETURNING post_id) INSERT INTO events (actor_id, type, post_id) SELECT 41, 'post', post_id FROM p";
    push @sql, "WITH p AS (INSERT INTO posts (author_id, content) SELECT 3, 'r' || i FROM generate_series(1, 100) i RETURNING post_id) INSERT INTO events (actor_id, type, post_id) SELECT 3, 'post', post_id FROM p ORDER BY post_id";
}
Social::social_sql(join ";\n", @sql);
::check(3, 41, 7);
::check(20, 41);
--- response_body
limit 3: 2 readers as the reference, many events
limit 20: 1 readers as the reference, many events



=== TEST 10: the same without Redis
--- http_config eval: $::NoRedis
--- init
::check(3, 41, 7);
::check(20, 41);
--- response_body
limit 3: 2 readers as the reference, many events
limit 20: 1 readers as the reference, many events
