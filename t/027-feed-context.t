# vim:set ft= ts=4 sw=4 et fdm=marker:

# The feed's context in Redis (ngx_http_social_feed.c, step 2): what a
# page is filtered with (whom the reader follows, who is in a block with
# the reader, the reader's newest event) is kept per reader, so that a read
# makes one Redis trip; every write that changes it moves the reader's
# generation on before its answer, and a context of another generation is
# never used.  Each block shows one change taking effect at once: a follow,
# an unfollow, a block by the other user, the reader's own post; a forged
# context of an old generation; and a read while social:feed:written is
# ahead of what the set holds.  Then the feed's Lua library (Redis
# functions): loaded again when Redis lost it, beside another release's,
# and its table of decoded contexts past its size.
#
# Users (made with SQL by TEST 1): 1 ann (the reader), 2 bob, 3 cat, 4 dan;
# ann follows bob.  Posts, written through the module: bob b1 b2, cat c1,
# dan d1.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 3);

our $HttpConfig = <<'_EOC_';
    social_feed_cache_size 100;
    social_trim_interval 200ms;
_EOC_

sub auth { return Social::social_auth(@_) }

# from an --- init: what the block checks, a line
sub out {
    Social::social_result("$_[0]\n");
}

# the contents of ann's first page, newest first
sub page {
    my ($status, $body) = Social::social_http('GET', '/feed?limit=10', undef,
                                              auth(1));
    return "status $status" if $status ne '200';
    my @c = $body =~ /"content":"([^"]+)"/g;
    my @t = $body =~ /"type":"(follow)"/g;
    return join(' ', @c) . (@t ? " + " . scalar(@t) . " follow" : "");
}

# ann's kept context: "generation current" or what it is not
sub kept {
    my $c = Social::social_redis('GET', 'social:feed:ctx:1');
    my $g = Social::social_redis('GET', 'social:feed:rgen:1');
    $g = '0' if $g eq '';
    return 'none' if $c eq '';
    # "gen|own|[{followed: 1}, {in a block: 1}]" (JSON, cjson's)
    my ($cg, $own, $f) = $c =~ /^([^|]*)\|(\d+)\|\[\{([^}]*)\},\{[^}]*\}\]$/
        or return "malformed: $c";
    my @f = sort { $a <=> $b } $f =~ /"(\d+)":1/g;
    return ($cg eq $g ? 'current' : "old ($cg, now $g)")
           . ", follows " . scalar(@f) . ": " . join(',', @f);
}

