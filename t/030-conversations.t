# vim:set ft= ts=4 sw=4 et fdm=marker:

# POST and GET /conversations, POST /utterances and
# GET /conversations/{id}/utterances of ../shared/API.md ("Language
# practice", "Administration and operations"), against the real module:
# the exact shapes, the original paths (/conversations/, /utterances/),
# who may do what, ids in a body that must match, every validation and the
# error order, newest-first paging, and the cascade of a deleted user.
#
# Users (made with SQL by TEST 1): 1 ann, 2 bob, 3 root (an admin), 4 cat.
# Conversations and utterances are made in order by the blocks below, so
# their ids are known: the comments of each block say which it makes.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

our $Time = '"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"';

# the headers of a request by user $id (options of social_token: role)
sub auth { return Social::social_auth(@_) }

sub auth_json { return Social::social_auth_json(@_) }

sub admin_json {
    return auth_json(3, role => 'admin');
}

sub conv_re {
    my ($cid, $uid) = @_;
    return qq~\\{"conversation_id":$cid,"user_id":$uid,"started_at":$Time\\}~;
}

sub utt_re {
    my ($id, $cid, $uid, $content) = @_;
    return qq~\\{"utterance_id":$id,"conversation_id":$cid,"user_id":$uid,~
           . qq~"content":"$content","created_at":$Time\\}~;
}

sub list_re {
    my ($key, $next, @items) = @_;
    return "^\\{\"$key\":\\[" . join(',', @items) . '\],"next":'
           . ($next ? '"[A-Za-z0-9_-]+"' : 'null') . '\}$';
}

# from an --- init: the "next" cursor of a list
sub cursor_of {
    my ($uri, $id) = @_;

    require JSON::PP;

    my ($status, $body) = Social::social_http('GET', $uri, undef, auth($id));
    my $list = eval { JSON::PP::decode_json($body) } || {};
    return $list->{next} // 'none';
}

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: a user starts a conversation with {} (conversation 1)
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('root', 'x', 'admin'), ('cat', 'x', 'user')");
--- request
POST /conversations
{}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::conv_re(1, 1) . '$'



=== TEST 2: through the original path, naming herself (conversation 2)
--- request
POST /conversations/
{"user_id": 1}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::conv_re(2, 1) . '$'



=== TEST 3: an empty body counts as {} (conversation 3, bob's)
--- request
POST /conversations
--- more_headers eval: ::auth(2)
--- error_code: 201
--- response_body_like eval: '^' . ::conv_re(3, 2) . '$'



=== TEST 4: a user may not start one for another user
--- request
POST /conversations
{"user_id": 2}
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 5: an admin starts one for cat (conversation 4)
--- request
POST /conversations
{"user_id": 4}
--- more_headers eval: ::admin_json()
--- error_code: 201
--- response_body_like eval: '^' . ::conv_re(4, 4) . '$'



=== TEST 6: an admin naming nobody is 404 with the field
--- request
POST /conversations
{"user_id": 999}
--- more_headers eval: ::admin_json()
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"user_id names nothing.","field":"user_id"}}



=== TEST 7: user_id of the wrong type is 422
--- request
POST /conversations
{"user_id": "1"}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"user_id must be an integer id from 1 to 2^63-1.","field":"user_id"}}



