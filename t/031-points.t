# vim:set ft= ts=4 sw=4 et fdm=marker:

# POST /errors (and the original POST /simulate-and-generate) of
# ../shared/API.md ("Language practice"), against the real module, with the
# flush off (social_flush_interval 0), so that what the endpoint wrote to
# Redis can be read back exactly: one row per accepted error point, the
# user's pending counts keyed ignoring ASCII case with the first spelling,
# the dirty set.  Both field spellings, normalisation, every validation with
# its field path, the utterance's owner, body ids that must match, the error
# order, Redis down, and a deleted user's pending counts.
#
# Made with SQL by TEST 1: users 1 ann, 2 bob, 3 root (an admin);
# conversations 1 (ann's), 2 (bob's); utterances 1 and 3 (ann's, in 1),
# 2 (bob's, in 2).

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 1);

our $HttpConfig = <<'_EOC_';
    social_flush_interval 0;
_EOC_

sub auth { return Social::social_auth(@_) }

sub auth_json { return Social::social_auth_json(@_) }

sub admin_json {
    return auth_json(3, role => 'admin');
}

# a Redis command on the test instance, its reply as redis-cli prints it
sub redis { return Social::social_redis(@_) }

our $Ok = '{"utterance_id":1,"recorded":1}';

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: two error points in the original spelling: 202 at once
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('root', 'x', 'admin')");
Social::social_sql("INSERT INTO conversations (user_id) VALUES (1), (2)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (1, 1, 'I goes home.'), (2, 2, 'He go.'), (1, 1, 'Me and him went.')");
--- request
POST /errors
{"utterance_id": 1, "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"}, {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":2}



=== TEST 2: in Redis: two rows, ann's counts with their spelling and utterance, ann is dirty
--- redis
LLEN social:err:rows
HGET social:err:u:1 'n["grammar","pronouns"]'
HGET social:err:u:1 's["grammar","pronouns"]'
HGET social:err:u:1 'u["grammar","pronouns"]'
HGET social:err:u:1 'n["vocabulary","word choice"]'
HGET social:err:u:1 's["vocabulary","word choice"]'
SMEMBERS social:err:dirty
--- response_body
2
1
["Grammar","Pronouns"]
1
1
["Vocabulary","Word Choice"]
1



=== TEST 3: a row is [user, utterance, category, subcategory, unix ms, point id] as accepted
--- init
Social::social_result(::redis(qw(LINDEX social:err:rows 0)) =~ /^\[1,1,"Grammar","Pronouns",(\d{13}),"[0-9a-f]{32}"\]$/ && abs($1 / 1000 - time) < 60 ? "ok\n" : ::redis(qw(LINDEX social:err:rows 0)) . "\n");
--- response_body
ok



=== TEST 4: the same subcategory in other cases and spaces, through the original path
--- request
POST /simulate-and-generate
{"utterance_id": 1, "errors": [{"category": " grammar ", "subcategory": "PRONOUNS"}, {"category": "GRAMMAR", "subcategory": "pronouns"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":2}



=== TEST 5: one counter ignoring case, the first spelling kept, no new field
--- init
Social::social_result(::redis(qw(LINDEX social:err:rows 2)) =~ s/\d{13}/MS/r =~ s/"[0-9a-f]{32}"/ID/r, "\n");
--- redis
HGET social:err:u:1 'n["grammar","pronouns"]'
HGET social:err:u:1 's["grammar","pronouns"]'
HLEN social:err:u:1
LLEN social:err:rows
--- response_body
[1,1,"grammar","PRONOUNS",MS,ID]
3
["Grammar","Pronouns"]
6
4



=== TEST 6: inner white space collapses to one space, the ends are trimmed
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "  Subject \t  Verb\nAgreement "}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 7: as "Subject Verb Agreement"
--- redis
HGET social:err:u:1 'n["grammar","subject verb agreement"]'
HGET social:err:u:1 's["grammar","subject verb agreement"]'
--- response_body
1
["Grammar","Subject Verb Agreement"]



=== TEST 8: an error point on ann's other utterance
--- request
POST /errors
{"utterance_id": 3, "errors": [{"category": "grammar", "subcategory": "pronouns"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":3,"recorded":1}



=== TEST 9: the latest utterances with the error are remembered, newest first
--- redis
HGET social:err:u:1 'u["grammar","pronouns"]'
HGET social:err:u:1 'n["grammar","pronouns"]'
--- response_body
3,1
4



=== TEST 10: both spellings of a field saying the same is fine
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Spelling", "errorCategory": " Spelling", "subcategory": "Homophones"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 11: 50 error points at once
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}, {"category": "Punctuation", "subcategory": "Commas"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":50}



=== TEST 12: 64 characters (two bytes each) after trimming
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Vocabulary", "subcategory": "  éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé "}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 13: unicode spellings are kept; only ASCII case is ignored
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Vocabulary", "subcategory": "ÉÉÉ"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 14: so far: 59 rows, and É is not é
--- redis
LLEN social:err:rows
HGET social:err:u:1 'n["punctuation","commas"]'
HGET social:err:u:1 'n["vocabulary","ÉÉÉ"]'
HGET social:err:u:1 'n["vocabulary","éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"]'
--- response_body
59
50
1
1



=== TEST 15: no errors is 422
--- request
POST /errors
{"utterance_id": 1}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors is required.","field":"errors"}}



=== TEST 16: errors null is 422
--- request
POST /errors
{"utterance_id": 1, "errors": null}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors is required.","field":"errors"}}



=== TEST 17: errors not an array is 422
--- request
POST /errors
{"utterance_id": 1, "errors": {"category": "a"}}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors must be an array of 1 to 50 errors.","field":"errors"}}



=== TEST 18: no error points is 422
--- request
POST /errors
{"utterance_id": 1, "errors": []}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors must be an array of 1 to 50 errors.","field":"errors"}}



=== TEST 19: 51 error points are 422
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}, {"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors must be an array of 1 to 50 errors.","field":"errors"}}



=== TEST 20: an error point that is not an object names its index
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "a", "subcategory": "b"}, "Grammar"]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[1] must be an object with a category and a subcategory.","field":"errors[1]"}}



=== TEST 21: a missing category names the path
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "a", "subcategory": "b"}, {"subcategory": "Pronouns"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[1].category is required.","field":"errors[1].category"}}



=== TEST 22: a missing subcategory names the path
--- request
POST /errors
{"utterance_id": 1, "errors": [{"errorCategory": "Grammar"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].subcategory is required.","field":"errors[0].subcategory"}}



=== TEST 23: a category that is not a string
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": 5, "subcategory": "x"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].category must be a string.","field":"errors[0].category"}}



=== TEST 24: errorSubCategory that is not a string names that spelling
--- request
POST /errors
{"utterance_id": 1, "errors": [{"errorCategory": "Grammar", "errorSubCategory": ["x"]}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].errorSubCategory must be a string.","field":"errors[0].errorSubCategory"}}



=== TEST 25: an empty category
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "", "subcategory": "x"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].category must be 1 to 64 characters long after trimming.","field":"errors[0].category"}}



=== TEST 26: a category of white space only
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": " \t\n ", "subcategory": "x"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].category must be 1 to 64 characters long after trimming.","field":"errors[0].category"}}



