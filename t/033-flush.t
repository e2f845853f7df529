# vim:set ft= ts=4 sw=4 et fdm=marker:

# The flush of error points from Redis to PostgreSQL (social_flush_interval,
# a job run by one worker across all nodes), against the real module with
# two workers and a flush every 300ms: nothing accepted is lost or counted
# twice when every worker is killed with SIGKILL in the middle of a flush's
# transaction, when workers are killed at random while errors are recorded,
# on a reload (HUP) during a flush, when PostgreSQL stops during a flush and
# starts again later, and when an applied batch is replayed; a deleted
# user's pending counts never land.
#
# The faults are placed, not timed: a session holding a table lock stops the
# flush inside its transaction (it waits on the lock), the block waits until
# PostgreSQL shows it waiting, then the fault happens, then the lock goes.  Every wait polls for
# a condition with a deadline.  After each block, PostgreSQL's totals must
# equal exactly what was accepted (202) so far, and every frequency must
# equal the count of its rows.
#
# Made with SQL by TEST 1: users 1 to 6, each with conversation N and
# utterance N.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
master_on();
workers(2);
worker_connections(1024);

plan tests => repeat_each() * (4 * blocks()) + 8;

our $HttpConfig = <<'_EOC_';
    social_flush_interval 300ms;
_EOC_

# what was accepted so far: user => key => count
our %Expect;

# the points of one POST /errors: two of pronouns (in two spellings and
# cases), one of spelling
our @Points = (['grammar', 'pronouns'], ['grammar', 'pronouns'],
               ['spelling', 'misspelling']);

sub body {
    my $u = shift;
    return qq~{"utterance_id": $u, "errors": [~
           . qq~{"category": "Grammar", "subcategory": "Pronouns"}, ~
           . qq~{"errorCategory": "GRAMMAR", "errorSubCategory": " pronouns"}, ~
           . qq~{"category": "Spelling", "subcategory": "Misspelling"}]}~;
}

sub auth { return Social::social_auth(@_) }

# a Redis command on the test instance, its reply as redis-cli prints it
sub redis { return Social::social_redis(@_) }

sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = time + $secs;

    while (time < $deadline) {
        my $ok = eval { $cond->() };
        return 1 if $ok;
        select undef, undef, undef, 0.05;
    }

    return 0;
}

# $n requests of user $u at once; the 202s are what was accepted
sub post_many {
    my ($n, $u) = @_;

    my $summary = Social::social_concurrent_post($n, '/errors', body($u),
                                                 auth($u));
    my ($ok) = $summary =~ /\b202:(\d+)/;
    $ok //= 0;

    for my $p (@Points) {
        $Expect{$u}{"$p->[0]/$p->[1]"} += $ok;
    }

    return $summary;
}

# the master's workers, by their parent
sub workers_pids {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    open my $in, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!\n";
    my $master = <$in>;
    close $in;
    chomp $master;

    # /proc, not pgrep: a fresh machine has no procps
    my @pids;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $f, '<', $stat or next;
        my $line = <$f>;
        close $f;
        next unless defined $line;
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        push @pids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+) / && $2 == $master;
    }

    return @pids;
}

# a session holding an EXCLUSIVE lock on $table (reads go on, writes
# wait) until release_lock(); returns once the lock is held
sub hold_lock {
    my $table = shift;

    # (its messages are dropped: TEST 6 stops PostgreSQL under it)
    open my $psql, '|-', 'sh', '-c', 'exec psql "$@" >/dev/null 2>&1', 'sh',
         '-X', '-q', '-h', '127.0.0.1', '-p', $ENV{TEST_NGINX_PG_PORT},
         '-U', 'social', '-d', 'social'
        or die "psql: $!\n";

    my $old = select $psql;
    $| = 1;
    select $old;

    print $psql "BEGIN; LOCK TABLE $table IN EXCLUSIVE MODE;\n";

    wait_until(sub {
        Social::social_sql("SELECT count(*) FROM pg_locks l "
                           . "JOIN pg_class c ON c.oid = l.relation "
                           . "WHERE c.relname = '$table' "
                           . "AND l.mode = 'ExclusiveLock' AND l.granted")
        > 0
    }, 10) or die "no lock on $table\n";

    return $psql;
}

sub release_lock {
    my $psql = shift;

    local $SIG{PIPE} = 'IGNORE';
    print $psql "COMMIT;\n";
    close $psql;
}


# a flush waits on a lock inside its transaction
sub flush_blocked {
    return wait_until(sub {
        Social::social_sql("SELECT count(*) FROM pg_stat_activity "
                           . "WHERE datname = 'social' "
                           . "AND wait_event_type = 'Lock' "
                           . "AND query ~ 'error_(frequencies|batches)'")
        > 0
    }, 10);
}

# Redis holds nothing more to flush
sub drained {
    return wait_until(sub {
        redis(qw(EXISTS social:err:rows)) eq '0'
        && redis(qw(EXISTS social:err:open)) eq '0'
    }, 30);
}

