# vim:set ft= ts=4 sw=4 et fdm=marker:

# What the error flush cannot land goes aside, never in the way: rows an
# older version let into Redis (lone surrogates, raw bytes that are not
# UTF-8, a row of another shape, not JSON at all) in the open batch and
# in the pending list, and bad spellings in the users' pending hashes;
# rows that pass the flush's checks but that PostgreSQL refuses (a CHECK
# constraint the test adds), which exercise the savepoint path; a batch
# that fails for its own reason twice (a CHECK on error_batches, a batch
# id not as written), which is held out of the way so that the points
# behind it land in the same run.  Then what the operator does
# (util/dead-letters): replay, purge, requeue a held batch; a replayed
# point lands once.
#
# A set-aside row, a failing batch and a held batch are logged at error
# level (an operator should look), so the blocks that cause them assert
# those lines and that no other error, crit or alert line is logged.
#
# Made with SQL by TEST 1: users 1 ann, 2 bob, 3 carl, each with
# conversation N and utterance N.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 11);

our $Flush = <<'_EOC_';
    social_flush_interval 300ms;
_EOC_

our $NoFlush = <<'_EOC_';
    social_flush_interval 0;
_EOC_

# an error or worse that is none of the expected lines of this file
our $Unexpected = qr/\[(?:error|crit|alert|emerg)\](?!.*(?:set aside as dead letter|of batch \S+ failed|is held in redis))/;

sub auth { return Social::social_auth(@_) }

sub redis { return Social::social_redis(@_) }

sub sql { return Social::social_sql(@_) }

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

# a row as the module writes it: [user, utterance, "Cat", "Sub", ms, id]
our $Ms = time * 1000;

sub pid { return join '', map { sprintf '%02x', int rand 256 } 1 .. 16 }

sub row {
    my ($u, $cat, $sub) = @_;
    return qq{[$u,$u,"$cat","$sub",$Ms,"} . pid() . qq{"]};
}

# Redis, atomically (a flush may run meanwhile): a script and its ARGV
sub redis_eval {
    my ($script, @args) = @_;
    return redis('EVAL', $script, 0, @args);
}

# Redis holds nothing more to flush
sub drained {
    return wait_until(sub {
        redis(qw(EXISTS social:err:rows)) eq '0'
        && redis(qw(EXISTS social:err:open)) eq '0'
    }, 30);
}

# the points of each user in PostgreSQL: "1:3 2:2"
sub landed {
    return join ' ', sql("SELECT user_id || ':' || count(*) FROM "
                         . "utterance_errors GROUP BY user_id ORDER BY 1");
}

# util/dead-letters on the test instance, its output
sub dead_letters {
    my $cmd = "INSTANCE=test TEST_PG_PORT=$ENV{TEST_NGINX_PG_PORT} "
              . "TEST_REDIS_PORT=$ENV{TEST_NGINX_REDIS_PORT} "
              . "$ENV{TEST_NGINX_UTIL}/dead-letters @_ 2>&1";
    my $out = `$cmd`;
    $out =~ s/^social: //mg;
    return $out;
}

# the bad rows an older version let in, by the block that checks them
our %Bad;

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $Flush)
        unless defined $block->http_config;
    $block->set_value("response_headers", "Content-Type: text/plain")
        unless defined $block->response_headers;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: an older version left bad rows in the open batch and in the pending list, and bad spellings in the hashes; the flush is off