=== TEST 27: 65 characters
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].subcategory must be 1 to 64 characters long after trimming.","field":"errors[0].subcategory"}}



=== TEST 28: 65 characters of two bytes
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", "subcategory": "x"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].category must be 1 to 64 characters long after trimming.","field":"errors[0].category"}}



=== TEST 29: a NUL is 422
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "Pro\u0000nouns"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].subcategory must not contain NUL.","field":"errors[0].subcategory"}}



=== TEST 30: both spellings saying different things is 422
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "errorCategory": "Vocabulary", "subcategory": "x"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"errors[0].errorCategory differs from the other spelling.","field":"errors[0].errorCategory"}}



=== TEST 31: no utterance_id is 422
--- request
POST /errors
{"errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"utterance_id is required.","field":"utterance_id"}}



=== TEST 32: utterance_id as a string is 422
--- request
POST /errors
{"utterance_id": "1", "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"utterance_id"\}\}$



=== TEST 33: utterance_id 0 is 422
--- request
POST /errors
{"utterance_id": 0, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"utterance_id"\}\}$



=== TEST 34: utterance_id 2^63 is 422
--- request
POST /errors
{"utterance_id": 9223372036854775808, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"utterance_id"\}\}$



=== TEST 35: a user_id that is not an id is 422
--- request
POST /errors
{"utterance_id": 1, "user_id": "1", "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 36: a conversation_id that is not an id is 422
--- request
POST /errors
{"utterance_id": 1, "conversation_id": -1, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"conversation_id"\}\}$



