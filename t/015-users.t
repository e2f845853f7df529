# vim:set ft= ts=4 sw=4 et fdm=marker:

# GET, PUT and DELETE /user/{id} and PUT /user/{id}/role of
# ../shared/API.md ("Identity and groups"), against the real module,
# PostgreSQL and Redis: who may do what, conflicts, validation, password
# changes and the tokens they revoke, the cascade of a deletion, roles, and
# the error order.
#
# Every block restarts nginx on the same database, emptied by the first
# block: user 1 is "root", an admin made with SQL; the signups of TEST 1-4
# make alice (2) and bob (3) in group 1, carol (4) in group 2 and user 5,
# nameless and in no group.  Tokens are minted with the test key
# (Social::social_token) for the generation each user is at.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

# the headers of a request by user $id with a valid token of theirs
# (social_token's options: role => 'admin', gen => N)
sub auth {
    my $id = shift;
    return "Authorization: Bearer " . Social::social_token($id, @_)
           . "\nContent-Type: application/json";
}

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: alice signs up (user 2, group 1)
--- init
Social::social_reset();
Social::social_sql(q{INSERT INTO users (username, email, role, password_hash) VALUES ('root', 'root@example.com', 'admin', 'hmac$x')});
--- request
POST /signup
{"username": "alice", "email": "alice@example.com", "password": "alice-pass-1", "attributes": ["Chess", "Reading"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"alice","email":"alice@example.com",



=== TEST 2: bob signs up (user 3, group 1)
--- request
POST /signup
{"username": "bob", "email": "bob@example.com", "password": "bob-pass-1", "attributes": ["reading", "chess"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":1,"username":"bob","email":"bob@example.com",



=== TEST 3: carol signs up (user 4, group 2)
--- request
POST /signup
{"username": "carol", "email": "carol@example.com", "password": "carol-pass-1", "attributes": ["go"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"carol","email":"carol@example.com",



=== TEST 4: a nameless user in no group (user 5)
--- request
POST /signup
{}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":null,"username":null,"email":null,



=== TEST 5: GET /user: the user sees their own email
--- request
GET /user/2
--- more_headers eval: ::auth(2)
--- response_body_like chomp
^\{"user_id":2,"username":"alice","email":"alice@example.com","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","followers":0,"following":0,"posts":0\}$



=== TEST 6: GET /user: another user does not see the email
--- request
GET /user/2
--- more_headers eval: ::auth(4)
--- response_body_like chomp
^\{"user_id":2,"username":"alice","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","followers":0,"following":0,"posts":0\}$



=== TEST 7: GET /user: nor does a member of the same group
--- request
GET /user/2
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":2,"username":"alice","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 8: GET /user: an admin sees the email
--- request
GET /user/2
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":2,"username":"alice","email":"alice@example.com","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 9: GET /user: no username, no email, no attributes, no group
--- request
GET /user/5
--- more_headers eval: ::auth(5)
--- response_body_like chomp
^\{"user_id":5,"username":null,"email":null,"attributes":\[\],"group_id":null,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 10: GET /user: an admin's role is shown
--- request
GET /user/1
--- more_headers eval: ::auth(2)
--- response_body_like chomp
^\{"user_id":1,"username":"root","attributes":\[\],"group_id":null,"role":"admin","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 11: GET /user: an unknown id is 404
--- request
GET /user/999
--- more_headers eval: ::auth(2)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 12: GET /user: an id far out of range in the path is 404
--- request
GET /user/99999999999999999999
--- more_headers eval: ::auth(2)
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 13: GET /user: 2^63 in the path is 404
--- request
GET /user/9223372036854775808
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 14: GET /user: 0 in the path is 404
--- request
GET /user/0
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 15: GET /user: no token is 401
--- request
GET /user/2
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 16: PUT /user: the user changes their username (no token: the password did not change)
--- request
PUT /user/2
{"username": "alice2"}
--- more_headers eval: ::auth(2)
--- response_body_like chomp
^\{"user_id":2,"username":"alice2","email":"alice@example.com","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 17: PUT /user: another user may not, even of the same group
--- request
PUT /user/2
{"username": "mallory"}
--- more_headers eval: ::auth(3)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 18: PUT /user: the refused change changed nothing
--- sql
SELECT username FROM users WHERE user_id = 2
--- response_body
alice2



=== TEST 19: PUT /user: an admin changes username and email
--- request
PUT /user/2
{"username": "alice", "email": "alice@example.org"}
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":2,"username":"alice","email":"alice@example.org","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 20: PUT /user: an unknown user, for an admin, is 404
--- request
PUT /user/999
{"username": "ghost"}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 21: PUT /user: an unknown user, for a user, is 403 (403 comes before 404)
--- request
PUT /user/999
{"username": "ghost"}
--- more_headers eval: ::auth(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 22: PUT /user: an id out of range in the path is 404
--- request
PUT /user/99999999999999999999
{"username": "ghost"}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 23: PUT /user: a username taken ignoring case is 409 naming the field
--- request
PUT /user/2
{"username": "BOB"}
--- more_headers eval: ::auth(2)
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This username is taken.","field":"username"}}



=== TEST 24: PUT /user: an email taken ignoring case is 409 naming the field
--- request
PUT /user/2
{"email": "Carol@EXAMPLE.com"}
--- more_headers eval: ::auth(2)
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This email is taken.","field":"email"}}



=== TEST 25: PUT /user: a free username with a taken email is 409 on the email
--- request
PUT /user/2
{"username": "alicia", "email": "BOB@example.com"}
--- more_headers eval: ::auth(2)
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This email is taken.","field":"email"}}



=== TEST 26: PUT /user: and the free username was not taken either
--- sql
SELECT username || ' ' || email FROM users WHERE user_id = 2
--- response_body
alice alice@example.org



=== TEST 27: PUT /user: one's own username and email in another case are no conflict
--- request
PUT /user/2
{"username": "ALICE", "email": "ALICE@example.org"}
--- more_headers eval: ::auth(2)
--- response_body_like chomp
^\{"user_id":2,"username":"ALICE","email":"ALICE@example.org","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 28: PUT /user: a username too short is 422
--- request
PUT /user/2
{"username": "al"}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"username"\}\}$



=== TEST 29: PUT /user: a username with a space is 422
--- request
PUT /user/2
{"username": "al ice"}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"username"\}\}$



=== TEST 30: PUT /user: a username that is not a string is 422
--- request
PUT /user/2
{"username": 12345}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"username"\}\}$



=== TEST 31: PUT /user: an email without @ is 422
--- request
PUT /user/2
{"email": "alice.example.org"}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"email"\}\}$



=== TEST 32: PUT /user: an attribute that is not a string names its index
--- request
PUT /user/2
{"attributes": ["ok", 5]}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"attributes[1] must be a string.","field":"attributes[1]"}}



=== TEST 33: PUT /user: attributes that are not an array are 422
--- request
PUT /user/2
{"attributes": "chess"}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"attributes"\}\}$