--- http_config eval: $::NoFlush
--- init
Social::social_reset();
::sql("TRUNCATE error_batches, error_dead_letters");
::sql("INSERT INTO users (username, password_hash) SELECT 'u' || i, 'x' FROM generate_series(1, 3) i");
::sql("INSERT INTO conversations (user_id) SELECT generate_series(1, 3)");
::sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT i, i, 'utterance ' || i FROM generate_series(1, 3) i");
%::Bad = (
    low => qq{[1,1,"Grammar\\udc00","Pronouns",$::Ms,"} . ::pid() . '"]',
    raw => qq{[1,1,"Gr\xed\xa0\x80","Pronouns",$::Ms,"} . ::pid() . '"]',
    old => qq{[1,1,"Grammar","Pronouns",$::Ms]},
    text => 'not json',
    overlong => qq{[1,1,"Gr\xc0\x80","Pronouns",$::Ms,"} . ::pid() . '"]',
    above => qq{[2,2,"Spelling","Mis\xf4\x90\x80\x80",$::Ms,"} . ::pid() . '"]',
    high => qq{[2,2,"\\ud800","x",$::Ms,"} . ::pid() . '"]',
    type => qq{["2",2,"Spelling","Misspelling",$::Ms,"} . ::pid() . '"]',
    nulls => '[null,null,null,null,null,null]',
    wrapped => '{"row":' . qq{[1,1,"Grammar","Pronouns",$::Ms,"} . ::pid() . '"]}',
);
# the flush is off: no need to be atomic
my $b = 'social:err:b:aaaaaaaaaaaaaaaa:5';
::redis(qw(SET social:err:epoch aaaaaaaaaaaaaaaa));
::redis(qw(SET social:err:seq 5));
::redis(qw(SET social:err:open aaaaaaaaaaaaaaaa:5));
::redis('RPUSH', "$b:rows", ::row(2, 'Spelling', 'Misspelling'), $::Bad{above}, $::Bad{high}, ::row(2, 'Spelling', 'Misspelling'), $::Bad{type});
::redis('SADD', "$b:users", 2);
::redis('HSET', "$b:u:2",
        'n["spelling","misspelling"]', 2, 's["spelling","misspelling"]', '["Spelling","Misspelling"]', 'u["spelling","misspelling"]', '2',
        'n["x"]', 1, 's["x"]', '["X"]', 'u["x"]', '2',
        'n["p","q"]', 1, 's["p","q"]', '["P","Q"]', 'u["p","q"]', '1,,2');
::redis('RPUSH', 'social:err:rows', ::row(1, 'Grammar', 'Pronouns'), $::Bad{low}, $::Bad{raw}, ::row(1, 'Grammar', 'Pronouns'), $::Bad{old}, $::Bad{text}, ::row(1, 'Grammar', 'Pronouns'), $::Bad{overlong}, $::Bad{nulls}, $::Bad{wrapped});
::redis('HSET', 'social:err:u:1',
        'n["grammar","pronouns"]', 3, 's["grammar","pronouns"]', '["Grammar","Pronouns"]', 'u["grammar","pronouns"]', '1',
        'n["\udc00","x"]', 1, 's["\udc00","x"]', '["\udc00","x"]', 'u["\udc00","x"]', '1',
        'n["raw","x"]', 1, 's["raw","x"]', qq{["\xed\xa0\x80","x"]}, 'u["raw","x"]', '1',
        'n["a","b"]', 'x', 's["a","b"]', '["A","B"]', 'u["a","b"]', '1',
        'n["w","x"]', 1, 's["w","x"]', '{"s":["W","X"]}', 'u["w","x"]', '1');
::redis(qw(SADD social:err:dirty 1));
Social::social_result(join(' ', ::redis('LLEN', "$b:rows"), ::redis(qw(LLEN social:err:rows)), ::redis(qw(HLEN social:err:u:1))) . "\n");
--- response_body
5 10 15



=== TEST 2: before the flush, GET /exercises skips the bad spellings of the pending hash (a warning), no 500
--- http_config eval: $::NoFlush
--- request
GET /exercises?limit=1
--- more_headers eval: ::auth(1)
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"focus":\[\{"category":"Grammar","subcategory":"Pronouns","frequency":3\}\],"exercises":\[
--- error_log
4 pending error counts of user 1 are not as written, skipped



=== TEST 3: and those of the open batch's hash
--- http_config eval: $::NoFlush
--- request
GET /exercises?limit=1
--- more_headers eval: ::auth(2)
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":2,"focus":\[\{"category":"Spelling","subcategory":"Misspelling","frequency":2\}\],"exercises":\[
--- error_log
2 pending error counts of user 2 are not as written, skipped



=== TEST 4: the first run heals it: every good point lands, every bad row is set aside whole, byte for byte, with its reason and batch
--- init
my $drained = ::drained();
my %same = map { $_ => ::sql("SELECT count(*) FROM error_dead_letters WHERE raw = '\\x" . unpack('H*', $::Bad{$_}) . "'::bytea") } sort keys %::Bad;
Social::social_result("drained $drained\n" . ::landed() . "\n"
    . join("\n", ::sql("SELECT user_id || ' ' || category || '/' || subcategory || ' ' || frequency FROM error_frequencies ORDER BY 1"))
    . "\n" . join("\n", ::sql("SELECT batch_epoch || ':' || batch_seq || ' ' || reason || ' ' || count(*) FROM error_dead_letters GROUP BY batch_epoch, batch_seq, reason ORDER BY 1"))
    . "\n" . join(' ', map { "$_:$same{$_}" } sort keys %same)
    . "\nkeys: [" . join(',', sort split /\n/, ::redis('KEYS', 'social:err:[bu]*')) . "]\n");
--- response_body
drained 1
1:3 2:2
1 Grammar/Pronouns 3
2 Spelling/Misspelling 2
aaaaaaaaaaaaaaaa:5 not UTF-8 of Unicode scalar values 2
aaaaaaaaaaaaaaaa:5 not a row [user, utterance, "Category", "Subcategory", ms, "point id"] 1
aaaaaaaaaaaaaaaa:6 not UTF-8 of Unicode scalar values 3
aaaaaaaaaaaaaaaa:6 not a row [user, utterance, "Category", "Subcategory", ms, "point id"] 4
above:1 high:1 low:1 nulls:1 old:1 overlong:1 raw:1 text:1 type:1 wrapped:1
keys: []
--- error_log eval
qr/\[error\] .*social: error batch aaaaaaaaaaaaaaaa:5: a row set aside as dead letter \d+: not UTF-8 of Unicode scalar values/
--- no_error_log eval: $::Unexpected



=== TEST 5: after the flush, GET /exercises from PostgreSQL's totals
--- request
GET /exercises?limit=1
--- more_headers eval: ::auth(1)
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"focus":\[\{"category":"Grammar","subcategory":"Pronouns","frequency":3\}\],"exercises":\[



=== TEST 6: rows that pass the checks but that PostgreSQL refuses: the chunk goes again row by row, the refused rows aside with PostgreSQL's reason, the others land
--- init
::sql("ALTER TABLE utterance_errors ADD CONSTRAINT t035_poison CHECK (subcategory <> 'Poison')");
my $body = '{"utterance_id": 3, "errors": [{"category": "Grammar", "subcategory": "Tense"}, {"category": "Grammar", "subcategory": "Poison"}, {"category": "Spelling", "subcategory": "Misspelling"}]}';
my @st = map { (Social::social_http('POST', '/errors', $body, ::auth(3)))[0] } 1, 2;
my $drained = ::drained();
Social::social_result("@st drained $drained\n" . ::landed() . "\n"
    . join("\n", ::sql("SELECT category || '/' || subcategory || ' ' || frequency FROM error_frequencies WHERE user_id = 3 ORDER BY 1"))
    . "\n" . join("\n", ::sql("SELECT reason || ' ' || count(*) FROM error_dead_letters WHERE reason LIKE '23514%' GROUP BY reason")) . "\n");
--- response_body
202 202 drained 1
1:3 2:2 3:4
Grammar/Tense 2
Spelling/Misspelling 2
23514: new row for relation "utterance_errors" violates check constraint "t035_poison" 2
--- error_log eval
[qr/\[notice\] .*social: error batch \S+: a chunk of rows was refused \(23514: new row for relation "utterance_errors" violates check constraint "t035_poison"\), its rows go one at a time/,
 qr/\[error\] .*a row set aside as dead letter \d+: 23514: new row for relation "utterance_errors" violates check constraint "t035_poison"/]
--- no_error_log eval: $::Unexpected



=== TEST 7: the operator replays what PostgreSQL can now take: each point lands once; what still cannot be read stays; purge
--- init
::sql("ALTER TABLE utterance_errors DROP CONSTRAINT t035_poison");
my @poison = ::sql("SELECT dead_letter_id FROM error_dead_letters WHERE reason LIKE '23514%' ORDER BY 1");
my $copy = ::sql("INSERT INTO error_dead_letters (batch_epoch, batch_seq, raw, reason) SELECT batch_epoch, 0, raw, 'a copy' FROM error_dead_letters WHERE dead_letter_id = $poison[0] RETURNING dead_letter_id");
my $raw = ::sql("SELECT dead_letter_id FROM error_dead_letters WHERE raw = '\\x" . unpack('H*', $::Bad{raw}) . "'::bytea");
my $out = ::dead_letters('replay', @poison);
$out .= ::dead_letters('replay', $copy);
$out .= ::dead_letters('replay', $raw);
my $left = ::sql("SELECT count(*) FROM error_dead_letters");
my $purged = () = ::dead_letters('purge', 'all') =~ /purged/g;
$out =~ s/\b$poison[0]\b/A/; $out =~ s/\b$poison[1]\b/B/; $out =~ s/\b$copy\b/C/; $out =~ s/\b$raw\b/R/;
Social::social_result($out . "left $left, $purged purged, then " . ::sql("SELECT count(*) FROM error_dead_letters") . "\n" . ::landed() . "\n"
    . join("\n", ::sql("SELECT category || '/' || subcategory || ' ' || frequency FROM error_frequencies WHERE user_id = 3 ORDER BY 1")) . "\n"
    . ::sql("SELECT sum(frequency) = (SELECT count(*) FROM utterance_errors) FROM error_frequencies") . "\n");
--- response_body
dead letter A replayed: 1 point(s) landed
dead letter B replayed: 1 point(s) landed
dead letter C replayed: 0 point(s) landed
dead letter R stays: invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80
left 10, 10 purged, then 0
1:3 2:2 3:6
Grammar/Poison 2
Grammar/Tense 2
Spelling/Misspelling 2
t



=== TEST 8: a batch that fails for its own reason is named, taken row by row in the next run, then held out of the way: the points behind it land in that run
--- init
::sql("ALTER TABLE error_batches ADD CONSTRAINT t035_seven CHECK (errors <> 7)");
my $start = time;
::redis_eval(q{
    redis.call('SET', 'social:err:seq', 20)
    redis.call('SET', 'social:err:open', 'aaaaaaaaaaaaaaaa:20')
    local b = 'social:err:b:aaaaaaaaaaaaaaaa:20'
    redis.call('RPUSH', b .. ':rows', unpack(ARGV, 1, 7))
    redis.call('SADD', b .. ':users', 1)
    redis.call('HSET', b .. ':u:1', 'n["grammar","tense"]', 7,
               's["grammar","tense"]', '["Grammar","Tense"]',
               'u["grammar","tense"]', '1')
    redis.call('RPUSH', 'social:err:rows', unpack(ARGV, 8))
    redis.call('HSET', 'social:err:u:2', 'n["grammar","tense"]', 3,
               's["grammar","tense"]', '["Grammar","Tense"]',
               'u["grammar","tense"]', '2')
    redis.call('SADD', 'social:err:dirty', 2)
}, (map { ::row(1, 'Grammar', 'Tense') } 1 .. 7), map { ::row(2, 'Grammar', 'Tense') } 1 .. 3);
my $went = ::wait_until(sub { ::landed() =~ /\b2:5\b/ }, 10);
my $secs = time - $start;
my $drained = ::drained();
my ($n, $held) = split /\n/, ::redis(qw(HGETALL social:err:held));
Social::social_result("went on $went, in time " . ($secs < 4 ? 1 : $secs) . ", drained $drained\n" . ::landed() . "\n"
    . "held $n: $held\n" . ::redis('LLEN', "social:err:held:$n:rows") . " rows, "
    . ::redis('HGET', "social:err:held:$n:u:1", 'n["grammar","tense"]') . " counted\n"
    . ::sql("SELECT count(*) FROM error_batches WHERE epoch = 'aaaaaaaaaaaaaaaa' AND seq = 20") . "\n");
--- response_body
went on 1, in time 1, drained 1
1:3 2:5 3:6
held 1: aaaaaaaaaaaaaaaa:20 23514: new row for relation "error_batches" violates check constraint "t035_seven"
7 rows, 7 counted
0
--- error_log eval
[qr/\[error\] .*social: error flush: the frequencies of batch aaaaaaaaaaaaaaaa:20 failed: 23514: new row for relation "error_batches" violates check constraint "t035_seven"; the next run takes its rows one at a time/,
 qr/\[notice\] .*social: error batch aaaaaaaaaaaaaaaa:20 failed in an earlier run, its rows go one at a time/,
 qr/\[error\] .*social: error flush: the frequencies of batch aaaaaaaaaaaaaaaa:20 failed again: 23514: .*; the batch goes out of the way/,
 qr/\[error\] .*social: error batch aaaaaaaaaaaaaaaa:20 is held in redis as social:err:held:1:\*/]
--- no_error_log eval: $::Unexpected



=== TEST 9: the operator requeues the held batch once its cause is gone: its points land, once
--- init
::sql("ALTER TABLE error_batches DROP CONSTRAINT t035_seven");
my $out = ::dead_letters('requeue', 1);
my $drained = ::drained();
Social::social_result("requeued $out" . "drained $drained\n" . ::landed() . "\n"
    . join(',', ::redis(qw(HLEN social:err:held)), sort split /\n/, ::redis('KEYS', 'social:err:held:[0-9]*:*')) . "\n"
    . ::sql("SELECT sum(frequency) = (SELECT count(*) FROM utterance_errors) FROM error_frequencies") . "\n");
--- response_body
requeued 7
drained 1
1:10 2:5 3:6
0
t



=== TEST 10: a batch id not as written (a hand in Redis) fails twice and is held; the points behind it go on; requeued, they land under a new id
--- init
::redis_eval(q{
    local b = 'social:err:b:zz:99999999999999999999'
    redis.call('RPUSH', b .. ':rows', ARGV[1], ARGV[2])
    redis.call('SET', 'social:err:open', 'zz:99999999999999999999')
    redis.call('RPUSH', 'social:err:rows', ARGV[3])
    redis.call('SADD', 'social:err:dirty', 2)
}, ::row(3, 'Spelling', 'Commas'), ::row(3, 'Spelling', 'Commas'), ::row(2, 'Spelling', 'Commas'));
my $went = ::wait_until(sub { ::landed() =~ /\b2:6\b/ }, 10);
my $held = ::redis(qw(HGET social:err:held 2));
my $out = ::dead_letters('requeue', 2);
my $drained = ::drained();
Social::social_result("went on $went\nheld $held\nrequeued $out" . "drained $drained\n" . ::landed() . "\n"
    . ::sql("SELECT sum(frequency) = (SELECT count(*) FROM utterance_errors) FROM error_frequencies") . "\n");
--- response_body
went on 1
held zz:99999999999999999999 it is not <epoch>:<seq>
requeued 2
drained 1
1:10 2:6 3:8
t
--- error_log eval
[qr/\[error\] .*social: error flush: the batch id of batch zz:99999999999999999999 failed: it is not <epoch>:<seq>; the next run/,
 qr/\[error\] .*social: error batch zz:99999999999999999999 is held in redis as social:err:held:2:\*/]
--- no_error_log eval: $::Unexpected
