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

=== TEST 1: a valid token
--- init
Social::social_reset();
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('anant', 'x'), ('bea', 'x')");
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1)
--- response_body_like chomp
^\{"user_id":1,"username":"anant",



=== TEST 2: no token: 401 with WWW-Authenticate
--- request
GET /user/1
--- response_headers
WWW-Authenticate: Bearer
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 3: the scheme name is case-insensitive
--- request
GET /user/1
--- more_headers eval
"Authorization: bearer " . Social::social_token(1)
--- response_body_like chomp
^\{"user_id":1,



=== TEST 4: another scheme is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Basic " . Social::social_token(1)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 5: alg none is 401
--- request
GET /user/1
--- more_headers eval
my $t = Social::social_token(1, header => '{"alg":"none","typ":"JWT"}');
$t =~ s/[^.]+$//;
"Authorization: Bearer $t"
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 6: alg none with a signature is 401 too
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, header => '{"alg":"none"}')
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 7: another algorithm is 401, whatever the signature
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, alg => 'HS512')
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 8: an altered payload is 401
--- request
GET /user/1
--- more_headers eval
my ($h, $p, $s) = split /\./, Social::social_token(2);
my ($h1, $p1) = split /\./, Social::social_token(1);
"Authorization: Bearer $h.$p1.$s"
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 9: a signature with another key is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, key => 'x' x 32)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 10: an expired token is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, exp => -5)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 11: a malformed token is 401
--- request
GET /user/1
--- more_headers
Authorization: Bearer abc.def
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 12: four parts are 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1) . ".x"
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 13: base64 padding is not base64url: 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1) . "="
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 14: "Bearer" with nothing after it
--- request
GET /user/1
--- more_headers
Authorization: Bearer
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 15: a role that is not user or admin is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, role => 'root')
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 16: a sub that is not a canonical decimal string is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token("01")
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 17: a sub as a JSON number is 401
--- request
GET /user/1
--- more_headers eval
my $now = time;
"Authorization: Bearer " . Social::social_token(1, payload => qq{{"sub":1,"role":"user","iat":$now,"exp":@{[$now + 60]},"gen":0}})
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 18: the token of a user who does not exist is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(99)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 19: an older generation is 401
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 5)
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 20: 401 comes before 415 and 400
--- request
PUT /user/1
{not json
--- more_headers
Content-Type: text/plain
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 21: a token written another way than the module writes it, signed with the key: accepted (read by the JSON parser)
--- request
GET /user/1
--- more_headers eval
my $now = time;
"Authorization: Bearer " . Social::social_token(1, header => '{"typ":"JWT", "alg":"HS256"}', payload => qq{{ "gen": 0, "exp": @{[$now + 60]}, "iat": $now, "role": "user", "sub": "1" }})
--- response_body_like chomp
^\{"user_id":1,"username":"anant",



=== TEST 22: the module's layout with a number of a leading zero is 401
--- request
GET /user/1
--- more_headers eval
my $now = time;
"Authorization: Bearer " . Social::social_token(1, payload => qq{{"sub":"1","role":"user","iat":0$now,"exp":@{[$now + 60]},"gen":0}})
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 23: the module's layout with a byte after it is 401
--- request
GET /user/1
--- more_headers eval
my $now = time;
"Authorization: Bearer " . Social::social_token(1, payload => qq{{"sub":"1","role":"user","iat":$now,"exp":@{[$now + 60]},"gen":0}x})
--- error_code: 401
--- response_body_like chomp
"unauthorized"



=== TEST 24: the module's layout with a space after it: accepted (read by the JSON parser)
--- request
GET /user/1
--- more_headers eval
my $now = time;
"Authorization: Bearer " . Social::social_token(1, payload => qq{{"sub":"1","role":"user","iat":$now,"exp":@{[$now + 60]},"gen":0} })
--- response_body_like chomp
^\{"user_id":1,"username":"anant",
