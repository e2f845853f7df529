# vim:set ft= ts=4 sw=4 et fdm=marker:

# Revocation: signing out, a new password, a new role, a delete and
# `make admin` stop the user's older tokens, on every worker and every node
# within a second, and a token signed after them works at once whichever
# worker or node answers.  Two workers; the blocks of two nodes start a
# second nginx of their own (t/SocialNode.pm).  What happens when Redis
# fails is t/016-revocation-faults.t.

use lib 't';
use Test::Nginx::Socket;
use Social;
use SocialNode;

use Time::HiRes ();

repeat_each(1);
no_shuffle();
master_on();
workers(2);

# 4 tests a block; TEST 20 checks a line of the log more, TEST 22 one more,
# TEST 23 a header and a line of the log more
plan tests => repeat_each() * (4 * blocks() + 4);

our $Password = 'correct horse battery';

# a loaded machine, or Valgrind: the bound grows with it
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;
our $Bound = 1.5 * $Slack;

our $Rounds = 50;

add_block_preprocessor(\&social_api_defaults);

run_tests();


sub auth { return "Authorization: Bearer $_[0]" }

sub admin { return auth(Social::social_token(1, role => 'admin')) }

sub node1 { return SocialNode::http(SocialNode::first_port(), @_) }

sub node2 { return SocialNode::http(SocialNode::port(), @_) }

# the statuses of $n requests with $token to GET /user/$id on a node,
# joined: "200 200 200"
sub statuses {
    my ($node, $n, $id, $token) = @_;
    return join ' ', map { ($node->('GET', "/user/$id", undef,
                                     auth($token)))[0] } 1 .. $n;
}

# the old token, asked of the nodes in turn every 20 ms from $t0 to $t0 +
# 2.5 s: what went wrong, or ''
sub refused_in_time {
    my ($t0, $id, $token, @nodes) = @_;
    my ($i, $refused, @late) = (0);

    while (Time::HiRes::time() < $t0 + 2.5 * $Slack) {
        my $sent = Time::HiRes::time();
        my ($st) = $nodes[$i++ % @nodes]->('GET', "/user/$id", undef,
                                           auth($token));

        if ($st =~ /^2/) {
            push @late, sprintf('%.2f', $sent - $t0) if $sent > $t0 + $Bound;

        } elsif ($st eq '401') {
            $refused //= $sent - $t0;

        } else {
            return "the old token answered $st";
        }

        Time::HiRes::sleep(0.02);
    }

    return "the old token was never refused" unless defined $refused;
    return "the old token was accepted at @late s" if @late;
    return '';
}

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
--- sql
SELECT token_gen FROM users WHERE user_id = 2
--- response_body
1