# "ok", or what differs between PostgreSQL's totals and what was accepted,
# and whether every frequency is the count of its rows
sub totals {
    my %got;

    for my $row (Social::social_sql("SELECT user_id || '|' || category_key "
                                    . "|| '/' || subcategory_key || '|' "
                                    . "|| frequency FROM error_frequencies"))
    {
        my ($u, $k, $n) = split /\|/, $row;
        $got{$u}{$k} = $n;
    }

    my @diff;
    my %users = map { $_ => 1 } keys %got, keys %Expect;

    for my $u (sort keys %users) {
        my %keys = map { $_ => 1 } keys %{ $got{$u} || {} },
                                   keys %{ $Expect{$u} || {} };
        for my $k (sort keys %keys) {
            my $g = $got{$u}{$k} // 0;
            my $e = $Expect{$u}{$k} // 0;
            push @diff, "user $u $k: $g in PostgreSQL, $e accepted"
                if $g != $e;
        }
    }

    my $bad = Social::social_sql("SELECT count(*) FROM error_frequencies f "
        . "WHERE frequency <> (SELECT count(*) FROM utterance_errors e "
        . "WHERE e.user_id = f.user_id AND e.category_key = f.category_key "
        . "AND e.subcategory_key = f.subcategory_key)");
    push @diff, "$bad frequencies differ from their rows" if $bad;

    return @diff ? join("\n", @diff) . "\n" : "ok\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;
    $block->set_value("response_headers", "Content-Type: text/plain")
        unless defined $block->response_headers;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: many requests at once, flushed every 300ms: PostgreSQL's totals are what was accepted
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql("INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(1, 6) i");
Social::social_sql("INSERT INTO conversations (user_id) SELECT generate_series(1, 6)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT i, i, 'utterance ' || i FROM generate_series(1, 6) i");
my @s = map { ::post_many(50, $_) } 1, 2, 3;
my $drained = ::drained();
Social::social_result("@s\ndrained $drained\n" . ::totals());
--- response_body
202:50 202:50 202:50
drained 1
ok



=== TEST 2: GET /exercises agrees with PostgreSQL once drained
--- init
my ($st, $body) = Social::social_http('GET', '/exercises?limit=2', undef, ::auth(1));
Social::social_result("$st " . ($body =~ /"focus":(\[[^\]]*\])/ ? $1 : $body) . "\n");
--- response_body
200 [{"category":"Grammar","subcategory":"Pronouns","frequency":100},{"category":"Spelling","subcategory":"Misspelling","frequency":50}]



=== TEST 3: SIGKILL to every worker while a flush is inside its transaction: the next run completes the batch, once
--- init
my $lock = ::hold_lock('error_frequencies');
my @s = map { ::post_many(40, $_) } 1, 2;
my $blocked = ::flush_blocked();
my @w = ::workers_pids();
my $killed = kill 'KILL', @w;
my $open = ::redis(qw(EXISTS social:err:open));
::release_lock($lock);
my $drained = ::drained();
Social::social_result("@s\nblocked $blocked, killed $killed of " . scalar(@w) . ", left open $open\ndrained $drained\n" . ::totals());
--- response_body
202:40 202:40
blocked 1, killed 2 of 2, left open 1
drained 1
ok
--- error_log eval
["left by an earlier run", qr/\[alert\] .*exited on signal 9/]



=== TEST 4: workers killed at random while errors are recorded and flushed
--- init
srand 4;
my @s;
for my $i (1 .. 8) {
    push @s, ::post_many(30, 3 + $i % 2);
    select undef, undef, undef, rand 0.4;
    my @w = ::workers_pids();
    kill 'KILL', $w[int rand @w] if @w;
    ::wait_until(sub { ::workers_pids() == 2 }, 10);
}
my $drained = ::drained();
Social::social_result("@s\ndrained $drained\n" . ::totals());
--- response_body
202:30 202:30 202:30 202:30 202:30 202:30 202:30 202:30
drained 1
ok
--- error_log eval
qr/\[alert\] .*exited on signal 9/



=== TEST 5: a reload (HUP) while a flush waits inside its transaction
--- init
my $lock = ::hold_lock('error_frequencies');
my @s = map { ::post_many(40, $_) } 4, 5;
my $blocked = ::flush_blocked();
Social::social_signal('HUP');
my @more = map { ::post_many(20, $_) } 1, 4;
::release_lock($lock);
my $drained = ::drained();
Social::social_result("@s @more\nblocked $blocked\ndrained $drained\n" . ::totals());
--- response_body
202:40 202:40 202:20 202:20
blocked 1
drained 1
ok
--- error_log
reconfiguring



