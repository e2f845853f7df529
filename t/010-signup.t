# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: signup with attributes only: a generated password, a token, a group
--- init
Social::social_reset();
--- request
POST /signup
{"attributes": ["Software", "Engineer", "Brussels"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers
Location: /user/1
--- response_body_like chomp
^\{"user_id":1,"group_id":1,"username":null,"email":null,"attributes":\["brussels","engineer","software"\],"role":"user","created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","password":"[A-Za-z0-9_-]{22}","token":"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 2: the original path POST /users/, username and email
--- request
POST /users/
{"username": "anant", "email": "anant.doe@example.com"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers
Location: /user/2
--- response_body_like chomp
^\{"user_id":2,"group_id":null,"username":"anant","email":"anant.doe@example.com","attributes":\[\],"role":"user","created_at":"[^"]+","password":"[A-Za-z0-9_-]{22}","token":"[^"]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 3: a password of the client is not echoed
--- request
POST /signup
{"username": "carol", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_headers
Location: /user/3
--- response_body_like chomp
^\{"user_id":3,"group_id":null,"username":"carol","email":null,"attributes":\[\],"role":"user","created_at":"[^"]+","token":"[^"]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 4: the password is stored as a salted scrypt hash, never as sent
--- sql
SELECT password_hash ~ '^scrypt[$]10[$]8[$]1[$][A-Za-z0-9+/]{22}==[$][A-Za-z0-9+/]{43}=$', position('horse' in password_hash) FROM users WHERE user_id = 3
--- response_body
t|0



=== TEST 5: an empty body is {}
--- request
POST /signup
--- error_code: 201
--- response_headers
Location: /user/4
--- response_body_like chomp
^\{"user_id":4,"group_id":null,"username":null,"email":null,"attributes":\[\],



=== TEST 6: attributes are normalised: trimmed, collapsed, lower-cased, deduplicated, sorted
--- request
POST /signup
{"attributes": ["  New   York ", "ZURICH", "zurich", "new york", "\tAlpha\n"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
"attributes":\["alpha","new york","zurich"\]



=== TEST 7: a username taken ignoring case is 409 naming the field
--- request
POST /signup
{"username": "ANANT"}
--- more_headers
Content-Type: application/json
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This username is taken.","field":"username"}}



=== TEST 8: an email taken ignoring case is 409 naming the field
--- request
POST /signup
{"email": "Anant.Doe@Example.COM"}
--- more_headers
Content-Type: application/json
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This email is taken.","field":"email"}}



=== TEST 9: attributes that are not an array
--- request
POST /signup
{"attributes": "software"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"attributes must be an array of strings.","field":"attributes"}}



=== TEST 10: an attribute that is not a string names its index
--- request
POST /signup
{"attributes": ["a", 2]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"attributes[1] must be a string.","field":"attributes[1]"}}



=== TEST 11: an attribute empty after trimming
--- request
POST /signup
{"attributes": ["a", "b", "   "]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"attributes\[2\]"



=== TEST 12: an attribute over 64 bytes
--- request eval
"POST /signup\n{\"attributes\": [\"" . ("x" x 65) . "\"]}"
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"attributes\[0\]"



=== TEST 13: 64 bytes is fine
--- request eval
"POST /signup\n{\"attributes\": [\"" . ("y" x 64) . "\"]}"
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
"attributes":\["y{64}"\]



=== TEST 14: more than 32 attributes
--- request eval
"POST /signup\n{\"attributes\": [" . CORE::join(",", map { "\"a$_\"" } 1 .. 33) . "]}"
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"attributes"



=== TEST 15: a username with a space
--- request
POST /signup
{"username": "an ant"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"username"



=== TEST 16: a username too short
--- request
POST /signup
{"username": "ab"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"username"



=== TEST 17: a username that is not a string
--- request
POST /signup
{"username": 12345}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"username"



=== TEST 18: an email without @
--- request
POST /signup
{"email": "anant.example.com"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"email"



=== TEST 19: an email with two @
--- request
POST /signup
{"email": "a@b@example.com"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"email"



=== TEST 20: a password under 8 bytes
--- request
POST /signup
{"password": "short"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"password"



=== TEST 21: a password over 128 bytes
--- request eval
"POST /signup\n{\"password\": \"" . ("p" x 129) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"password"



=== TEST 22: nothing was written by the refused signups
--- sql
SELECT count(*) FROM users
--- response_body
6



=== TEST 23: a body that is not JSON by its type
--- request
POST /signup
{"username": "dave"}
--- more_headers
Content-Type: text/plain
--- error_code: 415
--- response_body_like chomp
"unsupported_media_type"



=== TEST 24: only POST
--- request
GET /signup
--- response_headers
Allow: POST
--- error_code: 405
--- response_body_like chomp
"method_not_allowed"
