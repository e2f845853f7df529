# vim:set ft= ts=4 sw=4 et fdm=marker:

# POST /errors without PostgreSQL: the utterance's owner entry
# (social:err:own:<utterance>, "<user>:<conversation>"), set by POST
# /utterances once committed, is read and checked with the reader's
# generation, then the points written in one transaction, all in Redis's
# own commands (the reader's own utterance: the common case), or checked by
# the record script itself (any other), so that the common case asks no
# PostgreSQL.  Shown with the reads of utterances taken from the module's
# role (REVOKE): any PostgreSQL read of them would fail, and the request is
# still 202.  Without an entry (made before, expired, deleted) PostgreSQL
# is asked as before and the entry is kept again.  Never: points for
# another's utterance, for a deleted user's (even by an admin, even with an
# entry left from before the delete, or with the delete's publish lost, or
# with the entry set back by a request that read PostgreSQL before the
# delete, or a reader's generation in Redis that of a deleted user while
# the worker still remembers their token's), or a 202 with Redis down.
# TESTs 36 to 43: the common case itself (no script, a key of the wrong
# type, latest utterances not as written).  TESTs 57 and 58: a user
# deleted between the common case's reads and its write (held by Redis):
# the point lands as a moment before, and the flush drops it.
#
# Made by TEST 1 with SQL: users 1 ann, 2 bob, 3 root (an admin), 4 carl,
# 5 dan, 6 eve; conversations 1 to 6, each its user's.  Utterances: 1
# ann's (POST /utterances), 2 bob's (SQL, no entry), 3 carl's (POST
# /utterances), 4 dan's (SQL), 5 eve's (POST /utterances).

use lib 't';
use Test::Nginx::Socket;
use Social;

use Time::HiRes ();

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 19);

our $HttpConfig = <<'_EOC_';
    social_flush_interval 0;
_EOC_

sub auth { return Social::social_auth(@_) }

sub auth_json { return Social::social_auth_json(@_) }

sub admin_json { return auth_json(3, role => 'admin') }

# a Redis command on the test instance, its reply as redis-cli prints it
sub redis { return Social::social_redis(@_) }

sub sql { return Social::social_sql(@_) }

