# vim:set ft= ts=4 sw=4 et fdm=marker:

# A flush whose PostgreSQL connection is lost inside a chunk's transaction:
# that chunk does not commit (the transaction never degrades into
# autocommit), the chunk before it did, no transaction of the flush is open
# while it reads the next chunk from Redis (an open transaction would hold
# the feed's horizon back, migration 008), GET /exercises counts every
# accepted point once meanwhile (the open batch from Redis, less what of it
# is in PostgreSQL already), and the next run lands the rest.
#
# The fault is placed, not timed: the test holds the flush job's Redis lock
# while the points are recorded (nothing runs), then a session holding a
# table lock stops the first chunk inside its transaction; Redis is paused
# (CLIENT PAUSE), the table lock goes, the first chunk commits and the
# flush waits on Redis for the second; a table lock again stops the second
# chunk inside its transaction, and the block kills its backend there.
# Every wait polls for a condition with a deadline.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
master_on();
workers(2);
worker_connections(1024);

plan tests => repeat_each() * (4 * blocks()) + 2;

# a run's lock lives 2 s, long enough for the block to take the lock over
# before another run could start beside the one it stops; a Redis pause
# shorter than the command timeout: the flush waits, no command times out
our $HttpConfig = <<'_EOC_';
    social_flush_interval 2s;
    social_redis_timeout 10s;
_EOC_

# what was accepted so far: user => key => count
our %Expect;

# 50 points a request (the most POST /errors takes), half of each kind:
# 50 requests are 2 500 rows, three chunks of the flush
our @Points = (['grammar', 'pronouns'], ['grammar', 'articles']);