=== TEST 37: error order: an invalid body on another's utterance is 422, not 403
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"errors\[0\].category"\}\}$



=== TEST 38: an unknown utterance is 404 naming it
--- request
POST /errors
{"utterance_id": 999, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"utterance_id names nothing.","field":"utterance_id"}}



=== TEST 39: bob may not record errors on ann's utterance
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 40: ann naming bob as the user_id is 403, never silently used
--- request
POST /errors
{"utterance_id": 1, "user_id": 2, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 41: a conversation_id that is not the utterance's is 422
--- request
POST /errors
{"utterance_id": 1, "user_id": 1, "conversation_id": 2, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"conversation_id does not match the utterance's conversation.","field":"conversation_id"}}



=== TEST 42: an admin naming a user_id that is not the utterance's user is 422
--- request
POST /errors
{"utterance_id": 1, "user_id": 2, "errors": [{"category": "a", "subcategory": "b"}]}
--- more_headers eval: ::admin_json()
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"user_id does not match the utterance's user.","field":"user_id"}}



=== TEST 43: the body's ids matching the token and the utterance (the walkthrough)
--- request
POST /errors
{"utterance_id": 1, "user_id": 1, "conversation_id": 1, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 44: an admin records on ann's utterance, with matching ids
--- request
POST /errors
{"utterance_id": 1, "user_id": 1, "conversation_id": 1, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::admin_json()
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 45: bob records on his own
--- request
POST /errors
{"utterance_id": 2, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::auth_json(2)
--- error_code: 202
--- response_body chomp
{"utterance_id":2,"recorded":1}



=== TEST 46: the admin's point counts for ann, not for root; bob has his own
--- redis
HGET social:err:u:1 'n["grammar","tense"]'
EXISTS social:err:u:3
HGET social:err:u:2 'n["grammar","tense"]'
LLEN social:err:rows
--- response_body
2
0
1
62



=== TEST 47: no token is 401, whatever the body
--- request
POST /errors
{"utterance_id": "x"
--- more_headers
Content-Type: application/json
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 48: GET is 405
--- request
GET /errors
--- more_headers eval: ::auth(1)
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like chomp
^\{"error":\{"code":"method_not_allowed",



=== TEST 49: a body that is not JSON by its type is 415
--- request
POST /errors
{}
--- more_headers eval: ::auth(1) . "\r\nContent-Type: text/plain"
--- error_code: 415
--- response_body_like chomp
^\{"error":\{"code":"unsupported_media_type",



=== TEST 50: invalid JSON is 400
--- request
POST /errors
{"utterance_id": 1,
--- more_headers eval: ::auth_json(1)
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"code":"invalid_json",



=== TEST 51: the refused requests wrote nothing; nothing is in PostgreSQL with the flush off
--- sql
SELECT count(*) FROM utterance_errors
SELECT count(*) FROM error_frequencies
--- redis
LLEN social:err:rows
--- response_body
0
0
62



=== TEST 52: Redis down: 503 with Retry-After (its one test more: the error log)
--- init
Social::social_service('stop-redis');
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like chomp
^\{"error":\{"code":"service_unavailable","message":"[^"]+ is down; try again shortly\."\}\}$
--- error_log
social: redis connect to
--- no_error_log
[crit]



=== TEST 53: Redis back: the points accepted before are all there (AOF)
--- init
Social::social_service("start-redis");
--- redis
LLEN social:err:rows
HGET social:err:u:1 'n["grammar","pronouns"]'
--- response_body
62
4



=== TEST 54: and recording works again
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body eval: $::Ok



=== TEST 55: bob deletes himself
--- request
DELETE /user/2
--- more_headers eval: ::auth(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 56: his pending counts are gone from Redis (his entry in the dirty set stays, for the cut to skip), ann's stay
--- init
select undef, undef, undef, 0.2;
--- redis
EXISTS social:err:u:2
SISMEMBER social:err:dirty 2
SISMEMBER social:err:dirty 1
HGET social:err:u:1 'n["grammar","tense"]'
--- response_body
0
1
1
3



=== TEST 57: both spellings of a field that differ only in case are one counter: accepted
--- request
POST /errors
{"utterance_id": 1, "errors": [{"category": "Grammar", "errorCategory": "grammar", "subcategory": "Tense", "errorSubCategory": "TENSE"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}



=== TEST 58: a conversation_id in the body that names no conversation is 404 with the field
--- request
POST /errors
{"utterance_id": 1, "conversation_id": 999999, "errors": [{"category": "Grammar", "subcategory": "Tense"}]}
--- more_headers eval: ::auth_json(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"conversation_id names nothing.","field":"conversation_id"}}



=== TEST 59: the latest 20 utterances with an error, newest first, each once: 25 new ones keep the newest 20; one among them again goes first; an older one again goes first and the oldest leaves
--- init
my @u = Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) SELECT 1, 1, 'u' || i FROM generate_series(1, 25) i RETURNING utterance_id");
my $point = sub {
    my ($status) = Social::social_http('POST', '/errors',
        qq~{"utterance_id": $_[0], "errors": [{"category": "Style", "subcategory": "Length"}]}~,
        ::auth_json(1));
    return $status;
};
my @status = map { $point->($_) } @u;
my $list = sub { ::redis('HGET', 'social:err:u:1', 'u["style","length"]') };
my $name = sub { join ',', map { my $id = $_; my ($i) = grep { $u[$_] eq $id } 0 .. $#u; defined $i ? 'u' . ($i + 1) : "?$id" } split /,/, $_[0] };
Social::social_result("statuses: " . join(',', sort { $a <=> $b } keys %{{ map { $_ => 1 } @status }}) . "\n");
Social::social_result($name->($list->()) . "\n");
$point->($u[9]);
Social::social_result($name->($list->()) . "\n");
$point->($u[2]);
Social::social_result($name->($list->()) . "\n");
--- response_body
statuses: 202
u25,u24,u23,u22,u21,u20,u19,u18,u17,u16,u15,u14,u13,u12,u11,u10,u9,u8,u7,u6
u10,u25,u24,u23,u22,u21,u20,u19,u18,u17,u16,u15,u14,u13,u12,u11,u9,u8,u7,u6
u3,u10,u25,u24,u23,u22,u21,u20,u19,u18,u17,u16,u15,u14,u13,u12,u11,u9,u8,u7



=== TEST 60: what JSON escapes in a category (a quote, a backslash, controls): the row and the count's key are the JSON yajl writes (\" \\ \u0001, upper case digits; "/", DEL and é as they are), and the row reads back as the texts sent
--- init
require JSON::PP;
my ($cat, $sub) = ("Quote \"x\" \\ / \x{e9}", "a\x{1}b\x{7f}c\x{1f}");
my $body = JSON::PP->new->ascii->encode(
    {utterance_id => 1, errors => [{category => $cat, subcategory => $sub}]});
my ($status) = Social::social_http('POST', '/errors', $body, ::auth_json(1));
my $row = ::redis(qw(LINDEX social:err:rows -1));
my $spelled = qq~"Quote \\"x\\" \\\\ / \xc3\xa9","a\\u0001b\x7fc\\u001F"~;
(my $key = $spelled) =~ s/Q/q/;
my $n = ::redis('HGET', 'social:err:u:1', "n[$key]");
my $s = ::redis('HGET', 'social:err:u:1', "s[$key]");
my $back = JSON::PP->new->utf8->decode($row);
Social::social_result("$status\n",
    ($row =~ /^\[1,1,\Q$spelled\E,\d{13},"[0-9a-f]{32}"\]$/
     ? "the row as yajl writes it" : "row: $row"), "\n",
    ($back->[2] eq $cat && $back->[3] eq $sub
     ? "the texts sent" : "read back: $back->[2] | $back->[3]"), "\n",
    "count $n, spelling ", ($s eq "[$spelled]" ? "as sent" : $s), "\n");
--- response_body
202
the row as yajl writes it
the texts sent
count 1, spelling as sent