=== TEST 8: user_id 0 is 422
--- request
POST /conversations
{"user_id": 0}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 9: user_id beyond 2^63-1 is 422
--- request
POST /conversations
{"user_id": 9223372036854775808}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 10: no token is 401, whatever the body
--- request
POST /conversations
{"user_id": "x"
--- more_headers
Content-Type: application/json
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 11: a body that is not JSON is 400
--- request
POST /conversations
{"user_id": 1
--- more_headers eval: ::auth_json(1)
--- error_code: 400
--- response_body_like chomp
^\{"error":\{"code":"invalid_json",



=== TEST 12: a body that is not JSON by its type is 415
--- request
POST /conversations
{}
--- more_headers eval: ::auth(1) . "\r\nContent-Type: text/plain"
--- error_code: 415
--- response_body_like chomp
^\{"error":\{"code":"unsupported_media_type",



=== TEST 13: JSON that is not an object is 422
--- request
POST /conversations
[1]
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed",



=== TEST 14: DELETE is 405 with Allow
--- request
DELETE /conversations
--- more_headers eval: ::auth(1)
--- error_code: 405
--- response_headers
Allow: GET, HEAD, POST
--- response_body_like chomp
^\{"error":\{"code":"method_not_allowed",



=== TEST 15: GET /conversations: the reader's own, newest first
--- request
GET /conversations
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::list_re('conversations', 0, ::conv_re(2, 1), ::conv_re(1, 1))



=== TEST 16: GET /conversations: bob's only
--- request
GET /conversations
--- more_headers eval: ::auth(2)
--- response_body_like eval: ::list_re('conversations', 0, ::conv_re(3, 2))



=== TEST 17: GET /conversations/ (the original path) lists too
--- request
GET /conversations/
--- more_headers eval: ::auth(4)
--- response_body_like eval: ::list_re('conversations', 0, ::conv_re(4, 4))



=== TEST 18: an admin lists their own (none)
--- request
GET /conversations
--- more_headers eval: ::auth(3, role => 'admin')
--- response_body chomp
{"conversations":[],"next":null}



=== TEST 19: paging: a page of one has a next cursor
--- request
GET /conversations?limit=1
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::list_re('conversations', 1, ::conv_re(2, 1))



=== TEST 20: paging: the cursor of the first page is the last id of it
--- init
Social::social_result(::cursor_of("/conversations?limit=1", 1));
--- response_body eval: Social::social_cursor(2, 0)



=== TEST 21: paging: the cursor leads to the rest
--- request eval
"GET /conversations?limit=1&before=" . Social::social_cursor(2, 0)
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::list_re('conversations', 0, ::conv_re(1, 1))



=== TEST 22: a limit out of range is 422 naming it
--- request
GET /conversations?limit=101
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 23: a cursor the server did not issue is 422
--- request
GET /conversations?before=Yzo1OjA
--- more_headers eval: ::auth(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"before"\}\}$



=== TEST 24: ann says something in conversation 1 (utterance 1)
--- request
POST /utterances
{"conversation_id": 1, "content": "it is wrong not a sentence but is it."}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::utt_re(1, 1, 1, 'it is wrong not a sentence but is it\.') . '$'



=== TEST 25: through the original path, with her own user_id (utterance 2)
--- request
POST /utterances/
{"conversation_id": 1, "user_id": 1, "content": "  I goes home.  "}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::utt_re(2, 1, 1, '  I goes home\.  ') . '$'



=== TEST 26: content is kept exactly, unicode and escapes (utterance 3)
--- request
POST /utterances
{"conversation_id": 1, "content": "Ça va? \"oui\"\n\u00e9\u4e2d"}
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like eval: '^' . ::utt_re(3, 1, 1, 'Ça va\? \\\\"oui\\\\"\\\\né中') . '$'



=== TEST 27: 4000 characters (two bytes each) are accepted (utterance 4)
--- request eval
"POST /utterances\n" . '{"conversation_id": 1, "content": "' . ("\xc3\xa9" x 4000) . '"}'
--- more_headers eval: ::auth_json(1)
--- error_code: 201
--- response_body_like chomp
^\{"utterance_id":4,"conversation_id":1,"user_id":1,"content":"(é){4000}",



=== TEST 28: 4001 characters are 422
--- request eval
"POST /utterances\n" . '{"conversation_id": 1, "content": "' . ("a" x 4001) . '"}'
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must be 1 to 4000 characters long.","field":"content"}}



=== TEST 29: empty content is 422
--- request
POST /utterances
{"conversation_id": 1, "content": ""}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"content"\}\}$



=== TEST 30: content that is only white space is 422
--- request
POST /utterances
{"conversation_id": 1, "content": " \t\n "}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must not be only white space.","field":"content"}}



=== TEST 31: a NUL in content is 422
--- request
POST /utterances
{"conversation_id": 1, "content": "a\u0000b"}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must not contain NUL.","field":"content"}}



=== TEST 32: content that is not a string is 422
--- request
POST /utterances
{"conversation_id": 1, "content": 5}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must be a string.","field":"content"}}



=== TEST 33: no content is 422
--- request
POST /utterances
{"conversation_id": 1}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content is required.","field":"content"}}



=== TEST 34: no conversation_id is 422
--- request
POST /utterances
{"content": "hello"}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"conversation_id is required.","field":"conversation_id"}}



=== TEST 35: conversation_id as a string is 422
--- request
POST /utterances
{"conversation_id": "1", "content": "hello"}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"conversation_id"\}\}$



=== TEST 36: a user_id that is not an id is 422
--- request
POST /utterances
{"conversation_id": 1, "content": "hello", "user_id": 1.5}
--- more_headers eval: ::auth_json(1)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"user_id"\}\}$



=== TEST 37: an unknown conversation is 404 naming the field
--- request
POST /utterances
{"conversation_id": 999, "content": "hello"}
--- more_headers eval: ::auth_json(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"conversation_id names nothing.","field":"conversation_id"}}