sub body {
    my ($u, $more) = @_;
    return qq~{"utterance_id": $u, ~ . ($more // '')
           . qq~"errors": [{"category": "Grammar", "subcategory": "Tense"}]}~;
}

# The owner entries are trusted again: this block's worker has read the
# revocation log (its poll starts with its first token check, here a GET
# /user/1, and reads at once) and Redis holds every record PostgreSQL has
# (the poll publishes what Redis missed, a TRUNCATE's record after a
# reset, within about 2 s of its first read)
sub settled {
    my $t0 = Time::HiRes::time();

    Social::social_http('GET', '/user/1', undef, auth(3, role => 'admin'));

    while (Time::HiRes::time() < $t0 + 8) {
        my $pg = sql("SELECT rev FROM revocation_counter");
        return if (redis(qw(GET social:rev)) || 0) >= $pg
                  && Time::HiRes::time() > $t0 + 1;
        Time::HiRes::sleep(0.1);
    }

    die "Redis never caught up with the revocation log: Redis "
        . redis(qw(GET social:rev)) . ", PostgreSQL "
        . sql("SELECT rev FROM revocation_counter") . "\n";
}

# what a test that stopped half-way may have left on the utterances
sub restore {
    sql("GRANT ALL ON utterances TO social");
    sql("DROP POLICY IF EXISTS test_slow ON utterances");
    sql("ALTER TABLE utterances NO FORCE ROW LEVEL SECURITY");
    sql("ALTER TABLE utterances DISABLE ROW LEVEL SECURITY");
}

# POST /errors from a child process, under way while the --- init goes
# on; its status is read from the pipe
sub background_post {
    my ($body, @headers) = @_;

    return background_http('POST', '/errors', $body, @headers);
}

# any request so (DELETE /user/{id})
sub background_http {
    my ($method, $uri, $body, @headers) = @_;

    pipe my $in, my $out or die "pipe: $!\n";

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid) {
        close $out;
        return { pid => $pid, in => $in };
    }

    close $in;
    my ($st) = eval { Social::social_http($method, $uri, $body, @headers) };
    print $out ($st // 'failed'), "\n";
    close $out;
    require POSIX;
    POSIX::_exit(0);
}

# whether the request is still under way (no status in its pipe yet)
sub background_waiting {
    my $bg = shift;

    require IO::Select;
    return IO::Select->new($bg->{in})->can_read(0) ? 0 : 1;
}

sub background_status {
    my $bg = shift;
    my $in = $bg->{in};

    local $/;
    my $st = <$in> // '';
    close $in;
    waitpid $bg->{pid}, 0;
    $st =~ s/\s+\z//;

    return $st;
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: ann's utterance through POST /utterances
--- init
::restore();
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('root', 'x', 'admin'), ('carl', 'x', 'user'), ('dan', 'x', 'user'), ('eve', 'x', 'user')");
Social::social_sql("INSERT INTO conversations (user_id) VALUES (1), (2), (3), (4), (5), (6)");
--- request
POST /utterances
{"conversation_id": 1, "content": "I goes home."}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like chomp
^\{"utterance_id":1,"conversation_id":1,"user_id":1,



=== TEST 2: its owner entry is in Redis, for half an hour at most
--- init
my $ttl = ::redis(qw(TTL social:err:own:1));
Social::social_result(($ttl > 1700 && $ttl <= 1800 ? "ttl ok" : "ttl $ttl"), "\n");
--- redis
GET social:err:own:1
--- response_body
ttl ok
1:1



=== TEST 3: with the entry, POST /errors reads no PostgreSQL: 202 with the utterances out of the module's reach
--- init
::settled();
::sql("REVOKE ALL ON utterances FROM social");
--- request eval
"POST /errors\n" . ::body(1)
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 4: (the same without an entry does read PostgreSQL, and fails there)
--- init
::redis(qw(DEL social:err:own:1));
--- request eval
"POST /errors\n" . ::body(1)
--- more_headers eval: ::auth_json(1)
--- error_code: 500
--- response_body_like chomp
^\{"error":\{"code":"internal",
--- error_log
asking PostgreSQL
permission denied for table utterances
--- no_error_log
[crit]



=== TEST 5: the point went in as before: one row of ann's, her count
--- init
::restore();
Social::social_result(::redis(qw(LINDEX social:err:rows 0)) =~ /^\[1,1,"Grammar","Tense",\d{13},"[0-9a-f]{32}"\]$/ ? "row ok\n" : ::redis(qw(LINDEX social:err:rows 0)) . "\n");
--- redis
LLEN social:err:rows
HGET social:err:u:1 'n["grammar","tense"]'
HGET social:err:u:1 'u["grammar","tense"]'
SMEMBERS social:err:dirty
--- response_body
row ok
1
1
1
1



=== TEST 6: no entry (deleted in TEST 4): PostgreSQL is asked, 202
--- request eval
"POST /errors\n" . ::body(1)
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}
--- error_log
asking PostgreSQL



=== TEST 7: and the entry is back, so the next request is one trip again
--- redis
GET social:err:own:1
--- response_body
1:1



=== TEST 8: the next request: no PostgreSQL
--- init
::settled();
::sql("REVOKE ALL ON utterances FROM social");
--- request eval
"POST /simulate-and-generate\n" . ::body(1)
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 9: an utterance made before this change (no entry): PostgreSQL is asked, 202, the entry kept
--- init
::restore();
::sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (2, 2, 'He go.')");
--- request eval
"POST /errors\n" . ::body(2)
--- more_headers eval: ::auth_json(2)
--- error_code: 202
--- response_body chomp
{"utterance_id":2,"recorded":1}
--- error_log
asking PostgreSQL



=== TEST 10: bob's entry
--- redis
GET social:err:own:2
--- response_body
2:2



=== TEST 11: ann may not record on bob's utterance: 403 from the entry, without PostgreSQL
--- init
::settled();
::sql("REVOKE ALL ON utterances FROM social");
--- request eval
"POST /errors\n" . ::body(2)
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 12: nor without the entry: 403 from PostgreSQL
--- init
::restore();
::redis(qw(DEL social:err:own:2));
--- request eval
"POST /errors\n" . ::body(2)
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}
--- error_log
asking PostgreSQL



=== TEST 13: an entry not as written (a hand, an older version) is not trusted: PostgreSQL decides, 403
--- init
::settled();
::redis(qw(SET social:err:own:2), "1:1 ");
--- request eval
"POST /errors\n" . ::body(2)
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}
--- error_log
asking PostgreSQL



=== TEST 14: ann's refused requests recorded nothing
--- redis
LLEN social:err:rows
EXISTS social:err:u:2
HGET social:err:u:1 'n["grammar","tense"]'
--- response_body
4
1
3



=== TEST 15: an admin records on ann's utterance from the entry, for ann
--- init
::settled();
::sql("REVOKE ALL ON utterances FROM social");
--- request eval
"POST /errors\n" . ::body(1, '"user_id": 1, "conversation_id": 1, ')
--- more_headers eval: ::admin_json()
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 16: the admin's point is ann's
--- init
::restore();
--- redis
HGET social:err:u:1 'n["grammar","tense"]'
EXISTS social:err:u:3
--- response_body
4
0



=== TEST 17: body ids not the entry's: PostgreSQL answers as before (an admin naming bob: 422)
--- init
::settled();
--- request eval
"POST /errors\n" . ::body(1, '"user_id": 2, ')
--- more_headers eval: ::admin_json()
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"user_id does not match the utterance's user.","field":"user_id"}}
--- error_log
asking PostgreSQL



