# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 2);

# a server-generated password is stored under HMAC-SHA-256 with the pepper
# derived from the server key, as the module does
sub generated_hash {
    my $password = shift;

    require Digest::SHA;
    require MIME::Base64;

    open my $in, '<:raw', $ENV{TEST_NGINX_JWT_KEY_FILE} or die "key: $!\n";
    local $/;
    my $key = <$in>;
    close $in;

    my $pepper = Digest::SHA::hmac_sha256("ngx_social password pepper", $key);
    return "hmac\$" . MIME::Base64::encode_base64(
                         Digest::SHA::hmac_sha256($password, $pepper), '');
}

add_block_preprocessor(\&social_api_defaults);

run_tests();

__DATA__

=== TEST 1: a user with a password of their own
--- init
Social::social_reset();
--- request
POST /signup
{"username": "anant", "email": "anant@example.com", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 201
--- response_body_like chomp
^\{"user_id":1,



=== TEST 2: sign in by user_id: the hash is checked on the thread pool
(task #0 of a worker is the hash it times when it starts)
--- request
POST /signin
{"user_id": 1, "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"token":"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+","token_type":"Bearer","expires_in":3600\}$
--- error_log
run task #1 in thread pool "default"



=== TEST 3: sign in by username, ignoring case
--- request
POST /signin
{"username": "ANANT", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"token":"



=== TEST 4: sign in by email, ignoring case
--- request
POST /signin
{"email": "Anant@Example.COM", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"token":"



=== TEST 5: a wrong password is 401 invalid_credentials
--- request
POST /signin
{"user_id": 1, "password": "wrong horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}



=== TEST 6: an unknown user gets the same answer
--- request
POST /signin
{"user_id": 99, "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}



=== TEST 7: an unknown username gets the same answer, without a hash
It waits its turn and the deadline as a wrong password does
(t/017-password-gate.t), but no hash is computed for it.
--- request
POST /signin
{"username": "nobody", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}
--- no_error_log
[error]
task #1 added to thread pool



=== TEST 8: a missing password is 422
--- request
POST /signin
{"user_id": 1}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"password is required.","field":"password"}}



=== TEST 9: no user named is 422
--- request
POST /signin
{"password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"user_id"



=== TEST 10: a user_id that is not an id is 422
--- request
POST /signin
{"user_id": "1", "password": "correct horse battery"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like chomp
"field":"user_id"



=== TEST 11: a server-generated password: a keyed hash, checked on the loop
--- init
Social::social_sql("INSERT INTO users (username, password_hash) VALUES ('gen', '" . main::generated_hash("AAAAAAAAAAAAAAAAAAAAAA") . "')");
--- request
POST /signin
{"username": "gen", "password": "AAAAAAAAAAAAAAAAAAAAAA"}
--- more_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":2,"token":"
--- no_error_log
task #1 added to thread pool



=== TEST 12: and a wrong one is refused
--- request
POST /signin
{"username": "gen", "password": "AAAAAAAAAAAAAAAAAAAAAB"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body_like chomp
"invalid_credentials"
