# vim:set ft= ts=4 sw=4 et fdm=marker:

# GET /exercises (and the original GET /generate-exercise?user_id=) of
# ../shared/API.md ("Language practice"), against the real module: the
# focus is PostgreSQL's totals plus what waits in Redis, so a recorded
# error counts at once and never twice (before, during and after a flush,
# including a flush cut short after its COMMIT); slots in proportion to
# frequency, none twice; exercises from the bank and from the user's own
# utterances; spellings as the bank has them, else as first recorded;
# limit and user_id, who may ask for whom, the error order.
#
# The flush is off (social_flush_interval 0) except in the block that
# drains Redis.  Made with SQL by TEST 1: users 1 ann, 2 bob, 3 root (an
# admin), 4 cat; conversations 1 (ann's), 2 (bob's); utterances 1 "I goes
# home.", 2 "Me and him went.", 4 "Between you and I." (ann's), 3 "He go."
# (bob's).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

# TESTs 38, 40 and 41 check the error log for a line too
plan tests => repeat_each() * (4 * blocks() + 3);

our $HttpConfig = <<'_EOC_';
    social_flush_interval 0;
_EOC_

sub auth { return Social::social_auth(@_) }

# a Redis command on the test instance, its reply as redis-cli prints it
sub redis { return Social::social_redis(@_) }

# from an --- init: waits, at most $secs, until the flush has taken
# every point waiting in Redis (no rows, no open batch)
sub drained {
    my $deadline = time + shift;
    while (time < $deadline) {
        last if redis(qw(EXISTS social:err:rows)) eq '0'
                && redis(qw(EXISTS social:err:open)) eq '0';
        select undef, undef, undef, 0.1;
    }
}