=== TEST 18: a conversation_id that is not the entry's is 422
--- request eval
"POST /errors\n" . ::body(1, '"conversation_id": 2, ')
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"conversation_id does not match the utterance's conversation.","field":"conversation_id"}}



=== TEST 19: a conversation_id that names nothing is 404
--- request eval
"POST /errors\n" . ::body(1, '"conversation_id": 999, ')
--- more_headers eval: ::auth_json(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"conversation_id names nothing.","field":"conversation_id"}}



=== TEST 20: an unknown utterance is 404 naming it
--- request eval
"POST /errors\n" . ::body(999)
--- more_headers eval: ::auth_json(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}



=== TEST 21: carl's utterance through POST /utterances
--- request
POST /utterances
{"conversation_id": 4, "content": "Me and him went."}
--- more_headers eval: ::auth_json(4)
--- error_code: 201
--- response_body_like chomp
^\{"utterance_id":3,"conversation_id":4,"user_id":4,



=== TEST 22: carl records on it: 202
--- request eval
"POST /errors\n" . ::body(3)
--- more_headers eval: ::auth_json(4)
--- error_code: 202
--- response_body chomp
{"utterance_id":3,"recorded":1}



=== TEST 23: carl deletes himself: 204
--- request
DELETE /user/4
--- more_headers eval: ::auth(4)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 24: his entry is still in Redis, and so is his generation of a deleted user
--- redis
GET social:err:own:3
GET social:gen:4
EXISTS social:err:u:4
--- response_body
4:4
9223372036854775807
0



=== TEST 25: an admin on carl's utterance, with the entry left from before the delete: 404, nothing recorded
--- init
::settled();
--- request eval
"POST /errors\n" . ::body(3)
--- more_headers eval: ::admin_json()
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}



=== TEST 26: without the entry: 404 from PostgreSQL, and no entry is made
--- init
::redis(qw(DEL social:err:own:3));
--- request eval
"POST /errors\n" . ::body(3)
--- more_headers eval: ::admin_json()
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}
--- error_log
asking PostgreSQL



=== TEST 27: the entry set back by hand as before the delete, and the delete's publish lost (Redis behind the log, no generation): still 404
--- init
::settled();
my $rev = ::sql("SELECT rev FROM revocation_counter");
::redis(qw(SET social:err:own:3 4:4));
::redis(qw(DEL social:gen:4));
::redis('SET', 'social:rev', $rev - 1);
--- request eval
"POST /errors\n" . ::body(3)
--- more_headers eval: ::admin_json()
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}



