# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

sub auth { return Social::social_auth(@_) }

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: the counts of GET /user
--- init
Social::social_reset();
Social::social_sql(q{
    INSERT INTO users (username, password_hash)
    VALUES ('ann', 'x'), ('bob', 'x'), ('cat', 'x'), ('dan', 'x');
    INSERT INTO posts (author_id, content)
    VALUES (1, 'one'), (1, 'two'), (1, 'three'), (2, 'bob''s');
    INSERT INTO follows (follower_id, followed_id, created_at)
    VALUES (2, 1, now() - interval '2 minutes'),
           (3, 1, now() - interval '1 minute'),
           (4, 1, now()),
           (1, 2, now())});
--- request
GET /user/1
--- more_headers eval
main::auth(2)
--- response_body_like chomp
"followers":3,"following":1,"posts":3\}$



=== TEST 2: a user's posts, newest first, a page
--- request
GET /user/1/posts?limit=2
--- more_headers eval
main::auth(2)
--- response_body_like chomp
^\{"posts":\[\{"post_id":3,"author_id":1,"content":"three",[^]]*\},\{"post_id":2,"author_id":1,"content":"two",[^]]*\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 3: the next page from the cursor
--- request eval
"GET /user/1/posts?limit=2&before=" . Social::social_cursor(2, 0)
--- more_headers eval
main::auth(2)
--- response_body_like chomp
^\{"posts":\[\{"post_id":1,"author_id":1,"content":"one",[^]]*\}\],"next":null\}$



=== TEST 4: followers, newest first
--- request
GET /user/1/followers
--- more_headers eval
main::auth(2)
--- response_body chomp
{"followers":[{"user_id":4,"username":"dan"},{"user_id":3,"username":"cat"},{"user_id":2,"username":"bob"}],"next":null}



=== TEST 5: followers in pages
--- request
GET /user/1/followers?limit=2
--- more_headers eval
main::auth(2)
--- response_body_like chomp
^\{"followers":\[\{"user_id":4,"username":"dan"\},\{"user_id":3,"username":"cat"\}\],"next":"[A-Za-z0-9_-]+"\}$



=== TEST 6: following
--- request
GET /user/1/following
--- more_headers eval
main::auth(2)
--- response_body chomp
{"following":[{"user_id":2,"username":"bob"}],"next":null}



=== TEST 7: a user in a block with the reader is left out of the lists
--- init
Social::social_sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES (3, 2)");
--- request
GET /user/1/followers
--- more_headers eval
main::auth(2)
--- response_body chomp
{"followers":[{"user_id":4,"username":"dan"},{"user_id":2,"username":"bob"}],"next":null}



=== TEST 8: and the lists of a user in a block with the reader are 404
--- request
GET /user/3/following
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 9: an unknown user is 404
--- request
GET /user/99/posts
--- more_headers eval
main::auth(2)
--- error_code: 404
--- response_body_like chomp
"not_found"



=== TEST 10: a cursor the server did not issue is 422
--- request eval
"GET /user/1/posts?before=" . Social::b64url("c:2:0" . "\0" x 8)
--- more_headers eval
main::auth(2)
--- error_code: 422
--- response_body_like chomp
"field":"before"



=== TEST 11: limit out of range is 422
--- request
GET /user/1/followers?limit=101
--- more_headers eval
main::auth(2)
--- error_code: 422
--- response_body_like chomp
"field":"limit"



=== TEST 12: a deleted user's posts and follows go with them
--- init
Social::social_sql("DELETE FROM users WHERE user_id = 4");
--- request
GET /user/1
--- more_headers eval
main::auth(2)
--- response_body_like chomp
"followers":2,"following":1,"posts":3\}$



=== TEST 13: HEAD on the lists and the feed: GET's status and headers, no body
--- init
Social::social_result(Social::social_head(["/user/1/posts?limit=2",
                                           "/user/1/followers",
                                           "/user/1/following",
                                           "/feed", "/user/99/posts"],
                                          main::auth(2)));
--- response_body
/user/1/posts?limit=2: 200, same headers, no body
/user/1/followers: 200, same headers, no body
/user/1/following: 200, same headers, no body
/feed: 200, same headers, no body
/user/99/posts: 404, same headers, no body
