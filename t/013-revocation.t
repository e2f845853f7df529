# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

# 4 tests a block; TEST 20 checks a line of the log more, TEST 22 a header
# and a line of the log more
plan tests => repeat_each() * (4 * blocks() + 3);

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: a user, and an admin
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, role, password_hash) VALUES ('boss', 'admin', 'x')");
--- request
POST /signup
{"username": "anant", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,



=== TEST 2: the token works
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2)
--- response_body_like chomp
^\{"user_id":2,



=== TEST 3: sign out
--- request
POST /signout
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 4: the token signed out no longer works
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 5: and the new generation is what Redis tells every node
--- init
Social::social_sql_file("gen", "SELECT token_gen FROM users WHERE user_id = 2");
--- request
GET /gen.txt
--- response_headers
Content-Type: text/plain
--- response_body
1



=== TEST 6: a token of the current generation works
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 1)
--- response_body_like chomp
^\{"user_id":2,



=== TEST 7: another node with its own memory learns it from Redis
--- config eval: $Social::Locations . "\n    location = /x { return 204; }\n"
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 8: even when Redis lost it, PostgreSQL knows
--- init
system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} FLUSHALL >/dev/null");
--- config eval: $Social::Locations . "\n    location = /y { return 204; }\n"
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 9: changing the password needs the current one
--- request
PUT /user/2
{"password": "a new password"}
--- more_headers eval
"Content-Type: application/json\r\nAuthorization: Bearer " . Social::social_token(2, gen => 1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"current_password is required to change the password.","field":"current_password"}}



=== TEST 10: a wrong current password is 403
--- request
PUT /user/2
{"password": "a new password", "current_password": "wrong horse battery"}
--- more_headers eval
"Content-Type: application/json\r\nAuthorization: Bearer " . Social::social_token(2, gen => 1)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"current_password does not match.","field":"current_password"}}



=== TEST 11: a password change answers with a fresh token
--- request
PUT /user/2
{"password": "a new password", "current_password": "correct horse battery"}
--- more_headers eval
"Content-Type: application/json\r\nAuthorization: Bearer " . Social::social_token(2, gen => 1)
--- response_body_like chomp
^\{"user_id":2,"username":"anant","email":null,.*"token":"[^"]+","token_type":"Bearer","expires_in":3600\}$



=== TEST 12: and the older tokens stop working
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 1)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 13: the new password signs in, the old one not
--- request
POST /signin
{"user_id": 2, "password": "a new password"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":2,"token":



=== TEST 14: an admin changes a role
--- request
PUT /user/2/role
{"role": "admin"}
--- more_headers eval
"Content-Type: application/json\r\nAuthorization: Bearer " . Social::social_token(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":2,"username":"anant","email":null,"attributes":\[\],"group_id":null,"role":"admin","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 15: which revokes the user's older tokens
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 2)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 16: the user signs in again and is an admin
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 3, role => 'admin')
--- response_body_like chomp
^\{"user_id":1,"username":"boss","email":null,



=== TEST 17: deleting the user
--- request
DELETE /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 3, role => 'admin')
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 18: revokes their tokens
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 3, role => 'admin')
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 19: also on a node that did not see the delete
--- config eval: $Social::Locations . "\n    location = /z { return 204; }\n"
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 3, role => 'admin')
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 20: after Redis forgot its scripts, signing out still publishes (EVALSHA, then EVAL on NOSCRIPT)
--- init
Social::social_sql("INSERT INTO users (username, role, password_hash) VALUES ('cleo', 'user', 'x')");
Social::social_redis("SET", "social:gen:3", "0");
Social::social_redis("SCRIPT", "FLUSH");
--- request
POST /signout
--- more_headers eval
"Authorization: Bearer " . Social::social_token(3)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body
--- error_log
social redis: NOSCRIPT, sending the script again with EVAL



=== TEST 21: which every node finds in Redis
--- init
my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
open my $out, '>', "$root/html/gen.txt" or die "gen.txt: $!\n";
print $out Social::social_redis("GET", "social:gen:3"), "\n";
close $out;
--- request
GET /gen.txt
--- response_headers
Content-Type: text/plain
--- response_body
1



=== TEST 22: Redis down: the token check answers 503 with Retry-After, it does not guess
--- init
Social::social_sql("INSERT INTO users (username, role, password_hash) VALUES ('dora', 'user', 'x')");
Social::social_service("stop-redis");
--- request
GET /user/4
--- more_headers eval
"Authorization: Bearer " . Social::social_token(4)
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body chomp
{"error":{"code":"service_unavailable","message":"The token check is down; try again shortly."}}
--- error_log
social: redis connect to
--- no_error_log
[alert]



=== TEST 23: Redis back: the same token works again
--- init
Social::social_service("start-redis");
sleep 2.2;
--- request
GET /user/4
--- more_headers eval
"Authorization: Bearer " . Social::social_token(4)
--- response_body_like chomp
^\{"user_id":4,"username":"dora",