=== TEST 28: nothing of carl's was recorded after his delete
--- init
::settled();
--- redis
LLEN social:err:rows
EXISTS social:err:u:4
SISMEMBER social:err:dirty 4
--- response_body
6
0
1



=== TEST 29: the race: dan's utterance (no entry) read in PostgreSQL, dan deleted meanwhile, then the script: 404, and no entry that a later request could use
--- init
::sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (5, 5, 'Him is here.')");
::settled();
# dan's utterance (4) is read slowly: the read takes its snapshot, then
# waits 1.5 s, during which dan is deleted
::sql("CREATE OR REPLACE FUNCTION test_slow() RETURNS boolean LANGUAGE sql AS 'SELECT true FROM pg_sleep(1.5)'");
::sql("CREATE POLICY test_slow ON utterances FOR SELECT USING (utterance_id <> 4 OR test_slow())");
::sql("ALTER TABLE utterances ENABLE ROW LEVEL SECURITY");
::sql("ALTER TABLE utterances FORCE ROW LEVEL SECURITY");
my $bg = ::background_post(::body(4), ::admin_json() =~ s/\r\nContent-Type.*//r);
Time::HiRes::sleep(0.5);
my ($del) = Social::social_http('DELETE', '/user/5', undef, ::auth(3, role => 'admin'));
my $st = ::background_status($bg);
::restore();
Social::social_result("delete $del, errors $st\n");
--- redis
EXISTS social:err:own:4
EXISTS social:err:u:5
LLEN social:err:rows
--- response_body
delete 204, errors 404
0
0
6



=== TEST 30: and a later request on dan's utterance, by an admin: 404
--- init
::settled();
--- request eval
"POST /errors\n" . ::body(4)
--- more_headers eval: ::admin_json()
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}