=== TEST 6: PostgreSQL stops while a flush is inside its transaction: the batch waits in Redis
--- init
my $lock = ::hold_lock('error_frequencies');
my @s = map { ::post_many(40, $_) } 2, 5;
my $blocked = ::flush_blocked();
Social::social_service('stop-pg');
::release_lock($lock);
my $failed = ::wait_until(sub { `grep -c 'waits in redis' $ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log` >= 3 }, 20);
my $open = ::redis(qw(EXISTS social:err:open));
my $rows = ::redis('LLEN', 'social:err:b:' . ::redis(qw(GET social:err:open)) . ':rows') + ::redis(qw(LLEN social:err:rows));
Social::social_result("@s\nblocked $blocked, runs failed $failed, open $open, waiting $rows\n");
# back before the next block's nginx starts, whose runs would otherwise
# find it down or starting (an [error] each)
Social::social_service('start-pg');
--- response_body
202:40 202:40
blocked 1, runs failed 1, open 1, waiting 240
--- error_log
postgres unavailable, batch
waits in redis
--- no_error_log
[crit]



=== TEST 7: PostgreSQL back: the batch lands, once
--- init
my $drained = ::drained();
Social::social_result("drained $drained\n" . ::totals());
--- response_body
drained 1
ok



=== TEST 8: replaying an applied batch writes nothing
--- init
my $lock = ::hold_lock('error_frequencies');
my @s = ::post_many(30, 6);
my $blocked = ::flush_blocked();
my $batch = ::redis(qw(GET social:err:open));
my @keys = split /\n/, ::redis('KEYS', "social:err:b:$batch:*");
::redis('COPY', $_, "social:saved:$_") for @keys;
::release_lock($lock);
my $drained = ::drained();
my $first = ::totals();
::redis('COPY', "social:saved:$_", $_) for @keys;
::redis('SET', 'social:err:open', $batch);
my $again = ::drained();
::redis('DEL', map { "social:saved:$_" } @keys);
Social::social_result("@s\nblocked $blocked, saved " . scalar(@keys) . " keys\ndrained $drained $again\n$first" . ::totals());
--- response_body
202:30
blocked 1, saved 3 keys
drained 1 1
ok
ok
--- error_log eval
qr/error batch [0-9a-f]+:\d+ was seen before, its points land once/



=== TEST 9: Redis loses its last second after a batch was applied (the cut undone, the same batch id given again, with old and new points): every point lands once
--- init
my $lock = ::hold_lock('error_frequencies');
my @s = ::post_many(20, 6);
my $blocked = ::flush_blocked();
my $batch = ::redis(qw(GET social:err:open));
my $seq = ::redis(qw(GET social:err:seq));
my $b = "social:err:b:$batch";
::redis('COPY', "$b:rows", 'social:saved:rows');
::redis('COPY', "$b:u:6", 'social:saved:u');
::release_lock($lock);
my $drained = ::drained();
::redis('SET', 'social:err:seq', $seq - 1);
::redis('RENAME', 'social:saved:rows', 'social:err:rows');
::redis('RENAME', 'social:saved:u', 'social:err:u:6');
::redis('SADD', 'social:err:dirty', '6');
push @s, ::post_many(10, 6);
my $again = ::drained();
# the blocks after this one count on ids not given twice
::redis('SET', 'social:err:seq', Social::social_sql("SELECT max(seq) FROM error_batches"));
Social::social_result("@s\nblocked $blocked, drained $drained $again\n" . ::totals());
--- response_body
202:20 202:10
blocked 1, drained 1 1
ok
--- error_log eval
qr/error batch [0-9a-f]+:\d+ was seen before, its points land once/



=== TEST 10: a user deleted while a batch of theirs is open and more of their errors wait: none of it lands
--- init
my $lock = ::hold_lock('error_batches');
my @s = ::post_many(20, 6);
my $blocked = ::flush_blocked();
push @s, ::post_many(20, 6), ::post_many(10, 5);
my ($st) = Social::social_http('DELETE', '/user/6', undef, ::auth(6));
my $gone = ::redis(qw(EXISTS social:err:u:6));
delete $::Expect{6};
::release_lock($lock);
my $drained = ::drained();
my $drained2 = ::wait_until(sub { ::redis(qw(EXISTS social:err:rows)) eq '0' && ::redis(qw(EXISTS social:err:open)) eq '0' && Social::social_sql("SELECT count(*) FROM error_batches WHERE applied_at > now() - interval '20 seconds'") >= 2 }, 30);
Social::social_result("@s\nblocked $blocked, delete $st, pending hash left $gone\ndrained $drained $drained2\n"
    . join(',', Social::social_sql("SELECT errors FROM error_batches ORDER BY applied_at DESC, seq DESC LIMIT 2")) . "\n"
    . Social::social_sql("SELECT count(*) FROM utterance_errors WHERE user_id = 6") . "\n" . ::totals());
--- response_body
202:20 202:20 202:10
blocked 1, delete 204, pending hash left 0
drained 1 1
30,0
0
ok



=== TEST 11: nothing is left in Redis; PostgreSQL's totals are what was accepted
--- init
Social::social_result(join(',', map { $_ // '' } ::redis('KEYS', 'social:err:b:*'), ::redis(qw(EXISTS social:err:rows)), ::redis(qw(EXISTS social:err:open)), ::redis(qw(SCARD social:err:dirty)))
    . "\n" . Social::social_sql("SELECT sum(frequency) = (SELECT count(*) FROM utterance_errors) FROM error_frequencies") . "\n" . ::totals());
--- response_body
,0,0,0
t
ok