sub body {
    my $u = shift;
    my @items = map {
        my $p = $Points[$_ % 2];
        qq~{"category": "$p->[0]", "subcategory": "$p->[1]"}~
    } 0 .. 49;
    return qq~{"utterance_id": $u, "errors": [~ . join(', ', @items) . ']}';
}

sub auth { return Social::social_auth(@_) }

sub redis { return Social::social_redis(@_) }

sub sql { return Social::social_sql(@_) }

sub wait_until {
    my ($cond, $secs) = @_;
    my $deadline = time + $secs;

    while (time < $deadline) {
        my $ok = eval { $cond->() };
        return $ok if $ok;
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

    $Expect{$u}{"$_->[0]/$_->[1]"} += 25 * $ok for @Points;

    return $summary;
}

# a session holding an EXCLUSIVE lock on $table until release_lock()
sub hold_lock {
    my $table = shift;

    open my $psql, '|-', 'sh', '-c', 'exec psql "$@" >/dev/null 2>&1', 'sh',
         '-X', '-q', '-h', '127.0.0.1', '-p', $ENV{TEST_NGINX_PG_PORT},
         '-U', 'social', '-d', 'social'
        or die "psql: $!\n";

    my $old = select $psql;
    $| = 1;
    select $old;

    print $psql "BEGIN; LOCK TABLE $table IN EXCLUSIVE MODE;\n";

    wait_until(sub {
        sql("SELECT count(*) FROM pg_locks l "
            . "JOIN pg_class c ON c.oid = l.relation "
            . "WHERE c.relname = '$table' "
            . "AND l.mode = 'ExclusiveLock' AND l.granted") > 0
    }, 10) or die "no lock on $table\n";

    return $psql;
}

sub release_lock {
    my $psql = shift;

    local $SIG{PIPE} = 'IGNORE';
    print $psql "COMMIT;\n";
    close $psql;
}

# how many runs of the flush failed so far
sub failed_runs {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    return scalar `grep -c 'waits in redis' $root/logs/error.log` + 0;
}

# the frequencies GET /exercises gives user $u, "pronouns articles"
sub exercises {
    my $u = shift;
    my ($st, $body) = Social::social_http('GET', '/exercises?limit=2', undef,
                                          auth($u));
    my %f = $body =~ /"subcategory":"(\w+)","frequency":(\d+)/g;
    return "$st " . join(' ', map { $f{$_} // 0 } qw(Pronouns Articles));
}

# "ok", or what differs between PostgreSQL's totals and what was accepted,
# and whether every frequency is the count of its rows
sub totals {
    my %got;

    for my $row (sql("SELECT user_id || '|' || category_key || '/' "
                     . "|| subcategory_key || '|' || frequency "
                     . "FROM error_frequencies"))
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

    my $bad = sql("SELECT count(*) FROM error_frequencies f "
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

=== TEST 1: 2 500 points recorded while the flush is held back, then flushed in three chunks: PostgreSQL's totals are what was accepted
--- init
Social::social_reset();
::sql("TRUNCATE error_batches");
::sql("INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(1, 2) i");
::sql("INSERT INTO conversations (user_id) SELECT generate_series(1, 2)");
::sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT i, i, 'utterance ' || i FROM generate_series(1, 2) i");
::redis(qw(SET social:lock:flush test PX 60000));
my $s = ::post_many(50, 1);
my $pending = ::redis(qw(LLEN social:err:rows));
::redis(qw(DEL social:lock:flush));
my $drained = ::wait_until(sub { ::redis(qw(EXISTS social:err:rows)) eq '0' && ::redis(qw(EXISTS social:err:open)) eq '0' }, 30);
Social::social_result("$s, $pending pending\ndrained $drained\n"
    . ::sql("SELECT string_agg(errors::text, ',') FROM error_batches") . "\n" . ::totals());
--- response_body
202:50, 2500 pending
drained 1
2500
ok



=== TEST 2: the flush's connection is killed inside a chunk's transaction: that chunk does not commit, the one before did, no transaction waits on Redis, GET /exercises counts each point once, the next run lands the rest
--- init
::redis(qw(SET social:lock:flush test PX 60000));
my $s = ::post_many(50, 2);
my $rows = ::sql("SELECT count(*) FROM utterance_errors");
my $lock = ::hold_lock('error_frequencies');
::redis(qw(DEL social:lock:flush));
# the first chunk waits on the table lock, inside its transaction
my $blocked = ::wait_until(sub { ::sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'social' AND wait_event_type = 'Lock' AND query ~ 'utterance_errors'") > 0 }, 10);
my $batch = ::redis(qw(GET social:err:open));
my $failed = ::failed_runs();
# no other run from now on; the second chunk's LRANGE waits in the pause
::redis(qw(SET social:lock:flush test PX 60000));
::redis(qw(CLIENT PAUSE 1500 ALL));
::release_lock($lock);
my $first = ::wait_until(sub { ::sql("SELECT count(*) FROM utterance_errors") - $rows == 1000 }, 10);
select undef, undef, undef, 0.3;
# the first chunk committed; the flush reads the second: nothing open
my $open_tx = ::sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'social' AND state LIKE 'idle in transaction%'");
# the second chunk will wait on the lock in its transaction: killed there
$lock = ::hold_lock('error_frequencies');
my $backend = ::wait_until(sub { ::sql("SELECT pid FROM pg_stat_activity WHERE datname = 'social' AND wait_event_type = 'Lock' AND query ~ 'utterance_errors'") }, 10);
my $killed = $backend ? ::sql("SELECT pg_terminate_backend($backend)") : 'none';
my $ran = ::wait_until(sub { ::failed_runs() > $failed }, 20);
::release_lock($lock);
my $written = ::sql("SELECT count(*) FROM utterance_errors") - $rows;
my $claimed = ::sql("SELECT count(*) FROM error_batches WHERE epoch || ':' || seq = '$batch' AND NOT applied");
my $open = ::redis(qw(GET social:err:open)) eq $batch ? 'still open' : 'gone';
my $ex = ::exercises(2);
::redis(qw(DEL social:lock:flush));
my $drained = ::wait_until(sub { ::redis(qw(EXISTS social:err:rows)) eq '0' && ::redis(qw(EXISTS social:err:open)) eq '0' }, 30);
Social::social_result("$s\nblocked $blocked, first chunk in $first, transactions open while it reads Redis $open_tx\n"
    . "killed $killed, the run failed $ran\n"
    . "rows committed $written, batch claimed and not applied $claimed, batch $open\nexercises $ex\ndrained $drained\n"
    . ::sql("SELECT errors || ' ' || applied FROM error_batches WHERE epoch || ':' || seq = '$batch'") . "\n"
    . ::exercises(2) . "\n" . ::totals());
--- response_body
202:50
blocked 1, first chunk in 1, transactions open while it reads Redis 0
killed t, the run failed 1
rows committed 1000, batch claimed and not applied 1, batch still open
exercises 200 1250 1250
drained 1
2500 true
200 1250 1250
ok
--- error_log
waits in redis
--- no_error_log
[crit]
[alert]