# from an --- init: POST /errors by user $u on utterance $utt of the error
# points [category, subcategory] ..., $n times; the count of each status
sub record {
    my @reqs = @_;
    my @st;

    for my $r (@reqs) {
        my ($u, $utt, $n, @points) = @$r;
        my $body = qq~{"utterance_id": $utt, "errors": [~
                   . join(',', map { qq~{"category": "$_->[0]", ~
                                     . qq~"subcategory": "$_->[1]"}~ }
                                   @points)
                   . ']}';
        for (1 .. $n) {
            my ($status) = Social::social_http('POST', '/errors', $body,
                                               auth($u));
            push @st, $status;
        }
    }

    my %c;
    $c{$_}++ for @st;
    return join(' ', map { "$_:$c{$_}" } sort keys %c) . "\n";
}

# from an --- init: what GET /exercises$query by $who answers, summed up
# in lines: the focus; the slots of each subcategory in the order given;
# whether any exercise came twice; the prompts made of the user's own
# utterances; whether every bank exercise is well formed
sub summary {
    my ($who, $query) = @_;

    require JSON::PP;

    my ($status, $body) = Social::social_http('GET', "/exercises$query",
                                              undef, $who);
    my $x = eval { JSON::PP::decode_json($body) };

    if ($status ne '200' || ref $x ne 'HASH') {
        return "status $status $body\n";
    }

    my (@slots, %seen, %spell);
    my ($twice, $bank_ok, @own) = ('no', 'yes');

    for my $f (@{ $x->{focus} }) {
        $spell{"$f->{category}/$f->{subcategory}"} = 1;
    }

    for my $e (@{ $x->{exercises} }) {
        my $sub = $e->{subcategory};
        if (!@slots || $slots[-1][0] ne $sub) {
            push @slots, [$sub, 0];
        }
        $slots[-1][1]++;

        my $key = defined $e->{exercise_id} ? "b$e->{exercise_id}"
                                            : "u$e->{utterance_id}/$sub";
        $twice = 'yes' if $seen{$key}++;

        $bank_ok = 'no: focus' unless $spell{"$e->{category}/$sub"};

        if (!defined $e->{exercise_id}) {
            $bank_ok = 'no: own' if $e->{type} ne 'correction'
                                    || defined $e->{answer}
                                    || defined $e->{choices};
            push @own, $e->{prompt};
            next;
        }

        my $mc = $e->{type} eq 'multiple_choice';
        $bank_ok = "no: $e->{exercise_id}"
            if $e->{type} !~ /^(?:multiple_choice|fill_in_the_blank|correction|reorder)$/
               || !length $e->{prompt} || !length $e->{answer}
               || defined $e->{utterance_id}
               || ($mc && !(ref $e->{choices} eq 'ARRAY'
                            && grep { $_ eq $e->{answer} } @{ $e->{choices} }))
               || (!$mc && defined $e->{choices});
    }

    return join('', "user $x->{user_id}\n",
        "focus " . join(', ', map { "$_->{category}/$_->{subcategory}="
                                    . "$_->{frequency}" } @{ $x->{focus} })
        . "\n",
        "slots " . join(', ', map { "$_->[0]:$_->[1]" } @slots) . "\n",
        "twice $twice\n",
        map({ "own $_\n" } @own),
        "bank $bank_ok\n");
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: a user without errors gets empty lists
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('root', 'x', 'admin'), ('cat', 'x', 'user')");
Social::social_sql("INSERT INTO conversations (user_id) VALUES (1), (2)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (1, 1, 'I goes home.'), (1, 1, 'Me and him went.'), (2, 2, 'He go.'), (1, 1, 'Between you and I.')");
--- request
GET /exercises
--- more_headers eval: ::auth(4)
--- response_body chomp
{"user_id":4,"focus":[],"exercises":[]}



=== TEST 2: ann records 8 pronoun errors in two spellings, 1 of agreement
--- init
Social::social_result(::record([1, 2, 4, ['grammar', 'pronouns']], [1, 4, 2, ['Grammar', 'PRONOUNS'], [' GRAMMAR', 'Pronouns ']], [1, 1, 1, ['Grammar', 'Subject-Verb Agreement']]));
--- response_body
202:7



=== TEST 3: at once, in the bank's spelling; 8 against 1 gets 4 slots against 1, the user's own utterances first
--- init
Social::social_result(::summary(::auth(1), ""));
--- response_body
user 1
focus Grammar/Pronouns=8, Grammar/Subject-Verb Agreement=1
slots Pronouns:4, Subject-Verb Agreement:1
twice no
own Correct the pronouns in: "Between you and I."
own Correct the pronouns in: "Me and him went."
own Correct the subject-verb agreement in: "I goes home."
bank yes



=== TEST 4: the exact shape of an answer
--- request
GET /exercises?limit=2
--- more_headers eval: ::auth(1)
--- response_body_like chomp
^\{"user_id":1,"focus":\[\{"category":"Grammar","subcategory":"Pronouns","frequency":8\}\],"exercises":\[\{"exercise_id":null,"type":"correction","category":"Grammar","subcategory":"Pronouns","prompt":"Correct the pronouns in: \\"Between you and I.\\"","choices":null,"answer":null,"utterance_id":4\},\{"exercise_id":\d+,"type":"(?:multiple_choice|fill_in_the_blank|correction|reorder)","category":"Grammar","subcategory":"Pronouns","prompt":"[^"\\]*(?:\\.[^"\\]*)*","choices":(?:null|\[[^\]]*\]),"answer":"[^"\\]*(?:\\.[^"\\]*)*","utterance_id":null\}\]\}$



=== TEST 5: limit=1: the most frequent subcategory alone
--- init
Social::social_result(::summary(::auth(1), "?limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=8
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 6: limit=20: every exercise there is, none twice (2 own and 7 of the bank, 1 own and 8 of the bank)
--- init
Social::social_result(::summary(::auth(1), "?limit=20"));
--- response_body
user 1
focus Grammar/Pronouns=8, Grammar/Subject-Verb Agreement=1
slots Pronouns:9, Subject-Verb Agreement:9
twice no
own Correct the pronouns in: "Between you and I."
own Correct the pronouns in: "Me and him went."
own Correct the subject-verb agreement in: "I goes home."
bank yes



=== TEST 7: subcategories the bank does not have: spelt as first recorded, the category as the bank has it
--- init
::record([1, 1, 2, ['style', 'tone shift']], [1, 1, 1, ['Style', 'Tone Shift']], [1, 2, 1, ['GRAMMAR', 'gerunds']], [1, 4, 1, ['grammar', 'Gerunds']]);
Social::social_result(::summary(::auth(1), "?limit=20"));
--- response_body
user 1
focus Grammar/Pronouns=8, style/tone shift=3, Grammar/gerunds=2, Grammar/Subject-Verb Agreement=1
slots Pronouns:9, tone shift:1, gerunds:2, Subject-Verb Agreement:8
twice no
own Correct the pronouns in: "Between you and I."
own Correct the pronouns in: "Me and him went."
own Correct the tone shift in: "I goes home."
own Correct the gerunds in: "Between you and I."
own Correct the gerunds in: "Me and him went."
own Correct the subject-verb agreement in: "I goes home."
bank yes



=== TEST 8: limit=5 among four subcategories: in proportion (8, 3, 2, 1)
--- init
Social::social_result(::summary(::auth(1), "?limit=5"));
--- response_body
user 1
focus Grammar/Pronouns=8, style/tone shift=3, Grammar/gerunds=2
slots Pronouns:3, tone shift:1, gerunds:1
twice no
own Correct the pronouns in: "Between you and I."
own Correct the pronouns in: "Me and him went."
own Correct the tone shift in: "I goes home."
own Correct the gerunds in: "Between you and I."
bank yes



=== TEST 9: the original path, naming herself
--- request
GET /generate-exercise?user_id=1&limit=1
--- more_headers eval: ::auth(1)
--- response_body_like chomp
^\{"user_id":1,"focus":\[\{"category":"Grammar","subcategory":"Pronouns","frequency":8\}\],"exercises":\[\{"exercise_id":null,.*"utterance_id":4\}\]\}$



=== TEST 10: another user may not ask for ann's
--- request
GET /generate-exercise?user_id=1
--- more_headers eval: ::auth(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 11: an admin may
--- init
Social::social_result(::summary(::auth(3, role => 'admin'), "?user_id=1&limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=8
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 12: an admin asking for nobody is 404 naming user_id
--- request
GET /exercises?user_id=999
--- more_headers eval: ::auth(3, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"user_id names nothing.","field":"user_id"}}



=== TEST 13: bob's own, by user_id, are empty
--- request
GET /exercises?user_id=2
--- more_headers eval: ::auth(2)
--- response_body chomp
{"user_id":2,"focus":[],"exercises":[]}



=== TEST 14: user_id that is not an id is 422
--- request
GET /exercises?user_id=abc
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"user_id must be an integer id from 1 to 2^63-1.","field":"user_id"}}



=== TEST 15: user_id=0 is 422
--- request
GET /exercises?user_id=0
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 16: user_id beyond 2^63-1 is 422
--- request
GET /exercises?user_id=9223372036854775808
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 17: limit=0 is 422
--- request
GET /exercises?limit=0
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"limit must be an integer from 1 to 20.","field":"limit"}}



=== TEST 18: limit=21 is 422
--- request
GET /exercises?limit=21
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"limit must be an integer from 1 to 20.","field":"limit"}}



=== TEST 19: limit=abc is 422
--- request
GET /exercises?limit=abc
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"limit must be an integer from 1 to 20.","field":"limit"}}