=== TEST 38: bob may not speak in ann's conversation
--- request
POST /utterances
{"conversation_id": 1, "content": "hello"}
--- more_headers eval: ::auth_json(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 39: ann naming bob as the user_id is 403, not silently used
--- request
POST /utterances
{"conversation_id": 1, "user_id": 2, "content": "hello"}
--- more_headers eval: ::auth_json(1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 40: the conversation's user only: an admin may not speak in ann's
--- request
POST /utterances
{"conversation_id": 1, "content": "hello"}
--- more_headers eval: ::admin_json()
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 41: root starts a conversation (5) for themself
--- request
POST /conversations
{}
--- more_headers eval: ::admin_json()
--- error_code: 201
--- response_body_like eval: '^' . ::conv_re(5, 3) . '$'



=== TEST 42: in their own conversation, an admin naming another user_id is 422
--- request
POST /utterances
{"conversation_id": 5, "user_id": 1, "content": "hello"}
--- more_headers eval: ::admin_json()
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"user_id does not match the conversation's user.","field":"user_id"}}



=== TEST 43: error order: an invalid body from a user who may not is 422
--- request
POST /utterances
{"conversation_id": 1, "content": ""}
--- more_headers eval: ::auth_json(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"content"\}\}$



=== TEST 44: error order: no token before everything
--- request
POST /utterances
{"conversation_id": "x"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 45: GET is 405 on /utterances
--- request
GET /utterances
--- more_headers eval: ::auth(1)
--- error_code: 405
--- response_headers
Allow: POST
--- response_body_like chomp
^\{"error":\{"code":"method_not_allowed",



=== TEST 46: the refused requests made nothing
--- sql
SELECT count(*) FROM utterances
SELECT count(*) FROM conversations
--- response_body
4
5



=== TEST 47: GET /conversations/1/utterances: newest first, as stored
--- request
GET /conversations/1/utterances?limit=3
--- more_headers eval: ::auth(1)
--- response_body_like eval: '^\{"utterances":\[\{"utterance_id":4,.*\},' . ::utt_re(3, 1, 1, 'Ça va\? \\\\"oui\\\\"\\\\né中') . ',' . ::utt_re(2, 1, 1, '  I goes home\.  ') . '\],"next":"[A-Za-z0-9_-]+"\}$'



=== TEST 48: the cursor of that page is its last utterance id
--- init
Social::social_result(::cursor_of("/conversations/1/utterances?limit=3", 1));
--- response_body eval: Social::social_cursor(2, 0)



=== TEST 49: the next page holds the first utterance only
--- request eval
"GET /conversations/1/utterances?limit=3&before=" . Social::social_cursor(2, 0)
--- more_headers eval: ::auth(1)
--- response_body_like eval: ::list_re('utterances', 0, ::utt_re(1, 1, 1, 'it is wrong not a sentence but is it\.'))



=== TEST 50: another user may not read them
--- request
GET /conversations/1/utterances
--- more_headers eval: ::auth(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 51: an admin may
--- request
GET /conversations/1/utterances?limit=1
--- more_headers eval: ::auth(3, role => 'admin')
--- response_body_like eval: '^\{"utterances":\[\{"utterance_id":4,"conversation_id":1,"user_id":1,"content":"(é){4000}","created_at":' . $::Time . '\}\],"next":"[A-Za-z0-9_-]+"\}$'



=== TEST 52: a conversation without utterances is an empty list
--- request
GET /conversations/3/utterances
--- more_headers eval: ::auth(2)
--- response_body chomp
{"utterances":[],"next":null}



=== TEST 53: an unknown conversation is 404
--- request
GET /conversations/999/utterances
--- more_headers eval: ::auth(1)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 54: an id out of range in the path is 404
--- request
GET /conversations/9223372036854775808/utterances
--- more_headers eval: ::auth(1)
--- error_code: 404
--- response_body_like chomp
^\{"error":\{"code":"not_found",



=== TEST 55: a limit out of range is 422 (before 403 and 404)
--- request
GET /conversations/999/utterances?limit=0
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"[^"]+","field":"limit"\}\}$



=== TEST 56: no token is 401
--- request
GET /conversations/1/utterances
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 57: ann deletes herself
--- request
DELETE /user/1
--- more_headers eval: ::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 58: her conversations and utterances went with her, the others stay
--- sql
SELECT count(*) FROM utterances WHERE user_id = 1
SELECT count(*) FROM conversations WHERE user_id = 1
SELECT string_agg(conversation_id::text, ',' ORDER BY conversation_id) FROM conversations
--- response_body
0
0
3,4,5



=== TEST 59: and her conversation is gone for an admin too
--- request
GET /conversations/1/utterances
--- more_headers eval: ::auth(3, role => 'admin')
--- error_code: 404
--- response_body_like chomp
^\{"error":\{"code":"not_found",
