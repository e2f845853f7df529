# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

sub auth {
    my ($id, %o) = @_;
    return "Content-Type: application/json\r\nAuthorization: Bearer "
           . Social::social_token($id, %o);
}

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: follow
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('ann', 'x'), ('bob', 'x'), ('cat', 'x')");
--- request
PUT /user/2/follow
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 2: following again changes nothing
--- request
PUT /user/2/follow
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 3: one follow, one follow event
--- sql
SELECT (SELECT count(*) FROM follows) || ' ' || (SELECT count(*) FROM events WHERE type = 'follow')
--- response_body
1 1



=== TEST 4: following oneself is 422
--- request
PUT /user/1/follow
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body_like chomp
"validation_failed"



=== TEST 5: following an unknown user is 404
--- request
PUT /user/99/follow
--- more_headers eval
main::auth(1)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 6: unfollow
--- request
DELETE /user/2/follow
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 7: unfollowing again changes nothing
--- request
DELETE /user/2/follow
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 8: no follow left, no follow event
--- sql
SELECT (SELECT count(*) FROM follows) || ' ' || (SELECT count(*) FROM events WHERE type = 'follow')
--- response_body
0 0



=== TEST 9: a block removes the follows both ways
--- init
Social::social_http("PUT", "/user/3/follow", undef, "Authorization: Bearer " . Social::social_token(1));
Social::social_http("PUT", "/user/1/follow", undef, "Authorization: Bearer " . Social::social_token(3));
--- request
PUT /user/3/block
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 10: nothing follows across the block
--- sql
SELECT count(*) FROM follows WHERE 3 IN (follower_id, followed_id)
--- response_body
0



=== TEST 11: blocking again changes nothing
--- request
PUT /user/3/block
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 12: the blocked user cannot follow the blocker: 403
--- request
PUT /user/1/follow
--- more_headers eval
main::auth(3)
--- error_code: 403
--- response_body_like chomp
"forbidden"



=== TEST 13: nor the blocker the blocked user
--- request
PUT /user/3/follow
--- more_headers eval
main::auth(1)
--- error_code: 403
--- response_body_like chomp
"forbidden"



=== TEST 14: blocking oneself is 422
--- request
PUT /user/1/block
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body_like chomp
"validation_failed"



=== TEST 15: blocking an unknown user is 404
--- request
PUT /user/99/block
--- more_headers eval
main::auth(1)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 16: unblock
--- request
DELETE /user/3/block
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 17: and following works again
--- request
PUT /user/1/follow
--- more_headers eval
main::auth(3)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 18: only PUT and DELETE
--- request
GET /user/2/follow
--- more_headers eval
main::auth(1)
--- response_headers
Allow: PUT, DELETE
--- error_code: 405
--- response_body_like chomp
"method_not_allowed"



=== TEST 19: no token is 401
--- request
PUT /user/2/follow
--- error_code: 401
--- response_body_like chomp
"unauthorized"