=== TEST 20: limit=1e1 is 422
--- request
GET /exercises?limit=1e1
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"limit must be an integer from 1 to 20.","field":"limit"}}



=== TEST 21: error order: an invalid limit for another user's is 422, not 403
--- request
GET /exercises?limit=0&user_id=1
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 22: no token is 401
--- request
GET /exercises?limit=0
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 23: POST is 405
--- request
POST /exercises
{}
--- more_headers eval: ::auth(1) . "\r\nContent-Type: application/json"
--- error_code: 405
--- response_headers
Allow: GET, HEAD
--- response_body_like chomp
^\{"error":\{"code":"method_not_allowed",



=== TEST 24: a flush moves everything to PostgreSQL (drained within a deadline)
--- http_config
    social_flush_interval 100ms;
--- init
my $deadline = time + 20;
while (time < $deadline) {
    last if ::redis(qw(EXISTS social:err:rows)) eq '0'
            && ::redis(qw(EXISTS social:err:open)) eq '0'
            && Social::social_sql("SELECT count(*) FROM error_batches") > 0;
    select undef, undef, undef, 0.1;
}
--- sql
SELECT category || '/' || subcategory || '=' || frequency FROM error_frequencies WHERE user_id = 1 ORDER BY frequency DESC, category_key, subcategory_key
--- redis
EXISTS social:err:u:1
--- response_body
grammar/pronouns=8
style/tone shift=3
GRAMMAR/gerunds=2
Grammar/Subject-Verb Agreement=1
0



=== TEST 25: after the flush, the same frequencies: nothing counted twice
--- init
Social::social_result(::summary(::auth(1), "?limit=5"));
--- response_body
user 1
focus Grammar/Pronouns=8, style/tone shift=3, Grammar/gerunds=2
slots Pronouns:3, tone shift:1, gerunds:1
twice no
own Correct the pronouns in: "Between you and I."
own Correct the pronouns in: "Me and him went."
own Correct the tone shift in: "I goes home."
own Correct the gerunds in: "Between you and I."
bank yes



=== TEST 26: PostgreSQL's totals and what waits in Redis add up (8 + 3 pending)
--- init
::record([1, 2, 3, ['Grammar', 'pronouns']]);
Social::social_result(::summary(::auth(1), "?limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=11
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 27: a flush cut short after its COMMIT (the batch applied, still open in Redis) counts once
--- init
my ($epoch, $seq) = split /\|/, Social::social_sql("SELECT epoch || '|' || seq FROM error_batches ORDER BY applied_at DESC LIMIT 1");
::redis('SET', 'social:err:open', "$epoch:$seq");
::redis('HSET', "social:err:b:$epoch:$seq:u:1", 'n["grammar","pronouns"]', '8', 's["grammar","pronouns"]', '["grammar","pronouns"]', 'u["grammar","pronouns"]', '4');
Social::social_result(::summary(::auth(1), "?limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=11
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 28: an open batch not applied yet counts (8 + 3 + 5)
--- init
my ($epoch) = Social::social_sql("SELECT epoch FROM error_batches LIMIT 1");
::redis('DEL', split /\n/, ::redis('KEYS', 'social:err:b:*'));
::redis('SET', 'social:err:open', "$epoch:999");
::redis('HSET', "social:err:b:$epoch:999:u:1", 'n["grammar","pronouns"]', '5', 's["grammar","pronouns"]', '["grammar","pronouns"]', 'u["grammar","pronouns"]', '4');
Social::social_result(::summary(::auth(1), "?limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=16
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 29: pending counts read before a batch that is applied meanwhile are not added (the batch holds them)
--- init
::redis('DEL', 'social:err:open', split /\n/, ::redis('KEYS', 'social:err:b:*'));
::redis('SET', 'social:err:seq', '0');
Social::social_result(::summary(::auth(1), "?limit=1"));
--- response_body
user 1
focus Grammar/Pronouns=8
slots Pronouns:1
twice no
own Correct the pronouns in: "Between you and I."
bank yes



=== TEST 30: a long history: 200k points of articles on two utterances, the newest each once, the one without none
--- init
Social::social_sql("INSERT INTO error_batches (epoch, seq, errors, applied) VALUES ('history', 1, 200000, true)");
Social::social_sql("INSERT INTO utterance_errors (utterance_id, user_id, category, subcategory, recorded_at, point_id, batch_epoch, batch_seq) SELECT CASE WHEN g = 100000 THEN 2 ELSE 1 END, 1, 'Grammar', 'Articles', now(), 'history' || g, 'history', 1 FROM generate_series(1, 200000) g");
Social::social_sql("INSERT INTO error_frequencies (user_id, category_key, subcategory_key, category, subcategory, frequency) VALUES (1, 'grammar', 'articles', 'Grammar', 'Articles', 200000)");
Social::social_result(::summary(::auth(1), "?limit=3"));
--- response_body
user 1
focus Grammar/Articles=200000
slots Articles:3
twice no
own Correct the articles in: "Me and him went."
own Correct the articles in: "I goes home."
bank yes



=== TEST 31: each subcategory keeps its 20 newest utterances and their texts (error_recent, kept by a trigger on every insert of points, the flush's too): 25 new utterances with a word-order error, flushed
--- http_config
    social_flush_interval 100ms;
--- init
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT 1, 1, 'word order ' || g FROM generate_series(1, 25) g");
my @ids = Social::social_sql("SELECT utterance_id FROM utterances WHERE content LIKE 'word order %' ORDER BY utterance_id");
::record(map { [1, $_, 1, ['Grammar', 'Word Order']] } @ids);
# and the oldest of them again: no utterance twice
::record([1, $ids[0], 1, ['Grammar', 'Word Order']]);
::drained(20);
--- sql
SELECT frequency FROM error_frequencies WHERE user_id = 1 AND subcategory_key = 'word order'
SELECT cardinality(utterances) FROM error_recent WHERE user_id = 1 AND subcategory_key = 'word order'
SELECT utterances = (SELECT array_agg(utterance_id ORDER BY utterance_id DESC) FROM (SELECT utterance_id FROM utterances WHERE content LIKE 'word order %' ORDER BY utterance_id DESC LIMIT 20) x) FROM error_recent WHERE user_id = 1 AND subcategory_key = 'word order'
SELECT contents = (SELECT array_agg(content ORDER BY utterance_id DESC) FROM (SELECT utterance_id, content FROM utterances WHERE content LIKE 'word order %' ORDER BY utterance_id DESC LIMIT 20) x) FROM error_recent WHERE user_id = 1 AND subcategory_key = 'word order'
SELECT utterances = ARRAY[2, 1]::bigint[] FROM error_recent WHERE user_id = 1 AND subcategory_key = 'articles'
SELECT contents = ARRAY(SELECT content FROM utterances WHERE utterance_id IN (2, 1) ORDER BY utterance_id DESC) FROM error_recent WHERE user_id = 1 AND subcategory_key = 'articles'
--- response_body
26
20
t
t
t
t



=== TEST 32: the bank as the workers keep it follows a change of the table at the next read: an exercise added is offered, and gone once deleted
--- init
my $before = Social::social_sql("SELECT version FROM exercise_bank");
my $prompts = sub {
    require JSON::PP;
    my ($status, $body) = Social::social_http('GET', '/exercises?limit=20', undef, ::auth(1));
    my $x = JSON::PP::decode_json($body);
    return join ',', grep { /___ one/ } map { $_->{prompt} } @{ $x->{exercises} };
};
my @out = ("before: [" . $prompts->() . "]");
Social::social_sql("INSERT INTO exercises (category, subcategory, type, prompt, answer) VALUES ('Grammar', 'Articles', 'fill_in_the_blank', 'The new ___ one.', 'a')");
push @out, "added: [" . $prompts->() . "]";
Social::social_sql("DELETE FROM exercises WHERE prompt = 'The new ___ one.'");
push @out, "deleted: [" . $prompts->() . "]";
push @out, "version moved by " . (Social::social_sql("SELECT version FROM exercise_bank") - $before);
Social::social_result(join("\n", @out) . "\n");
--- response_body
before: []
added: [The new ___ one.]
deleted: []
version moved by 2



=== TEST 33: the same read once the bank is the worker's: articles (200000) take every candidate they have, 2 own and the bank's 7, each once
--- init
Social::social_result(::summary(::auth(1), "?limit=20"));
--- response_body_like
^user 1
focus Grammar/Articles=200000, [^\n]*
slots Articles:9, [^\n]*
twice no
own Correct the articles in: "Me and him went."
own Correct the articles in: "I goes home."
(?:own [^\n]*\n)*bank yes



=== TEST 34: cat's own utterances from both stores (4 of Zeta/Quux, a subcategory the bank does not have, flushed to PostgreSQL with their texts)
--- http_config
    social_flush_interval 100ms;
--- init
Social::social_sql("INSERT INTO conversations (user_id) VALUES (4)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT c.conversation_id, 4, 'cat ' || g FROM conversations c, generate_series(1, 6) g WHERE c.user_id = 4 ORDER BY g");
my @ids = Social::social_sql("SELECT utterance_id FROM utterances WHERE user_id = 4 ORDER BY utterance_id");
::record(map { [4, $ids[$_], 1, ['Zeta', 'Quux']] } 0 .. 3);
::drained(20);
--- sql
SELECT frequency FROM error_frequencies WHERE user_id = 4
SELECT array_to_string(contents, '|') FROM error_recent WHERE user_id = 4
--- response_body
4
cat 4|cat 3|cat 2|cat 1



=== TEST 35: then cat 6 and cat 2 again, waiting in Redis: the newest first, each once, cat 6's text read from utterances
--- init
my @ids = Social::social_sql("SELECT utterance_id FROM utterances WHERE user_id = 4 ORDER BY utterance_id");
::record([4, $ids[5], 1, ['zeta', 'QUUX']], [4, $ids[1], 1, ['Zeta', 'Quux']]);
Social::social_result(::summary(::auth(4), "?limit=5"));
--- response_body
user 4
focus Zeta/Quux=6
slots Quux:5
twice no
own Correct the quux in: "cat 6"
own Correct the quux in: "cat 4"
own Correct the quux in: "cat 3"
own Correct the quux in: "cat 2"
own Correct the quux in: "cat 1"
bank yes



=== TEST 36: bob's subcategory ranked fourth in PostgreSQL (beyond the statement's texts, limit 1 + one count of Redis) makes the focus with 20 points waiting: its utterance is offered, its text read by the second statement
--- init
Social::social_sql("INSERT INTO error_batches (epoch, seq, errors, applied) VALUES ('t036', 1, 34, true)");
Social::social_sql("INSERT INTO utterance_errors (utterance_id, user_id, category, subcategory, recorded_at, point_id, batch_epoch, batch_seq) SELECT 3, 2, 'Yod', s, now(), 't036-' || s || '-' || g, 't036', 1 FROM (VALUES ('Aleph', 10), ('Beth', 9), ('Gimel', 8), ('Daleth', 7)) v (s, n), generate_series(1, n) g");
Social::social_sql("INSERT INTO error_frequencies (user_id, category_key, subcategory_key, category, subcategory, frequency) SELECT 2, category_key, subcategory_key, min(category), min(subcategory), count(*) FROM utterance_errors WHERE user_id = 2 AND batch_epoch = 't036' GROUP BY 1, 2, 3");
::record([2, 3, 20, ['Yod', 'Daleth']]);
Social::social_result(::summary(::auth(2), "?limit=1"));
--- response_body
user 2
focus Yod/Daleth=27
slots Daleth:1
twice no
own Correct the daleth in: "He go."
bank yes



=== TEST 37: many readers at once (ann, bob, cat, and an admin reading bob's): their reads share statements, and each gets the focus and own utterances it gets alone
--- config eval: $Social::Locations . "    location = /metrics { social_endpoint metrics; }\n"
--- init
require JSON::PP;
# what of an answer does not depend on the bank's draw: the focus, and
# the own utterances offered
my $key = sub {
    my $x = eval { JSON::PP::decode_json($_[0]) } or return "not JSON";
    return join ';', "user $x->{user_id}",
        map({ "$_->{category}/$_->{subcategory}=$_->{frequency}" } @{ $x->{focus} }),
        map({ "own $_->{utterance_id}" } grep { !defined $_->{exercise_id} } @{ $x->{exercises} });
};
my @who = ([1, "?limit=20"], [2, "?limit=1"], [4, "?limit=5"], [3, "?limit=1&user_id=2"]);
my %alone;
for my $w (@who) {
    my ($status, $body) = Social::social_http('GET', "/exercises$w->[1]", undef, ::auth($w->[0], role => $w->[0] == 3 ? 'admin' : 'user'));
    $alone{"@$w"} = "$status " . $key->($body);
}
my $metric = sub {
    my ($status, $body) = Social::social_http('GET', '/metrics');
    return $body =~ /^$_[0] (\d+)$/m ? $1 : "none";
};
my @reqs = map { $who[$_ % @who] } 0 .. 39;
my ($b0, $n0) = ($metric->('social_read_batches_total'), $metric->('social_reads_total'));
my ($statuses, $answers) = Social::social_at_once(0, [ map { "GET /exercises$_->[1] HTTP/1.1\r\nHost: localhost\r\n" . ::auth($_->[0], role => $_->[0] == 3 ? 'admin' : 'user') . "\r\nConnection: close\r\n\r\n" } @reqs ]);
my ($b1, $n1) = ($metric->('social_read_batches_total'), $metric->('social_reads_total'));
my @wrong;
for my $i (0 .. $#reqs) {
    my ($head, $body) = split /\r\n\r\n/, $answers->[$i], 2;
    my ($status) = $head =~ m{^HTTP/1\.1 (\d+)};
    push @wrong, "@{ $reqs[$i] }" if "$status " . $key->($body) ne $alone{"@{ $reqs[$i] }"};
}
Social::social_result("$statuses\n",
    "alone: " . join(' | ', map { $alone{"@$_"} =~ /^(\d+)/ } @who) . "\n",
    "wrong answers: " . (@wrong ? "@wrong" : "none") . "\n",
    "reads: " . ($n1 - $n0 >= 40 ? "40 or more" : $n1 - $n0) . ", in fewer statements: "
    . ($b1 - $b0 < $n1 - $n0 ? "yes" : "no (" . ($b1 - $b0) . ")") . "\n");
--- response_body
200:40
alone: 200 | 200 | 200 | 200
wrong answers: none
reads: 40 or more, in fewer statements: yes



=== TEST 38: readers who go away while their statement waits (error_frequencies locked): the statement's other reads answer, as does the next
--- timeout: 30
--- init
require IO::Socket::INET;
my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
my $req = "GET /exercises?limit=1 HTTP/1.1\r\nHost: localhost\r\n" . ::auth(2) . "\r\nConnection: close\r\n\r\n";
my $pid = Social::social_lock_for('error_frequencies', 2);
my @gone;
for (1 .. 10) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Proto => 'tcp') or die "connect: $!\n";
    print $s $req;
    push @gone, $s;
}
select undef, undef, undef, 0.3;
close $_ for @gone;
my ($counts, $answers) = Social::social_concurrent(5, "/exercises?limit=1", ::auth(2));
waitpid $pid, 0;
my @right = grep { /"focus":\[\{"category":"Yod","subcategory":"Daleth","frequency":27\}\]/ } @$answers;
Social::social_result("the others: $counts, " . (@right == 5 ? "each bob's" : "not bob's") . "\n",
                      ::summary(::auth(2), "?limit=1"));
--- response_body
the others: 200:5, each bob's
user 2
focus Yod/Daleth=27
slots Daleth:1
twice no
own Correct the daleth in: "He go."
bank yes
--- error_log
social: client closed the connection
--- no_error_log
[alert]



=== TEST 39: bob's counts waiting in Redis are read by one transaction of Redis's own commands, no script (no batch open): 30 of Grammar/Pronouns count at once, above his 27 of Daleth
--- init
::record([2, 3, 30, ['Grammar', 'pronouns']]);
::redis(qw(CONFIG RESETSTAT));
my $s = ::summary(::auth(2), "?limit=1");
my %calls = ::redis(qw(INFO commandstats)) =~ /cmdstat_(\w+):calls=(\d+)/g;
Social::social_result($s, map { "$_ " . ($calls{$_} // 0) . "\n" }
                              qw(evalsha eval multi exec hgetall));
--- response_body
user 2
focus Grammar/Pronouns=30
slots Pronouns:1
twice no
own Correct the pronouns in: "He go."
bank yes
evalsha 0
eval 0
multi 1
exec 1
hgetall 1



=== TEST 40: root's counts as a hand may leave them: a count without its spelling is left out, as the script leaves it; one without latest utterances counts, with none of its own; a count not a number and a spelling not a pair are skipped, and a warning says so
--- init
::redis('DEL', 'social:err:u:3');
::redis('HSET', 'social:err:u:3',
        'n["grammar","pronouns"]', '4',
        's["grammar","pronouns"]', '["Grammar","Pronouns"]',
        'n["grammar","articles"]', '9',
        'n["style","tone shift"]', 'x9',
        's["style","tone shift"]', '["Style","Tone Shift"]',
        'u["style","tone shift"]', '2',
        'n["yod","daleth"]', '7',
        's["yod","daleth"]', '["Yod"]',
        'u["yod","daleth"]', '3');
Social::social_result(::summary(::auth(3, role => 'admin'), "?limit=1"));
--- response_body
user 3
focus Grammar/Pronouns=4
slots Pronouns:1
twice no
bank yes
--- error_log
social: 2 pending error counts of user 3 are not as written, skipped



=== TEST 41: root's counts of 3002 subcategories (as a learner's whose points wait ten minutes may be): the read pairs each count with its spelling, and the largest make the focus
--- init
::redis('DEL', 'social:err:u:3');
my @args;
for my $i (1 .. 3000) {
    push @args, qq~n["zeta","k$i"]~, $i, qq~s["zeta","k$i"]~, qq~["Zeta","K$i"]~;
}
push @args, 'n["grammar","articles"]', 4000,
            's["grammar","articles"]', '["Grammar","Articles"]',
            'n["grammar","pronouns"]', 5000,
            's["grammar","pronouns"]', '["Grammar","Pronouns"]';
::redis('HSET', 'social:err:u:3', @args);
Social::social_result(::summary(::auth(3, role => 'admin'), "?limit=2"));
--- response_body
user 3
focus Grammar/Pronouns=5000, Grammar/Articles=4000
slots Pronouns:1, Articles:1
twice no
bank yes



=== TEST 42: MULTI refused (an ACL without it): EXEC's error, and the script reads the same counts: the same answer, no error
--- init
::redis(qw(ACL SETUSER default -multi));
my $s = ::summary(::auth(3, role => 'admin'), "?limit=2");
::redis(qw(ACL SETUSER default +multi));
Social::social_result($s);
--- response_body
user 3
focus Grammar/Pronouns=5000, Grammar/Articles=4000
slots Pronouns:1, Articles:1
twice no
bank yes



=== TEST 43: root's counts' key holding a string: the transaction's read is refused, the script's too; 503, and the error log says why
--- init
::redis(qw(DEL social:err:u:3));
::redis(qw(SET social:err:u:3 x));
--- request
GET /exercises
--- more_headers eval: ::auth(3, role => 'admin')
--- error_code: 503
--- response_body chomp
{"error":{"code":"service_unavailable","message":"Redis is down; try again shortly."}}
--- error_log
social: reading pending errors failed: WRONGTYPE
--- no_error_log
[alert]



=== TEST 44: the key gone, root's are empty lists again
--- init
::redis(qw(DEL social:err:u:3));
--- request
GET /exercises
--- more_headers eval: ::auth(3, role => 'admin')
--- error_code: 200
--- response_body chomp
{"user_id":3,"focus":[],"exercises":[]}



=== TEST 45: ann deletes herself
--- init
::redis('SET', 'social:err:seq', Social::social_sql("SELECT max(seq) FROM error_batches"));
--- request
DELETE /user/1
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 46: her exercises are gone with her, for an admin too
--- request
GET /exercises?user_id=1
--- more_headers eval: ::auth(3, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"user_id names nothing.","field":"user_id"}}



=== TEST 47: and her rows, frequencies and pending counts
--- sql
SELECT count(*) FROM utterance_errors WHERE user_id = 1
SELECT count(*) FROM error_frequencies WHERE user_id = 1
--- redis
EXISTS social:err:u:1
--- response_body
0
0
0



=== TEST 48: the flush takes what the blocks left waiting (bob's and cat's points), so that nothing waits in Redis for the next file's nginx to flush
--- http_config
    social_flush_interval 100ms;
--- init
::drained(20);
--- sql
SELECT frequency FROM error_frequencies WHERE user_id = 2 AND subcategory_key = 'daleth'
--- redis
EXISTS social:err:rows
EXISTS social:err:open
--- response_body
27
0
0