# waits until the set holds every event, for at most 5 s
sub settled {
    for (1 .. 50) {
        my $n = Social::social_sql("SELECT count(*) FROM events");
        my $m = Social::social_redis('ZCARD', 'social:feed:recent');
        my $w = Social::social_redis('GET', 'social:feed:written') || 0;
        my $l = Social::social_redis('GET', 'social:feed:loaded') || 0;
        return 1 if $n == $m && $w <= $l;
        select undef, undef, undef, 0.1;
    }
    return 0;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: the first read takes the context from PostgreSQL and keeps it
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('ann', 'x'), ('bob', 'x'), ('cat', 'x'), ('dan', 'x')");
Social::social_sql("INSERT INTO follows (follower_id, followed_id) VALUES (1, 2)");
Social::social_http('POST', '/posts', qq~{"content":"$_->[1]"}~, ::auth($_->[0]))
    for [2, 'b1'], [3, 'c1'], [4, 'd1'], [2, 'b2'];
::settled();
::out(::page());
::out(::kept());
--- response_body
b2 b1
current, follows 2: 1,2



=== TEST 2: the next read is Redis alone: PostgreSQL's follows and blocks are out of the module's reach (every way a page is read from PostgreSQL reads them), and the page is the same
--- init
Social::social_sql("REVOKE ALL ON follows, blocks FROM social");
my $page = ::page();
Social::social_sql("GRANT ALL ON follows, blocks TO social");
::out($page);
--- response_body
b2 b1



=== TEST 3: ann follows cat: cat's post at once, and the context moves on
--- init
Social::social_http('PUT', '/user/3/follow', undef, ::auth(1));
::out(::page());
::out(::kept());
--- response_body
b2 c1 b1 + 1 follow
current, follows 3: 1,2,3



=== TEST 4: cat blocks ann: cat's post is gone from ann's page at once (cat's write moves ann's context on), and so is the follow
--- init
my ($st) = Social::social_http('PUT', '/user/1/block', undef, ::auth(3));
::out("block $st");
::out(::page());
::out(::kept());
--- response_body
block 204
b2 b1
current, follows 2: 1,2



=== TEST 5: ann unfollows bob: bob's posts are gone at once
--- init
Social::social_http('DELETE', '/user/2/follow', undef, ::auth(1));
::out("[" . ::page() . "]");
--- response_body
[]



=== TEST 6: ann posts: her post is in her next page at once, before any refresh could have brought it
--- init
Social::social_http('PUT', '/user/2/follow', undef, ::auth(1));
::settled();
Social::social_http('POST', '/posts', '{"content":"a1"}', ::auth(1));
::out(::page());
--- response_body
a1 b2 b1 + 1 follow



=== TEST 7: a context of another generation is never used: forged to follow dan, it changes nothing and is replaced
--- init
::settled();
my $g = Social::social_redis('GET', 'social:feed:rgen:1');
Social::social_redis('SET', 'social:feed:ctx:1', ($g + 1000) . '|0|[{"1":1,"4":1},{}]');
::out(::page());
::out(::kept());
--- response_body
a1 b2 b1 + 1 follow
current, follows 2: 1,2



=== TEST 8: a write the set may not hold yet (social:feed:written ahead of loaded): the read asks PostgreSQL, whose newest event is above the set's
--- init
::settled();
Social::social_sql("BEGIN; WITH p AS (INSERT INTO posts (author_id, content) VALUES (2, 'b3') RETURNING post_id, author_id) INSERT INTO events (actor_id, type, post_id) SELECT author_id, 'post', post_id FROM p; COMMIT");
Social::social_redis('INCR', 'social:feed:written');
::out(::page());
--- response_body
b3 a1 b2 b1 + 1 follow



=== TEST 9: a follow whose Redis call fails (its context's generation not moved): the reader's next read in this worker takes the context from PostgreSQL, and keeps it right
--- init
::settled();
::page();
Social::social_redis('SET', 'social:feed:written', 'not a count');
my ($st) = Social::social_http('PUT', '/user/4/follow', undef, ::auth(1));
Social::social_redis('SET', 'social:feed:written', Social::social_redis('GET', 'social:feed:loaded') || 0);
::out("follow $st");
::out(::page());
::out(::kept());
--- response_body
follow 204
b3 a1 b2 d1 b1 + 2 follow
current, follows 3: 1,2,4
--- error_log
a change did not reach the feed in Redis
--- no_error_log
[alert]


=== TEST 10: a context in the previous version's form ("gen|own|n|ids", as a worker not yet reloaded keeps it), of the current generation and forged to leave bob out: never used, replaced in the JSON form
--- init
::settled();
my $g = Social::social_redis('GET', 'social:feed:rgen:1');
$g = '0' if $g eq '';
Social::social_redis('SET', 'social:feed:ctx:1', "$g|0|2|1,4");
::out(::page());
::out(::kept());
--- response_body
b3 a1 b2 d1 b1 + 2 follow
current, follows 3: 1,2,4



=== TEST 11: after Redis lost its functions (FUNCTION FLUSH, as after a restart without persistence), the next read loads the feed's library again and is still Redis alone
--- init
::settled();
::page();
Social::social_redis('FUNCTION', 'FLUSH');
Social::social_sql("REVOKE ALL ON follows, blocks FROM social");
my $page = ::page();
Social::social_sql("GRANT ALL ON follows, blocks TO social");
::out($page);
::out(join ' ', map { /^social_[0-9a-f]{12}$/ ? 'social_<version>' : () }
                split /\n/, Social::social_redis('FUNCTION', 'LIST'));
--- response_body
b3 a1 b2 d1 b1 + 2 follow
social_<version>
--- error_log
loading its library



=== TEST 12: another release's library (its own name and functions) neither stands in for this one nor is replaced
--- init
Social::social_redis('FUNCTION', 'FLUSH');
Social::social_redis('FUNCTION', 'LOAD', "#!lua name=social_000000000000\n"
    . "redis.register_function('social_feed_known_000000000000', "
    . "function() return {'stale'} end)\n"
    . "redis.register_function('social_feed_read_000000000000', "
    . "function() return {'stale'} end)");
::out(::page());
::out(join ' ', map { $_ eq 'social_000000000000' ? $_ : 'social_<version>' }
                sort grep { /^social_[0-9a-f]{12}$/ }
                split /\n/, Social::social_redis('FUNCTION', 'LIST'));
--- response_body
b3 a1 b2 d1 b1 + 2 follow
social_000000000000 social_<version>



=== TEST 13: the library keeps decoded contexts by their text, at most 512: each of 520 texts (the reader's newest event differs) answers its own, the first again after the table was emptied
--- init
::settled();
::page();
my ($lib) = grep { /^social_[0-9a-f]{12}$/ && $_ ne 'social_000000000000' }
            split /\n/, Social::social_redis('FUNCTION', 'LIST');
my ($v) = $lib =~ /_([0-9a-f]+)$/;
my $g = Social::social_redis('GET', 'social:feed:rgen:1');
$g = '0' if $g eq '';
my @keys = ('social:feed:recent', 'social:feed:top', 'social:feed:bottom',
            'social:feed:ctx:1', 'social:feed:rgen:1');
my $wrong = 0;
for my $own (1 .. 520, 1) {
    Social::social_redis('SET', 'social:feed:ctx:1',
                         qq~$g|$own|[{"1":1,"2":1,"4":1},{}]~);
    my @r = split /\n/, Social::social_redis('FCALL',
        "social_feed_known_$v", 5, @keys, '9223372036854775807', 1, 100, 0);
    $wrong++ unless $r[0] eq 'ok' && $r[3] eq $own;
}
Social::social_redis('DEL', 'social:feed:ctx:1');
::out("wrong: $wrong");
::out(::page());
::out(::kept());
--- response_body
wrong: 0
b3 a1 b2 d1 b1 + 2 follow
current, follows 3: 1,2,4



=== TEST 14: Redis refuses to load the library (an ACL without FUNCTION LOAD): the reads take their other way, right, the refusal is told, and the load is not tried again at every read
--- init
::settled();
Social::social_redis('FUNCTION', 'FLUSH');
Social::social_redis('CONFIG', 'RESETSTAT');
Social::social_redis('ACL', 'SETUSER', 'default', '-function|load');
my @p = eval { (::page(), ::page(), ::page()) };
Social::social_redis('ACL', 'SETUSER', 'default', '+function|load');
die $@ if $@;
my ($loads) = Social::social_redis('INFO', 'commandstats')
    =~ /cmdstat_function\|load:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=(\d+)/;
::out($_) for @p;
::out("loads refused: " . ($loads // 0));
--- response_body
b3 a1 b2 d1 b1 + 2 follow
b3 a1 b2 d1 b1 + 2 follow
b3 a1 b2 d1 b1 + 2 follow
loads refused: 1
--- error_log
did not load a library, not tried again for 60 s
--- no_error_log
[alert]



=== TEST 15: a Redis that runs no FCALL (one before 7, as an ACL refusing it shows): every read is right from PostgreSQL, a call a read is refused and no load of the library is tried
--- init
::settled();
Social::social_redis('CONFIG', 'RESETSTAT');
Social::social_redis('ACL', 'SETUSER', 'default', '-fcall');
my @p = eval { (::page(), ::page(), ::page()) };
Social::social_redis('ACL', 'SETUSER', 'default', '+fcall');
die $@ if $@;
my $stats = Social::social_redis('INFO', 'commandstats');
my ($refused) = $stats =~ /cmdstat_fcall:calls=\d+,usec=\d+,usec_per_call=[\d.]+,rejected_calls=(\d+)/;
my ($loads) = $stats =~ /cmdstat_function\|load:calls=(\d+)/;
::out($_) for @p;
::out("calls refused: " . ($refused // 0) . ", loads: " . ($loads // 0));
--- response_body
b3 a1 b2 d1 b1 + 2 follow
b3 a1 b2 d1 b1 + 2 follow
b3 a1 b2 d1 b1 + 2 follow
calls refused: 3, loads: 0