=== TEST 6: a token of the current generation works
--- request
GET /user/2
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, gen => 1)
--- response_body_like chomp
^\{"user_id":2,



=== TEST 7: after a restart, with an empty memory, it is learnt from Redis
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



=== TEST 19: also after a restart, with an empty memory
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
--- redis
GET social:gen:3
--- response_body
1



=== TEST 22: Redis down: the token check asks PostgreSQL
--- init
Social::social_sql("INSERT INTO users (username, role, password_hash) VALUES ('dora', 'user', 'x')");
Social::social_service("stop-redis");
--- request
GET /user/4
--- more_headers eval
"Authorization: Bearer " . Social::social_token(4)
--- response_body_like chomp
^\{"user_id":4,"username":"dora",
--- error_log
social: redis connect to
--- no_error_log
[alert]



=== TEST 23: Redis and PostgreSQL down: the token check answers 503 with Retry-After, it does not guess
--- init
Social::social_service("stop-pg");
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



=== TEST 24: both back: the same token works again
--- init
Social::social_service("start-pg");
Social::social_service("start-redis");
sleep 2.2;
--- request
GET /user/4
--- more_headers eval
"Authorization: Bearer " . Social::social_token(4)
--- response_body_like chomp
^\{"user_id":4,"username":"dora",



=== TEST 25: two nodes: a sign out on the first is refused on the second within a second, and a sign in right after works on both at once
--- init
SocialNode::start();
my ($id, $token) = SocialNode::signup(SocialNode::first_port(), 'erin', $main::Password);
my @out = ("before: " . ::statuses(\&::node1, 4, $id, $token) . ", " . ::statuses(\&::node2, 4, $id, $token));
my $t0 = Time::HiRes::time();
my ($st) = ::node1('POST', '/signout', undef, ::auth($token));
push @out, "signed out: $st";
push @out, ::refused_in_time($t0, $id, $token, \&::node2) || 'refused on the second node in time';
my $fresh = SocialNode::signin(SocialNode::first_port(), $id, $main::Password);
push @out, "a new token: " . ::statuses(\&::node2, 1, $id, $fresh) . ", " . ::statuses(\&::node1, 1, $id, $fresh);
SocialNode::stop();
Social::social_result(join("\n", @out) . "\n");
--- response_body
before: 200 200 200 200, 200 200 200 200
signed out: 204
refused on the second node in time
a new token: 200, 200



=== TEST 26: a sign in right after a sign out works on the very next request, whichever worker or node answers (50 rounds)
--- init
SocialNode::start();
my ($id, $token) = SocialNode::signup(SocialNode::first_port(), 'fred', $main::Password);
my %seen;
for my $round (1 .. $main::Rounds) {
    # both nodes and (most likely) all four workers remember the generation
    $seen{"before " . ::statuses(\&::node1, 3, $id, $token) . ", " . ::statuses(\&::node2, 2, $id, $token)}++;
    my ($st) = ::node1('POST', '/signout', undef, ::auth($token));
    $seen{"signed out $st"}++;
    $token = SocialNode::signin($round % 2 ? SocialNode::first_port() : SocialNode::port(), $id, $main::Password);
    $seen{"next " . ::statuses(\&::node1, 1, $id, $token) . ", " . ::statuses(\&::node2, 1, $id, $token)}++;
}
SocialNode::stop();
Social::social_result(join '', map { "$_: $seen{$_}\n" } sort keys %seen);
--- response_body
before 200 200 200, 200 200: 50
next 200, 200: 50
signed out 204: 50



=== TEST 27: the token of a password change works on the very next request, whichever worker or node answers (50 rounds)
--- init
SocialNode::start();
my ($id, $token) = SocialNode::signup(SocialNode::first_port(), 'gina', $main::Password);
my %seen;
my $password = $main::Password;
for my $round (1 .. $main::Rounds) {
    $seen{"before " . ::statuses(\&::node1, 3, $id, $token) . ", " . ::statuses(\&::node2, 2, $id, $token)}++;
    my $new = "password $round";
    my ($st, $body) = ::node1('PUT', "/user/$id", qq~{"password": "$new", "current_password": "$password"}~, ::auth($token));
    $seen{"changed $st"}++;
    my $old = $token;
    $token = $body =~ /"token":"([^"]+)"/ ? $1 : 'none';
    $password = $new;
    $seen{"next " . ::statuses(\&::node1, 1, $id, $token) . ", " . ::statuses(\&::node2, 1, $id, $token)}++;
    if ($round % 10 == 0) {
        # a worker that remembers the user may take the old one for a second
        Time::HiRes::sleep($main::Bound);
        $seen{"old " . ::statuses(\&::node1, 2, $id, $old) . ", " . ::statuses(\&::node2, 2, $id, $old)}++;
    }
}
SocialNode::stop();
Social::social_result(join '', map { "$_: $seen{$_}\n" } sort keys %seen);
--- response_body
before 200 200 200, 200 200: 50
changed 200: 50
next 200, 200: 50
old 401 401, 401 401: 5



=== TEST 28: a sign in right after a change of role works on the very next request, whichever worker or node answers (50 rounds)
--- init
SocialNode::start();
my ($id, $token) = SocialNode::signup(SocialNode::first_port(), 'hugo', $main::Password);
my %seen;
for my $round (1 .. $main::Rounds) {
    $seen{"before " . ::statuses(\&::node1, 3, $id, $token) . ", " . ::statuses(\&::node2, 2, $id, $token)}++;
    my $role = $round % 2 ? 'admin' : 'user';
    my ($st) = ::node1('PUT', "/user/$id/role", qq~{"role": "$role"}~, ::admin());
    $seen{"role $st"}++;
    $token = SocialNode::signin($round % 2 ? SocialNode::port() : SocialNode::first_port(), $id, $main::Password);
    $seen{"next " . ::statuses(\&::node1, 1, $id, $token) . ", " . ::statuses(\&::node2, 1, $id, $token)}++;
}
SocialNode::stop();
Social::social_result(join '', map { "$_: $seen{$_}\n" } sort keys %seen);
--- response_body
before 200 200 200, 200 200: 50
next 200, 200: 50
role 200: 50



=== TEST 29: make admin (util/admin, SQL): the older tokens stop on both nodes within a second, and a sign in right after works at once
--- init
SocialNode::start();
my ($id, $token) = SocialNode::signup(SocialNode::first_port(), 'iris', $main::Password);
my @out = ("before: " . ::statuses(\&::node1, 4, $id, $token) . ", " . ::statuses(\&::node2, 4, $id, $token));
local $ENV{INSTANCE} = 'test';
local $ENV{TEST_PG_PORT} = $ENV{TEST_NGINX_PG_PORT};
local $ENV{TEST_REDIS_PORT} = $ENV{TEST_NGINX_REDIS_PORT};
my $t0 = Time::HiRes::time();
my $said = `$ENV{TEST_NGINX_UTIL}/admin $id 2>&1`;
push @out, $said =~ /user $id is an admin now/ ? "made an admin" : "util/admin: $said";
push @out, ::refused_in_time($t0, $id, $token, \&::node1, \&::node2) || 'the old token refused on both nodes in time';
my $fresh = SocialNode::signin(SocialNode::port(), $id, $main::Password);
push @out, "a new token: " . ::statuses(\&::node1, 1, $id, $fresh) . ", " . ::statuses(\&::node2, 1, $id, $fresh);
push @out, "an admin's: " . ((::node2('GET', '/user/1', undef, ::auth($fresh)))[1] =~ /"email":/ ? "yes" : "no");
SocialNode::stop();
Social::social_result(join("\n", @out) . "\n");
--- response_body
before: 200 200 200 200, 200 200 200 200
made an admin
the old token refused on both nodes in time
a new token: 200, 200
an admin's: yes
