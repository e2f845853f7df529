# vim:set ft= ts=4 sw=4 et fdm=marker:

# The grouping rule of ../shared/API.md ("Identity and groups"): the
# threshold, the best candidate, the ties, full groups, no attributes,
# normalisation, regrouping on PUT /user/{id}, GET /group/{id} and
# concurrent signups, against the real module, PostgreSQL and Redis.
#
# Every block restarts nginx on the same database.  Each section starts
# with ::fresh_db(): no users, no groups, user 1 an admin made with SQL (in
# no group); then every signup takes the next user id and every new group
# the next group id, so the ids below are known.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks());

# an empty database with user 1, "root", an admin in no group
sub fresh_db {
    Social::social_reset();
    Social::social_sql(q{INSERT INTO users (username, role, password_hash)
                         VALUES ('root', 'admin', 'hmac$x')});
}

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

=== TEST 1: threshold: a first signup founds group 1
--- init
Social::social_reset();
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 2: threshold: Jaccard exactly 0.5 (5 of 10) joins
--- request
POST /signup
{"username": "u03", "attributes": ["t01", "t02", "t03", "t04", "t05"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":1,"username":"u03",



=== TEST 3: threshold: just below (5/11) founds a new group
--- request
POST /signup
{"username": "u04", "attributes": ["t01", "t02", "t03", "t04", "t05", "x01"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 4: threshold: exactly 0.5 from the other side (10 of 20) joins
--- request
POST /signup
{"username": "u05", "attributes": ["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "y01", "y02", "y03", "y04", "y05", "y06", "y07", "y08", "y09", "y10"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":1,"username":"u05",



=== TEST 5: threshold: just below from the other side (10/21) founds a new group
--- request
POST /signup
{"username": "u06", "attributes": ["t01", "t02", "t03", "t04", "t05", "t06", "t07", "t08", "t09", "t10", "y01", "y02", "y03", "y04", "y05", "y06", "y07", "y08", "y09", "y10", "y11"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":6,"group_id":3,"username":"u06",



=== TEST 6: threshold: group 1 holds users 2, 3 and 5, by user id, with its founder's profile
--- request
GET /group/3
--- more_headers eval: ::auth(3)
--- response_body chomp
{"group_id":1,"attributes":["t01","t02","t03","t04","t05","t06","t07","t08","t09","t10"],"size":3,"members":[{"user_id":2,"username":"u02","attributes":["t01","t02","t03","t04","t05","t06","t07","t08","t09","t10"]},{"user_id":3,"username":"u03","attributes":["t01","t02","t03","t04","t05"]},{"user_id":5,"username":"u05","attributes":["t01","t02","t03","t04","t05","t06","t07","t08","t09","t10","y01","y02","y03","y04","y05","y06","y07","y08","y09","y10"]}]}



=== TEST 7: social_group_threshold 0.6: a signup founds group 1
--- http_config
    social_group_threshold 0.6;
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["s1", "s2", "s3", "s4", "s5"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 8: social_group_threshold 0.6: exactly 3/5 joins (nothing rounds it below 0.6)
--- http_config
    social_group_threshold 0.6;
--- request
POST /signup
{"username": "u03", "attributes": ["s1", "s2", "s3"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":1,"username":"u03",



=== TEST 9: social_group_threshold 0.6: a profile of 3, group 2
--- http_config
    social_group_threshold 0.6;
--- request
POST /signup
{"username": "u04", "attributes": ["r1", "r2", "r3"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 10: social_group_threshold 0.6: 5 attributes holding that profile of 3 join it (3/5)
--- http_config
    social_group_threshold 0.6;
--- request
POST /signup
{"username": "u05", "attributes": ["r1", "r2", "r3", "r4", "r5"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":2,"username":"u05",



=== TEST 11: social_group_threshold 0.6: 3/6 is below it, a new group 3
--- http_config
    social_group_threshold 0.6;
--- request
POST /signup
{"username": "u06", "attributes": ["r1", "r2", "r3", "r4", "r5", "r6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":6,"group_id":3,"username":"u06",



=== TEST 12: best candidate: group 1
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["b1", "b2", "b3", "b4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 13: best candidate: 2/6 is below the threshold, group 2
--- request
POST /signup
{"username": "u03", "attributes": ["b1", "b2", "b5", "b6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":2,"username":"u03",



=== TEST 14: best candidate: group 2 (4/5) wins over the lower group 1 (3/6)
--- request
POST /signup
{"username": "u04", "attributes": ["b1", "b2", "b3", "b5", "b6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 15: ties: a profile of 2, group 1
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["c1", "c2"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 16: ties: a profile of 8, group 2
--- request
POST /signup
{"username": "u03", "attributes": ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":2,"username":"u03",



=== TEST 17: ties: 0.5 with both; group 2 shares 4 attributes, group 1 only 2: group 2
--- request
POST /signup
{"username": "u04", "attributes": ["c1", "c2", "c3", "c4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 18: ties: group 1
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["d1", "d2", "d3", "d4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 19: ties: group 2
--- request
POST /signup
{"username": "u03", "attributes": ["d1", "d2", "d5", "d6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":2,"username":"u03",



=== TEST 20: ties: group 2 gets a second member
--- request
POST /signup
{"username": "u04", "attributes": ["d1", "d2", "d5", "d6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 21: ties: 0.5 and 2 shared with both: the lowest id (1), not the larger group
--- request
POST /signup
{"username": "u05", "attributes": ["d1", "d2"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":1,"username":"u05",



=== TEST 22: social_group_max_size 2: group 1
--- http_config
    social_group_max_size 2;
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["e1", "e2", "e3", "e4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 23: social_group_max_size 2: a second member fills group 1
--- http_config
    social_group_max_size 2;
--- request
POST /signup
{"username": "u03", "attributes": ["e1", "e2", "e3", "e4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":1,"username":"u03",



=== TEST 24: social_group_max_size 2: group 2
--- http_config
    social_group_max_size 2;
--- request
POST /signup
{"username": "u04", "attributes": ["e1", "e2", "e5", "e6"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 25: social_group_max_size 2: the full best group (1, 4/5) is skipped for the next one (2, 3/6)
--- http_config
    social_group_max_size 2;
--- request
POST /signup
{"username": "u05", "attributes": ["e1", "e2", "e3", "e4", "e5"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":2,"username":"u05",



=== TEST 26: social_group_max_size 2: every candidate full: a new group 3
--- http_config
    social_group_max_size 2;
--- request
POST /signup
{"username": "u06", "attributes": ["e1", "e2", "e3", "e4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":6,"group_id":3,"username":"u06",



=== TEST 27: social_group_max_size 2: no group is over the limit
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
1:2
2:2
3:1



=== TEST 28: social_group_max_size 2: a member of the full group 1 leaves it (new attributes, group 4)
--- http_config
    social_group_max_size 2;
--- request
PUT /user/3
{"attributes": ["f1"]}
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":3,"username":"u03","email":null,"attributes":\["f1"\],"group_id":4,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 29: social_group_max_size 2: group 1 has room again, and ties with group 3: group 1
--- http_config
    social_group_max_size 2;
--- request
POST /signup
{"username": "u07", "attributes": ["e1", "e2", "e3", "e4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":7,"group_id":1,"username":"u07",



=== TEST 30: no attributes: in no group
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": []}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":null,"username":"u02","email":null,"attributes":\[\],



=== TEST 31: attributes absent: in no group
--- request
POST /signup
{"username": "u03"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":null,"username":"u03","email":null,"attributes":\[\],



=== TEST 32: no group was made for them
--- sql
SELECT count(*) FROM groups
--- response_body
0



=== TEST 33: GET /group of a user in no group
--- request
GET /group/2
--- more_headers eval: ::auth(2)
--- response_body chomp
{"group_id":null,"attributes":[],"size":0,"members":[]}



=== TEST 34: two users in no group are not in the same group
--- request
GET /group/2
--- more_headers eval: ::auth(3)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 35: an admin reads the group of a user in no group
--- request
GET /group/2
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body chomp
{"group_id":null,"attributes":[],"size":0,"members":[]}



=== TEST 36: normalisation: trimmed, inner white space collapsed, ASCII lower case, duplicates dropped, sorted
--- request
POST /signup
{"username": "u04", "attributes": ["  Hello   World ", "HELLO\tworld", "\tZeta\n", "alpha", "Alpha ", "a b", "a-", "ÉCOLE"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":1,"username":"u04","email":null,"attributes":\["a b","a-","alpha","hello world","zeta","École"\],



=== TEST 37: normalisation: the same set spelt otherwise is Jaccard 1: group 1
--- request
POST /signup
{"username": "u05", "attributes": ["ZETA", "hello world", "A  B", "a-", "ALPHA", "ÉCOLE", "zeta"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":1,"username":"u05","email":null,"attributes":\["a b","a-","alpha","hello world","zeta","École"\],



=== TEST 38: normalisation: the group's profile and its members' attributes as stored
--- sql
SELECT g.profile::text || ' ' || (SELECT string_agg(u.attributes::text, ' ' ORDER BY u.user_id) FROM users u WHERE u.group_id = g.group_id) FROM groups g ORDER BY g.group_id
--- response_body
{"a b",a-,alpha,"hello world",zeta,École} {"a b",a-,alpha,"hello world",zeta,École} {"a b",a-,alpha,"hello world",zeta,École}



=== TEST 39: GET /group: a member of the same group may read it
--- request
GET /group/5
--- more_headers eval: ::auth(4)
--- response_body chomp
{"group_id":1,"attributes":["a b","a-","alpha","hello world","zeta","École"],"size":2,"members":[{"user_id":4,"username":"u04","attributes":["a b","a-","alpha","hello world","zeta","École"]},{"user_id":5,"username":"u05","attributes":["a b","a-","alpha","hello world","zeta","École"]}]}



=== TEST 40: GET /group: the user may read their own
--- request
GET /group/5
--- more_headers eval: ::auth(5)
--- response_body chomp
{"group_id":1,"attributes":["a b","a-","alpha","hello world","zeta","École"],"size":2,"members":[{"user_id":4,"username":"u04","attributes":["a b","a-","alpha","hello world","zeta","École"]},{"user_id":5,"username":"u05","attributes":["a b","a-","alpha","hello world","zeta","École"]}]}



=== TEST 41: GET /group: an admin in no group may read it
--- request
GET /group/5
--- more_headers eval: ::auth(1, role => 'admin')
--- response_body chomp
{"group_id":1,"attributes":["a b","a-","alpha","hello world","zeta","École"],"size":2,"members":[{"user_id":4,"username":"u04","attributes":["a b","a-","alpha","hello world","zeta","École"]},{"user_id":5,"username":"u05","attributes":["a b","a-","alpha","hello world","zeta","École"]}]}



=== TEST 42: GET /group: a user of another group may not (group 2)
--- request
POST /signup
{"username": "u06", "attributes": ["other"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":6,"group_id":2,"username":"u06",



=== TEST 43: GET /group: a user of another group may not
--- request
GET /group/5
--- more_headers eval: ::auth(6)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 44: GET /group: a user in no group may not
--- request
GET /group/5
--- more_headers eval: ::auth(2)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 45: GET /group: an unknown user, read by an admin, is 404
--- request
GET /group/999
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 46: GET /group: an unknown user, read by a user, is 403 (403 comes before 404)
--- request
GET /group/999
--- more_headers eval: ::auth(5)
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"This is not allowed for this user."}}



=== TEST 47: GET /group: an id past 2^63-1 in the path is 404
--- request
GET /group/99999999999999999999
--- more_headers eval: ::auth(1, role => 'admin')
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"No such thing."}}



=== TEST 48: GET /group: no token is 401
--- request
GET /group/5
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 49: regroup: group 1
--- init
::fresh_db();
--- request
POST /signup
{"username": "u02", "attributes": ["h1", "h2", "h3", "h4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":2,"group_id":1,"username":"u02",



=== TEST 50: regroup: a second member of group 1
--- request
POST /signup
{"username": "u03", "attributes": ["h1", "h2", "h3", "h4"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":3,"group_id":1,"username":"u03",



=== TEST 51: regroup: the same attributes spelt otherwise change nothing
--- request
PUT /user/3
{"attributes": [" H4", "h3", "H2 ", "h1", "h1"]}
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":3,"username":"u03","email":null,"attributes":\["h1","h2","h3","h4"\],"group_id":1,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 52: regroup: still 2 in group 1, no other group
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
1:2



=== TEST 53: regroup: new attributes leave group 1 and found group 2
--- request
PUT /user/3
{"attributes": ["k1", "k2"]}
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":3,"username":"u03","email":null,"attributes":\["k1","k2"\],"group_id":2,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 54: regroup: group 1 has one member left
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
1:1
2:1



=== TEST 55: regroup: the last member of group 1 leaves it and joins group 2 (2/3) as a signup would
--- request
PUT /user/2
{"attributes": ["k1", "k2", "k3"]}
--- more_headers eval: ::auth(2)
--- response_body_like chomp
^\{"user_id":2,"username":"u02","email":null,"attributes":\["k1","k2","k3"\],"group_id":2,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 56: regroup: group 1, left empty, is removed
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
2:2



=== TEST 57: regroup: members by user id (2 joined after 3); the profile is the founder's
--- request
GET /group/3
--- more_headers eval: ::auth(2)
--- response_body chomp
{"group_id":2,"attributes":["k1","k2"],"size":2,"members":[{"user_id":2,"username":"u02","attributes":["k1","k2","k3"]},{"user_id":3,"username":"u03","attributes":["k1","k2"]}]}



=== TEST 58: regroup: no attributes any more: in no group
--- request
PUT /user/3
{"attributes": []}
--- more_headers eval: ::auth(3)
--- response_body_like chomp
^\{"user_id":3,"username":"u03","email":null,"attributes":\[\],"group_id":null,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 59: regroup: the profile stays the founder's after the founder left
--- request
GET /group/2
--- more_headers eval: ::auth(2)
--- response_body chomp
{"group_id":2,"attributes":["k1","k2"],"size":1,"members":[{"user_id":2,"username":"u02","attributes":["k1","k2","k3"]}]}



=== TEST 60: regroup: a signup matching that profile joins group 2
--- request
POST /signup
{"username": "u04", "attributes": ["k1", "k2"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":4,"group_id":2,"username":"u04",



=== TEST 61: regroup: a lone member, group 3
--- request
POST /signup
{"username": "u05", "attributes": ["n1", "n2"]}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":5,"group_id":3,"username":"u05",



=== TEST 62: regroup: a lone member's group is removed before they join: a new group 4
--- request
PUT /user/5
{"attributes": ["n1", "n2", "n3"]}
--- more_headers eval: ::auth(5)
--- response_body_like chomp
^\{"user_id":5,"username":"u05","email":null,"attributes":\["n1","n2","n3"\],"group_id":4,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 63: regroup: a member whose best candidate is still their group rejoins it
--- request
PUT /user/4
{"attributes": ["k1", "k2", "k9"]}
--- more_headers eval: ::auth(4)
--- response_body_like chomp
^\{"user_id":4,"username":"u04","email":null,"attributes":\["k1","k2","k9"\],"group_id":2,"role":"user","created_at":"[^"]+","followers":\d+,"following":\d+,"posts":\d+\}$



=== TEST 64: regroup: the groups, their sizes and their members
--- sql
SELECT g.group_id || ':' || g.size || ':' || (SELECT string_agg(u.user_id::text, ',' ORDER BY u.user_id) FROM users u WHERE u.group_id = g.group_id) FROM groups g ORDER BY g.group_id
--- response_body
2:2:2,4
4:1:5



=== TEST 65: regroup: new attributes with a taken username are 409, and nobody moved
--- request
PUT /user/4
{"attributes": ["z1"], "username": "U05"}
--- more_headers eval: ::auth(4)
--- error_code: 409
--- response_body chomp
{"error":{"code":"conflict","message":"This username is taken.","field":"username"}}



=== TEST 66: regroup: the groups and user 4 as before the refused change
--- sql
SELECT string_agg(g.group_id || ':' || g.size, ' ' ORDER BY g.group_id) || ' ' || (SELECT attributes::text || ':' || group_id FROM users WHERE user_id = 4) FROM groups g
--- response_body
2:2 4:1 {k1,k2,k9}:2



=== TEST 67: 20 concurrent identical signups
--- init
::fresh_db();
Social::social_result(Social::social_concurrent_post(20, "/signup", '{"attributes": ["q1", "q2", "q3"]}') . "\n");
--- response_body
201:20



=== TEST 68: 20 concurrent identical signups end in one group of 20
--- sql
SELECT g.group_id || ':' || g.size || ':' || (SELECT count(*) FROM users u WHERE u.group_id = g.group_id) FROM groups g ORDER BY g.group_id
--- response_body
1:20:20



=== TEST 69: social_group_max_size 5: 20 concurrent identical signups
--- http_config
    social_group_max_size 5;
--- init
::fresh_db();
Social::social_result(Social::social_concurrent_post(20, "/signup", '{"attributes": ["p1", "p2"]}') . "\n");
--- response_body
201:20



=== TEST 70: social_group_max_size 5: they fill 4 groups of 5, as one at a time would
--- sql
SELECT g.group_id || ':' || g.size || ':' || (SELECT count(*) FROM users u WHERE u.group_id = g.group_id) FROM groups g ORDER BY g.group_id
--- response_body
1:5:5
2:5:5
3:5:5
4:5:5



=== TEST 71: max_size lowered: 3 members under the default of 100
--- init
::fresh_db();
Social::social_result(Social::social_concurrent_post(3, "/signup", '{"attributes": ["v1", "v2"]}') . "\n");
--- response_body
201:3



=== TEST 72: max_size lowered: under social_group_max_size 2 that group is full, a signup founds a new one
--- http_config
    social_group_max_size 2;
--- init
Social::social_concurrent_post(1, "/signup", '{"attributes": ["v1", "v2"]}');
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
1:3
2:1



=== TEST 73: max_size raised: a group filled under social_group_max_size 2
--- http_config
    social_group_max_size 2;
--- init
::fresh_db();
Social::social_result(Social::social_concurrent_post(2, "/signup", '{"attributes": ["w1"]}') . "\n");
--- response_body
201:2



=== TEST 74: max_size raised: under the default of 100 it has room again, a signup joins it
--- init
Social::social_concurrent_post(1, "/signup", '{"attributes": ["w1"]}');
--- sql
SELECT group_id || ':' || size FROM groups ORDER BY group_id
--- response_body
1:3