=== TEST 31: eve's utterance, its entry in Redis
--- init
::settled();
--- request
POST /utterances
{"conversation_id": 6, "content": "They was late."}
--- more_headers eval: ::auth_json(6)
--- error_code: 201
--- response_body_like chomp
^\{"utterance_id":5,"conversation_id":6,"user_id":6,



=== TEST 32: Redis down, the entry there before: 503 with Retry-After, not 202 (its test more: the error log)
--- init
Social::social_service('stop-redis');
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like chomp
^\{"error":\{"code":"service_unavailable","message":"[^"]+ is down; try again shortly\."\}\}$
--- error_log
social: redis connect to
--- no_error_log
[crit]



=== TEST 33: Redis back: eve's point was not recorded, her entry is there; recording works again
--- init
Social::social_service("start-redis");
::settled();
--- redis
EXISTS social:err:u:6
GET social:err:own:5
--- response_body
0
6:6



=== TEST 34: and eve records, one trip
--- init
::settled();
::sql("REVOKE ALL ON utterances FROM social");
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 35: the utterances back in the module's reach
--- init
::restore();
--- sql
SELECT count(*) FROM utterances
--- response_body
3



=== TEST 36: the common case runs no script: Redis's own commands, two reads, then the writes in one transaction
--- init
::settled();
::redis(qw(CONFIG RESETSTAT));
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}
--- no_error_log
[error]
asking PostgreSQL



=== TEST 37: Redis ran them: no script, one MULTI and EXEC, one HINCRBY, no HSETNX (the spelling is there); eve's count is 2, her latest utterances 5
--- init
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
Social::social_result(map { "$_ " . ($calls{$_} // 0) . "\n" }
                      qw(evalsha eval multi exec hincrby hsetnx));
--- redis
HGET social:err:u:6 'n["grammar","tense"]'
HGET social:err:u:6 'u["grammar","tense"]'
--- response_body
evalsha 0
eval 0
multi 1
exec 1
hincrby 1
hsetnx 0
2
5



=== TEST 38: eve's counts' key holding a string (a hand): 503, the error log says why, nothing recorded
--- init
::settled();
$::rows = ::redis(qw(LLEN social:err:rows));
::redis(qw(SET social:err:u:6 x));
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 503
--- response_body_like chomp
^\{"error":\{"code":"service_unavailable",
--- error_log
reading a user's counts failed: WRONGTYPE
--- no_error_log
[crit]



=== TEST 39: no row was added; the key as the hand left it
--- init
Social::social_result(::redis(qw(LLEN social:err:rows)) == $::rows
                      ? "rows as before\n" : "rows moved\n");
--- redis
GET social:err:u:6
DEL social:err:u:6
--- response_body
rows as before
x
1



=== TEST 40: latest utterances not as written (a hand) are taken apart id by id, this one first, once
--- init
::settled();
::redis(qw(HSET social:err:u:6), 'u["grammar","tense"]', "7,,8,x9,5,");
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}



=== TEST 41: what the write left: the list, the count, the spelling
--- redis
HGET social:err:u:6 'u["grammar","tense"]'
HGET social:err:u:6 'n["grammar","tense"]'
HGET social:err:u:6 's["grammar","tense"]'
--- response_body
5,7,8,9
1
["Grammar","Tense"]



=== TEST 42: eve's generation in Redis that of a deleted user (a hand) while the worker still remembers her token's (a request just before): 404, nothing recorded
--- init
::settled();
$::gen = ::redis(qw(GET social:gen:6));
Social::social_http('POST', '/errors', ::body(5), ::auth_json(6));
$::rows = ::redis(qw(LLEN social:err:rows));
::redis(qw(SET social:gen:6 9223372036854775807));
::redis(qw(CONFIG RESETSTAT));
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 404
--- response_body_like chomp
^\{"error":\{"code":"not_found",



=== TEST 43: nothing was recorded, and the 404 was the common case's (no script, no write); her generation as it was
--- init
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
Social::social_result(::redis(qw(LLEN social:err:rows)) == $::rows
                      ? "rows as before\n" : "rows moved\n",
                      map { "$_ " . ($calls{$_} // 0) . "\n" }
                      qw(evalsha hmget multi));
if (defined $::gen && length $::gen) {
    ::redis(qw(SET social:gen:6), $::gen);
} else {
    ::redis(qw(DEL social:gen:6));
}
--- redis
HGET social:err:u:6 'n["grammar","tense"]'
--- response_body
rows as before
evalsha 0
hmget 1
multi 0
2



=== TEST 44: three points on eve's own utterance: a count there in another case keeps its spelling; a new one twice in one body counts 2, spelt as its first
--- init
::settled();
--- request
POST /errors
{"utterance_id": 5, "errors": [{"category": "GRAMMAR", "subcategory": "tense"}, {"category": "Style", "subcategory": "Tone"}, {"category": "style", "subcategory": "TONE"}]}
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":3}



=== TEST 45: the counts, spellings and latest utterances the transaction left
--- redis
HGET social:err:u:6 'n["grammar","tense"]'
HGET social:err:u:6 's["grammar","tense"]'
HGET social:err:u:6 'u["grammar","tense"]'
HGET social:err:u:6 'n["style","tone"]'
HGET social:err:u:6 's["style","tone"]'
HGET social:err:u:6 'u["style","tone"]'
--- response_body
3
["Grammar","Tense"]
5,7,8,9
2
["Style","Tone"]
5



=== TEST 46: eve's counts' key of another type does not matter on another's utterance: the script decides, 403
--- init
::settled();
::redis(qw(RENAME social:err:u:6 social:err:u:6:kept));
::redis(qw(SET social:err:u:6 x));
--- request eval
"POST /errors\n" . ::body(1)
--- more_headers eval: ::auth_json(6)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 47: her counts back as they were
--- init
::redis(qw(RENAME social:err:u:6:kept social:err:u:6));
--- redis
TYPE social:err:u:6
HGET social:err:u:6 'n["style","tone"]'
--- response_body
hash
2



=== TEST 48: a count's field not a number (a hand): Redis runs the rest of the transaction, so the row is in: 202, and the error log says which count was left behind
--- init
::settled();
$::rows = ::redis(qw(LLEN social:err:rows));
::redis(qw(HSET social:err:u:6), 'n["style","tone"]', "x");
--- request
POST /errors
{"utterance_id": 5, "errors": [{"category": "Style", "subcategory": "Tone"}]}
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}
--- error_log
recording errors left a count behind: ERR hash value is not an integer
--- no_error_log
[crit]



=== TEST 49: one row more; the field as the hand left it
--- init
Social::social_result(::redis(qw(LLEN social:err:rows)) == $::rows + 1
                      ? "one row more\n" : "rows: " . ::redis(qw(LLEN social:err:rows)) . "\n");
--- redis
HGET social:err:u:6 'n["style","tone"]'
--- response_body
one row more
x



=== TEST 50: a count gone but its spelling there (as a batch cut between the read and the write leaves it): the write begins the count, and the spelling is set again right after
--- init
::settled();
::redis(qw(HDEL social:err:u:6), 'n["style","tone"]');
::redis(qw(CONFIG RESETSTAT));
--- request
POST /errors
{"utterance_id": 5, "errors": [{"category": "style", "subcategory": "tone"}]}
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}



=== TEST 51: one HSETNX, after the transaction; the count 1, the spelling the first one's
--- init
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
Social::social_result(map { "$_ " . ($calls{$_} // 0) . "\n" }
                      qw(multi hsetnx));
--- redis
HGET social:err:u:6 'n["style","tone"]'
HGET social:err:u:6 's["style","tone"]'
--- response_body
multi 1
hsetnx 1
1
["Style","Tone"]



=== TEST 52: writes that go together: ann's, bob's and eve's points, their reads held by Redis a moment (CLIENT PAUSE), go in one transaction (one MULTI, RPUSH and SADD for the three); eve's count not a number fails alone: the others' counts and every row are in, each 202
--- init
::settled();
my @users = ([1, 1], [2, 2], [6, 5]);
my $f = 'n["grammar","tense"]';
# each once before, so that the three take the same steps: the worker
# knows their tokens, Redis has bob's utterance's owner entry
Social::social_http('POST', '/errors', ::body($_->[1]), ::auth_json($_->[0]))
    for @users;
::redis(qw(HSET social:err:u:6), $f, 'x');
my %before = map { $_->[0] => ::redis('HGET', "social:err:u:$_->[0]", $f) || 0 } @users;
my $rows = ::redis(qw(LLEN social:err:rows));
::redis(qw(CONFIG RESETSTAT));
::redis(qw(CLIENT PAUSE 500 ALL));
my @bg = map { ::background_post(::body($_->[1]), ::auth_json($_->[0])) } @users;
my @st = map { ::background_status($_) } @bg;
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
Social::social_result("@st\n",
    map({ "$_ " . ($calls{$_} // 0) . "\n" } qw(multi exec rpush sadd hincrby)),
    "rows +" . (::redis(qw(LLEN social:err:rows)) - $rows) . "\n",
    map { my $now = ::redis('HGET', "social:err:u:$_->[0]", $f);
          "user $_->[0]: " . ($now =~ /^\d+$/ ? "+" . ($now - $before{$_->[0]}) : $now) . "\n" } @users);
--- response_body
202 202 202
multi 1
exec 1
rpush 1
sadd 1
hincrby 3
rows +3
user 1: +1
user 2: +1
user 6: x
--- error_log
recording errors left a count behind: ERR hash value is not an integer
--- no_error_log
[crit]



=== TEST 53: eve's count a number again: her next point counts
--- init
::settled();
::redis(qw(HSET social:err:u:6), 'n["grammar","tense"]', '3');
--- request eval
"POST /errors\n" . ::body(5)
--- more_headers eval: ::auth_json(6)
--- error_code: 202
--- response_body chomp
{"utterance_id":5,"recorded":1}



=== TEST 54: her count 4
--- redis
HGET social:err:u:6 'n["grammar","tense"]'
--- response_body
4



=== TEST 55: a full joint takes no more (3 writes in the test build, 64 in production): ann's two, bob's and eve's points held by Redis a moment go in two transactions, each 202, every row and count in
--- init
::settled();
my @writes = ([1, 1], [1, 1], [2, 2], [6, 5]);
my $f = 'n["grammar","tense"]';
my %before = map { $_->[0] => ::redis('HGET', "social:err:u:$_->[0]", $f) || 0 } @writes;
my $rows = ::redis(qw(LLEN social:err:rows));
::redis(qw(CONFIG RESETSTAT));
::redis(qw(CLIENT PAUSE 500 ALL));
my @bg = map { ::background_post(::body($_->[1]), ::auth_json($_->[0])) } @writes;
my @st = map { ::background_status($_) } @bg;
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
my %seen;
Social::social_result("@st\n",
    map({ "$_ " . ($calls{$_} // 0) . "\n" } qw(multi exec rpush sadd hincrby)),
    "rows +" . (::redis(qw(LLEN social:err:rows)) - $rows) . "\n",
    map { "user $_: +" . (::redis('HGET', "social:err:u:$_", $f) - $before{$_}) . "\n" }
        grep { !$seen{$_}++ } map { $_->[0] } @writes);
--- response_body
202 202 202 202
multi 2
exec 2
rpush 2
sadd 2
hincrby 4
rows +4
user 1: +2
user 2: +1
user 6: +1
--- no_error_log
[error]



=== TEST 56: a transaction that hiredis takes only in part (its second command refused, as when it cannot grow its buffer) is never sent whole: the write is 503, nothing of it lands, the connection is made again and the next write lands
--- config eval: $Social::Locations . "    location = /fault { social_endpoint debug_redis_multi_fault; }\n"
--- init
::settled();
my $f = 'n["grammar","tense"]';
my $count = sub { (::redis('HGET', 'social:err:u:1', $f) || 0) };
my ($before, $rows) = ($count->(), ::redis(qw(LLEN social:err:rows)));
::redis(qw(CONFIG RESETSTAT));
my (undef, $fault) = Social::social_http('GET', '/fault?at=2');
my ($st, $body) = Social::social_http('POST', '/errors', ::body(1), ::auth_json(1));
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
my @out = ("fault $fault\n", "$st " . ($body =~ /"code":"(\w+)"/ ? $1 : $body) . "\n",
           "exec " . ($calls{exec} // 0) . "\n",
           "rows +" . (::redis(qw(LLEN social:err:rows)) - $rows) . "\n",
           "ann +" . ($count->() - $before) . "\n");
my $t0 = Time::HiRes::time();
do {
    Time::HiRes::sleep(0.1);
    ($st) = Social::social_http('POST', '/errors', ::body(1), ::auth_json(1));
} while ($st eq '503' && Time::HiRes::time() < $t0 + 5);
push @out, "then $st\n", "rows +" . (::redis(qw(LLEN social:err:rows)) - $rows) . "\n",
           "ann +" . ($count->() - $before) . "\n";
Social::social_result(@out);
--- response_body
fault {"at":2}
503 service_unavailable
exec 0
rows +0
ann +0
then 202
rows +1
ann +1
--- error_log
social: redis transaction not sent whole, dropping the connection
--- no_error_log
[crit]



=== TEST 57: the common case's race: eve's reads done, her write held by Redis (CLIENT PAUSE WRITE), eve deleted meanwhile (committed while the write waits): the point lands as it would have a moment before, 202, and the delete is 204
--- http_config
    social_flush_interval 0;
    social_redis_timeout 30s;
--- init
::settled();
# once before, so that the worker knows her token (the DELETE's check then
# asks no Redis, which holds the worker's connection behind her write) and
# Redis her entry
my ($first) = Social::social_http('POST', '/errors', ::body(5), ::auth_json(6));
my $rows = ::redis(qw(LLEN social:err:rows));
my $calls = sub { my %c = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
                  join ' ', map { "$_ " . ($c{$_} // 0) } @_ };
my $until = sub { my ($cond, $secs) = @_; my $t0 = Time::HiRes::time();
                  until ($cond->()) { return 'timed out' if Time::HiRes::time() > $t0 + $secs;
                                      Time::HiRes::sleep(0.05) }
                  return 'yes' };
::redis(qw(CONFIG RESETSTAT));
::redis(qw(CLIENT PAUSE 20000 WRITE));
my @out = ("first $first\n");
my ($post, $del);
eval {
    $post = ::background_post(::body(5), ::auth_json(6));
    # her reads done and her transaction begun: MULTI runs, what it
    # queues waits for the pause (the record script, the other way, runs
    # no MULTI: this is the common case)
    push @out, "reads done, MULTI sent: "
        . $until->(sub { $calls->('multi') eq 'multi 1' }, 8) . "\n";
    $del = ::background_http('DELETE', '/user/6', undef, ::auth(6));
    push @out, "eve deleted in PostgreSQL meanwhile: "
        . $until->(sub { ::sql("SELECT count(*) FROM users WHERE user_id = 6") eq '0' }, 8) . "\n";
    push @out, "her request still waiting then: " . (::background_waiting($post) ? "yes" : "no") . "\n",
               "then: " . $calls->(qw(hmget multi exec)) . "\n";
};
my $err = $@;
::redis(qw(CLIENT UNPAUSE));
my $st = $post ? ::background_status($post) : 'none';
my $dst = $del ? ::background_status($del) : 'none';
die $err if $err;
# the rows waiting, each [user, utterance, ...]
my @left = map { /^\["?(\d+)"?,/ ? $1 : 'unread' }
    split /\n/, ::redis(qw(LRANGE social:err:rows 0 -1));
my %users = map { $_ => 1 } ::sql("SELECT user_id FROM users");
# for TEST 58: what the flush is to land, and what it must drop
$::Landed = ::sql("SELECT count(*) FROM utterance_errors");
$::Rows = scalar @left;
$::Gone = scalar grep { !$users{$_} } @left;
Social::social_result(@out, "errors $st, delete $dst\n",
    "after: " . $calls->(qw(exec)) . "\n",
    "rows +" . (::redis(qw(LLEN social:err:rows)) - $rows) . "\n",
    "her utterances: " . ::sql("SELECT count(*) FROM utterances WHERE user_id = 6") . "\n",
    "her counts' hash: " . ::redis(qw(EXISTS social:err:u:6)) . "\n");
--- response_body
first 202
reads done, MULTI sent: yes
eve deleted in PostgreSQL meanwhile: yes
her request still waiting then: yes
then: hmget 1 multi 1 exec 0
errors 202, delete 204
after: exec 1
rows +1
her utterances: 0
her counts' hash: 0
--- no_error_log
[error]



=== TEST 58: the flush lands every row but the deleted users' (carl's, eve's), whose utterances went with them, and sets none aside
--- http_config
    social_flush_interval 100ms;
--- init
my $t0 = Time::HiRes::time();
Time::HiRes::sleep(0.1)
    until (::redis(qw(EXISTS social:err:rows)) eq '0'
           && ::redis(qw(EXISTS social:err:open)) eq '0')
          || Time::HiRes::time() > $t0 + 15;
Social::social_result(
    "rows left: " . ::redis(qw(LLEN social:err:rows)) . "\n",
    "deleted users' rows: " . ($::Gone > 0 ? "some" : "none") . "\n",
    "landed: " . (::sql("SELECT count(*) FROM utterance_errors") - $::Landed)
        . " of " . $::Rows . " less " . $::Gone . ": "
        . (::sql("SELECT count(*) FROM utterance_errors") - $::Landed == $::Rows - $::Gone ? "all" : "not all") . "\n",
    "set aside: " . ::sql("SELECT count(*) FROM error_dead_letters") . "\n");
--- response_body_like chomp
\Arows left: 0
deleted users' rows: some
landed: \d+ of \d+ less \d+: all
set aside: 0
\z
--- no_error_log
[error]