=== TEST 34: PUT /user: a password under 8 bytes is 422
--- request
PUT /user/2
{"password": "short", "current_password": "alice-pass-1"}
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"password"\}\}$



=== TEST 35: PUT /user: a body that is not an object is 422
--- request
PUT /user/2
[1, 2]
--- more_headers eval: ::auth(2)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"The request body must be a JSON object."}}



=== TEST 36: PUT /user: a body that is not JSON is 400
--- request
PUT /user/2
{"username":
--- more_headers eval: ::auth(2)
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"The request body is not valid UTF-8 JSON."}}



=== TEST 37: PUT /user: the refused bodies changed nothing
--- sql
SELECT username || ' ' || email || ' ' || attributes::text || ' ' || group_id || ' ' || token_gen FROM users WHERE user_id = 2
--- response_body
ALICE ALICE@example.org {chess,reading} 1 0



=== TEST 38: password: a change without current_password is 422
--- request
PUT /user/3
{"password": "bob-pass-2"}
--- more_headers eval: ::auth(3)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"current_password"\}\}$



=== TEST 39: password: a wrong current_password is 403
--- request
PUT /user/3
{"password": "bob-pass-2", "current_password": "wrong-pass-0", "username": "bobby"}
--- more_headers eval: ::auth(3)
--- error_code: 403
--- response_body_like chomp
^\{"error":\{"code":"forbidden","message":"(?:[^"\\]|\\.)+"(,"field":"current_password")?\}\}$



=== TEST 40: password: and changed nothing
--- sql
SELECT username || ' ' || token_gen FROM users WHERE user_id = 3
--- response_body
bob 0



