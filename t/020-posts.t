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

=== TEST 1: a post: 201 with its fields
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash, role) VALUES ('ann', 'x', 'user'), ('bob', 'x', 'user'), ('root', 'x', 'admin')");
--- request
POST /posts
{"content": "hello"}
--- more_headers eval
main::auth(1)
--- error_code: 201
--- response_body_like chomp
^\{"post_id":1,"author_id":1,"content":"hello","created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","like_count":0\}$



=== TEST 2: content is kept exactly as sent
--- request
POST /posts
{"content": "  two  spaces\n and a line "}
--- more_headers eval
main::auth(1)
--- error_code: 201
--- response_body_like chomp
^\{"post_id":2,"author_id":1,"content":"  two  spaces\\n and a line ",



=== TEST 3: 2000 characters are counted as code points
--- request eval
"POST /posts\n{\"content\": \"" . ("\xc3\xa9" x 2000) . "\"}"
--- more_headers eval
main::auth(1)
--- error_code: 201
--- response_body_like chomp
^\{"post_id":3,"author_id":1,"content":"(\xc3\xa9){2000}"



=== TEST 4: 2001 characters are 422
--- request eval
"POST /posts\n{\"content\": \"" . ("x" x 2001) . "\"}"
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must be 1 to 2000 characters long.","field":"content"}}



=== TEST 5: empty content is 422
--- request
POST /posts
{"content": ""}
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body_like chomp
"field":"content"



=== TEST 6: content that is only white space is 422
--- request
POST /posts
{"content": " \n\t "}
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content must not be only white space.","field":"content"}}



=== TEST 7: no content is 422
--- request
POST /posts
{}
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"content is required.","field":"content"}}



=== TEST 8: a NUL character is 422
--- request
POST /posts
{"content": "a\u0000b"}
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body_like chomp
"field":"content"



=== TEST 9: content that is not a string is 422
--- request
POST /posts
{"content": ["hello"]}
--- more_headers eval
main::auth(1)
--- error_code: 422
--- response_body_like chomp
"field":"content"



=== TEST 10: no token is 401
--- request
POST /posts
{"content": "hello"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 11: another user reads the post: like_count and liked_by_me
--- request
GET /posts/1
--- more_headers eval
main::auth(2)
--- response_body_like chomp
^\{"post_id":1,"author_id":1,"content":"hello","created_at":"[^"]+","like_count":0,"liked_by_me":false\}$



=== TEST 12: a like
--- request
PUT /posts/1/like
--- more_headers eval
main::auth(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 13: the same like again changes nothing
--- request
PUT /posts/1/like
--- more_headers eval
main::auth(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 14: one like, by the reader
--- request
GET /posts/1
--- more_headers eval
main::auth(2)
--- response_body_like chomp
"like_count":1,"liked_by_me":true\}$



=== TEST 15: and not by the author
--- request
GET /posts/1
--- more_headers eval
main::auth(1)
--- response_body_like chomp
"like_count":1,"liked_by_me":false\}$



=== TEST 16: unlike
--- request
DELETE /posts/1/like
--- more_headers eval
main::auth(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 17: unlike again changes nothing
--- request
DELETE /posts/1/like
--- more_headers eval
main::auth(2)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 18: no like left
--- request
GET /posts/1
--- more_headers eval
main::auth(2)
--- response_body_like chomp
"like_count":0,"liked_by_me":false\}$



=== TEST 19: an unknown post is 404
--- request
GET /posts/999
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 20: liking an unknown post is 404
--- request
PUT /posts/999/like
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 21: another user may not delete the post
--- request
DELETE /posts/1
--- more_headers eval
main::auth(2)
--- error_code: 403
--- response_body_like chomp
"forbidden"



=== TEST 22: an admin may
--- request
DELETE /posts/1
--- more_headers eval
main::auth(3, role => 'admin')
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 23: and the post is gone
--- request
GET /posts/1
--- more_headers eval
main::auth(1)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 24: the author deletes their own post
--- request
DELETE /posts/2
--- more_headers eval
main::auth(1)
--- error_code: 204
--- response_headers
!Content-Type
--- response_body



=== TEST 25: a block hides the post from the blocker
--- init
Social::social_http("PUT", "/user/1/block", undef, "Authorization: Bearer " . Social::social_token(2));
--- request
GET /posts/3
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 26: and from the blocked author's side: the blocker's user is 404
--- request
GET /user/2
--- more_headers eval
main::auth(1)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 27: the blocked author is 404 to the blocker
--- request
GET /user/1
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 28: liking across a block is 404
--- request
PUT /posts/3/like
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 29: the author still reads their own post
--- request
GET /posts/3
--- more_headers eval
main::auth(1)
--- response_body_like chomp
^\{"post_id":3,"author_id":1,



=== TEST 30: deleting the author deletes the posts
--- init
Social::social_http("DELETE", "/user/1", undef, "Authorization: Bearer " . Social::social_token(1));
--- sql
SELECT count(*) FROM posts
--- response_body
0