=== TEST 41: password: changed with the right current_password; the answer carries a fresh token
--- request
PUT /user/3
{"password": "bob-pass-2", "current_password": "bob-pass-1", "username": "bobby"}
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":3,"username":"bobby","email":"bob@example.com","attributes":\["chess","reading"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+,"token":"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 42: password: the token from before the change answers 401
--- request
GET /user/3
--- more_headers eval: ::auth(3)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 43: password: a token of the new generation works
--- request
GET /user/3
--- more_headers eval: ::auth(3, gen => 1)
--- response_body_like chomp
^\{"user_id":3,"username":"bobby","email":"bob@example.com",



=== TEST 44: password: the new password signs in
--- request
POST /signin
{"user_id": 3, "password": "bob-pass-2"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":3,"token":"[^"]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 45: password: the old one does not
--- request
POST /signin
{"user_id": 3, "password": "bob-pass-1"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}



=== TEST 46: password: the fresh token of the answer works, the one sent with the change no longer
--- init
my ($put, $body) = Social::social_http("PUT", "/user/4", '{"password": "carol-pass-2", "current_password": "carol-pass-1"}', "Authorization: Bearer " . Social::social_token(4));
my ($token) = $body =~ /"token":"([^"]+)"/;
my ($fresh) = Social::social_http("GET", "/user/4", undef, "Authorization: Bearer " . ($token // 'none'));
my ($old) = Social::social_http("GET", "/user/4", undef, "Authorization: Bearer " . Social::social_token(4));
Social::social_result("PUT $put, fresh token $fresh, old token $old\n");
--- response_body
PUT 200, fresh token 200, old token 401



=== TEST 47: password: an admin changes it without current_password
--- request
PUT /user/4
{"password": "carol-pass-3"}
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":4,"username":"carol","email":"carol@example.com","attributes":\["go"\],"group_id":2,"role":"user","created_at":"[^"]+"[,}]



=== TEST 48: password: carol's token from before the admin's change answers 401
--- request
GET /user/4
--- more_headers eval: ::auth(4, gen => 1)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 49: password: the password the admin set signs in
--- request
POST /signin
{"username": "carol", "password": "carol-pass-3"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":4,"token":"[^"]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 50: password: carol's own earlier one does not
--- request
POST /signin
{"username": "carol", "password": "carol-pass-2"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}



=== TEST 51: error order: a body that is not JSON and no token is 401
--- request
PUT /user/2
{"username":
--- more_headers
Content-Type: application/json
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 52: error order: an invalid body and no token is 401
--- request
PUT /user/2
{"username": "x"}
--- more_headers
Content-Type: application/json
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 53: error order: an invalid body from a user who may not change this user is 422, not 403
--- request
PUT /user/2
{"username": "x"}
--- more_headers eval: ::auth(5)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"username"\}\}$



=== TEST 54: error order: an invalid body for an id out of range is 422, not 404
--- request
PUT /user/99999999999999999999
{"email": "nope"}
--- more_headers eval: ::auth(5)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"email"\}\}$



=== TEST 55: error order: a body that is not JSON by its type is 415, not 403
--- request
PUT /user/2
{"username": "mallory"}
--- more_headers eval: "Authorization: Bearer " . Social::social_token(5) . "\nContent-Type: text/plain"
--- error_code: 415
--- response_body chomp
{"error":{"code":"unsupported_media_type","message":"The request body must be application/json."}}



=== TEST 56: error order: a valid body from a user who may not is 403
--- request
PUT /user/2
{}
--- more_headers eval: ::auth(5)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 57: role: a user may not set a role
--- request
PUT /user/5/role
{"role": "admin"}
--- more_headers eval: ::auth(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 58: role: not even their own
--- request
PUT /user/5/role
{"role": "admin"}
--- more_headers eval: ::auth(5)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 59: role: an unknown role is 422
--- request
PUT /user/5/role
{"role": "root"}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"role"\}\}$



=== TEST 60: role: roles are spelt in lower case
--- request
PUT /user/5/role
{"role": "ADMIN"}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"role"\}\}$



=== TEST 61: role: no role is 422
--- request
PUT /user/5/role
{}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"role"\}\}$



=== TEST 62: role: an invalid role from a user is 422 before 403
--- request
PUT /user/5/role
{"role": "root"}
--- more_headers eval: ::auth(5)
--- error_code: 422
--- response_body_like chomp
^\{"error":\{"code":"validation_failed","message":"(?:[^"\\]|\\.)+","field":"role"\}\}$



=== TEST 63: role: an unknown user is 404
--- request
PUT /user/999/role
{"role": "user"}
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 64: role: only PUT
--- request
GET /user/5/role
--- more_headers eval: ::auth(1, role => 'admin')
--- response_headers
Allow: PUT
--- error_code: 405
--- response_body chomp
{"error":{"code":"method_not_allowed","message":"This method is not allowed here."}}



=== TEST 65: role: an admin makes user 5 an admin: 200 with the user object
--- request
PUT /user/5/role
{"role": "admin"}
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":5,"username":null,"email":null,"attributes":\[\],"group_id":null,"role":"admin","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 66: role: user 5's token from before answers 401
--- request
GET /user/5
--- more_headers eval: ::auth(5)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 67: role: with a token of the new generation, user 5 reads as an admin
--- request
GET /user/2
--- more_headers eval: ::auth(5, role => 'admin', gen => 1)
--- response_body_like chomp
^\{"user_id":2,"username":"ALICE","email":"ALICE@example.org",



=== TEST 68: role: and back to user
--- request
PUT /user/5/role
{"role": "user"}
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":5,"username":null,"email":null,"attributes":\[\],"group_id":null,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 69: role: the admin token of user 5 answers 401
--- request
GET /user/2
--- more_headers eval: ::auth(5, role => 'admin', gen => 1)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 70: role: the role as stored
--- sql
SELECT role || ' ' || token_gen FROM users WHERE user_id = 5
--- response_body
user 2



=== TEST 71: DELETE /user: another user may not
--- request
DELETE /user/2
--- more_headers eval: ::auth(4, gen => 2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 72: DELETE /user: an unknown user, for an admin, is 404
--- request
DELETE /user/999
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 73: DELETE /user: an unknown user, for a user, is 403
--- request
DELETE /user/999
--- more_headers eval: ::auth(3, gen => 1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 74: DELETE /user: an id out of range in the path is 404
--- request
DELETE /user/99999999999999999999
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 75: DELETE /user: no token is 401
--- request
DELETE /user/2
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 76: DELETE /user: nothing was deleted so far
--- sql
SELECT string_agg(user_id::text, ',' ORDER BY user_id) FROM users
--- response_body
1,2,3,4,5



=== TEST 77: DELETE /user: the user deletes themself: 204
--- request
DELETE /user/2
--- more_headers eval: ::auth(2)
--- response_headers
!Content-Type
--- error_code: 204
--- response_body



=== TEST 78: DELETE /user: gone, and group 1 is one smaller
--- sql
SELECT (SELECT count(*) FROM users WHERE user_id = 2) || ' ' || (SELECT size FROM groups WHERE group_id = 1)
--- response_body
0 1



=== TEST 79: DELETE /user: the deleted user's token answers 401
--- request
GET /user/3
--- more_headers eval: ::auth(2)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 80: DELETE /user: the deleted user is 404
--- request
GET /user/2
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 81: DELETE /user: the group shows one member, size 1
--- request
GET /group/3
--- more_headers eval: ::auth(3, gen => 1)
--- response_body chomp
{"group_id":1,"attributes":["chess","reading"],"size":1,"members":[{"user_id":3,"username":"bobby","attributes":["chess","reading"]}]}



=== TEST 82: DELETE /user: an admin deletes carol, alone in group 2: 204
--- request
DELETE /user/4
--- more_headers eval: ::auth(1, role => 'admin')
--- response_headers
!Content-Type
--- error_code: 204
--- response_body



=== TEST 83: DELETE /user: group 2, left empty, is removed
--- sql
SELECT string_agg(group_id || ':' || size, ' ' ORDER BY group_id) FROM groups
--- response_body
1:1



=== TEST 84: DELETE /user: carol's token answers 401
--- request
GET /user/3
--- more_headers eval: ::auth(4, gen => 2)
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 85: DELETE /user: deleting her again is 404
--- request
DELETE /user/4
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 86: DELETE /user: the last member of group 1 deletes themself
--- request
DELETE /user/3
--- more_headers eval: ::auth(3, gen => 1)
--- response_headers
!Content-Type
--- error_code: 204
--- response_body



=== TEST 87: DELETE /user: no group is left, only root and user 5
--- sql
SELECT (SELECT count(*) FROM groups) || ' ' || (SELECT string_agg(user_id::text, ',' ORDER BY user_id) FROM users)
--- response_body
0 1,5



=== TEST 88: DELETE /user: the name and email are free again; a new group, not an old id
--- request
POST /signup
{"username": "bobby", "email": "bob@example.com", "attributes": ["chess", "reading"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":6,"group_id":3,"username":"bobby","email":"bob@example.com",
