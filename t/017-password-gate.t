# vim:set ft= ts=4 sw=4 et fdm=marker:

# Password hashing under abuse: the worker's gate (a bound on waiting
# hashes, admission before the lookup, turns across client addresses, no
# hash for a client that has gone), the fixed deadline of a failed signin,
# the throttling of an account, and the bound on JSON values per body.
#
# Every block runs with slow hashes (scrypt at 2^15, about 0.2 s here),
# one hash at a time and at most 4 waiting, so that a handful of requests
# fills the gate.  Requests come from several loopback addresses
# (127.0.0.2, ...), as from several clients.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (4 * blocks() + 2);

our $HttpConfig = ($Social::Backends
                   =~ s/social_password_cost 10;/social_password_cost 15;/r)
                  . <<'_EOC_';
    social_password_queue    4;
    social_password_threads  1;
    social_signin_deadline   1s;
    social_signin_throttle   free=3 window=1m max=2s;
_EOC_

our %Id;
our $Generated;

sub signin {
    my ($from, $who, $password, %more) = @_;

    my $json = $who =~ /^\d+$/
               ? qq({"user_id": $who, "password": "$password"})
               : qq({"username": "$who", "password": "$password"});

    return {from => $from, uri => '/signin', json => $json, %more};
}

sub secs_in {
    my ($r, $min, $max) = @_;

    return defined $r->{secs} && $r->{secs} >= $min && $r->{secs} < $max
           ? 'yes' : sprintf('no (%.3f s)', $r->{secs} // -1);
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    social_api_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: three users with chosen passwords, one with a generated one
--- init
Social::social_reset();

for my $name (qw(alice bob carol)) {
    my ($status, $body) = Social::social_http('POST', '/signup',
                            qq({"username": "$name", "password": "$name password"}));
    ($main::Id{$name}) = $body =~ /"user_id":(\d+)/;
    Social::social_result("$name: $status\n");
}

my ($status, $body) = Social::social_http('POST', '/signup', '{"username": "gen"}');
($main::Id{gen}) = $body =~ /"user_id":(\d+)/;
($main::Generated) = $body =~ /"password":"([^"]+)"/;
Social::social_result("gen: $status, generated: ",
              defined $main::Generated ? 'yes' : 'no', "\n");
--- response_body
alice: 201
bob: 201
carol: 201
gen: 201, generated: yes



=== TEST 2: past the bound, 503 with Retry-After at once, before the lookup
One hash runs and 4 wait: eight signups with chosen passwords at once from
one address fill the gate, and the rest are refused at once.  Two signins
from that address then, one for an account and one for a name that is
none, get the same 503: a full gate tells nobody who exists.
--- init
Social::social_redis('FLUSHALL');

my @r = Social::social_flood(
    (map { {from => '127.0.0.2', uri => '/signup',
            json => qq({"username": "fill$_", "password": "fill password"})} }
     1 .. 8),
    main::signin('127.0.0.2', 'alice', 'wrong password', at => 0.05),
    main::signin('127.0.0.2', 'nobody', 'wrong password', at => 0.05));

my @flood = @r[0 .. 7];
my @refused = grep { $_->{status} eq '503' } @flood;
my @failed = grep { $_->{status} eq '201' } @flood;

Social::social_result("some refused: ", (@refused ? 'yes' : 'no'), "\n");
Social::social_result("at least 4 admitted: ", (@failed >= 4 ? 'yes' : 'no'), "\n");
Social::social_result("every other answer is one of these: ",
              (@refused + @failed == 8 ? 'yes' : 'no'), "\n");
Social::social_result("refused at once: ",
              ((grep { $_->{secs} >= 0.5 } @refused) ? 'no' : 'yes'), "\n");
Social::social_result("with Retry-After: ",
              ((grep { !$_->{retry_after} } @refused) ? 'no' : 'yes'), "\n");
Social::social_result("an account: $r[8]{status}\n");
Social::social_result("no account: $r[9]{status}\n");
Social::social_result("the same body: ",
              ($r[8]{body} eq $r[9]{body} ? 'yes' : 'no'), "\n");
Social::social_result("$r[9]{body}\n");
--- response_body
some refused: yes
at least 4 admitted: yes
every other answer is one of these: yes
refused at once: yes
with Retry-After: yes
an account: 503
no account: 503
the same body: yes
{"error":{"code":"service_unavailable","message":"Password hashing is busy; try again shortly."}}



=== TEST 3: a flood from one address delays another's signin by a few hashes
--- init
Social::social_redis('FLUSHALL');

my @r = Social::social_flood(
    (map { main::signin('127.0.0.2', 'carol', 'wrong password') } 1 .. 16),
    main::signin('127.0.0.3', 'bob', 'bob password', at => 0.1));

my $bob = $r[16];

Social::social_result("bob: $bob->{status}\n");
Social::social_result("bob in under 2 s: ", main::secs_in($bob, 0, 2), "\n");
Social::social_result("the flood was refused in part: ",
              ((grep { $_->{status} eq '503' } @r[0 .. 15]) ? 'yes' : 'no'),
              "\n");
--- response_body
bob: 200
bob in under 2 s: yes
the flood was refused in part: yes



=== TEST 4: a queued hash whose client has gone is never computed
Four signups with chosen passwords from one address: the first one's hash
runs, the others wait for their turn.  All four clients go away after
0.08 s, while the first hash runs (at 2^16 here, about 0.25 s: at 2^15 a
hash of an idle machine ended about when the clients went): only the
first hash is computed (task #0 is the hash the worker timed when it
started).
--- http_config eval
$main::HttpConfig =~ s/social_password_cost 15;/social_password_cost 16;/r
--- init
Social::social_redis('FLUSHALL');

Social::social_flood(map { {from => '127.0.0.4', uri => '/signup',
                            close => 0.08,
                            json => qq({"username": "gone$_", )
                                    . '"password": "gone password"}'} }
                     1 .. 4);

select undef, undef, undef, 1;
Social::social_result("gone\n");
--- response_body
gone
--- error_log
a waiting password hash is dropped, its client has gone
--- grep_error_log eval: qr/run task #\d+/
--- grep_error_log_out
run task #0
run task #1



=== TEST 5: a failed signin answers at the deadline, whatever the reason
An unknown user, a wrong chosen password and a wrong generated password
each answer 1 s after they came (to nginx's clock, which the event loop
reads once per turn: up to 50 ms before the client's); a right password
answers when it is checked: at once for a generated one, after the hash
for a chosen one.  (Three hashes at once here, so that their turns do not
wait for each other.)
--- http_config eval
$main::HttpConfig =~ s/social_password_threads  1;/social_password_threads  3;/r
--- init
Social::social_redis('FLUSHALL');

my @r = Social::social_flood(
    main::signin('127.0.0.5', 'nobody', 'wrong password'),
    main::signin('127.0.0.6', 'alice', 'wrong password'),
    main::signin('127.0.0.7', $main::Id{gen}, 'wrong password'));

Social::social_result("unknown user: $r[0]{status}, at the deadline: ",
              main::secs_in($r[0], 0.95, 1.5), "\n");
Social::social_result("wrong chosen password: $r[1]{status}, at the deadline: ",
              main::secs_in($r[1], 0.95, 1.5), "\n");
Social::social_result("wrong generated password: $r[2]{status}, at the deadline: ",
              main::secs_in($r[2], 0.95, 1.5), "\n");
Social::social_result("the same body: ",
              ($r[0]{body} eq $r[1]{body} && $r[1]{body} eq $r[2]{body}
               ? 'yes' : 'no'), "\n");

@r = Social::social_flood(main::signin('127.0.0.8', $main::Id{gen},
                               $main::Generated));
Social::social_result("generated password: $r[0]{status}, at once: ",
              main::secs_in($r[0], 0, 0.3), "\n");

@r = Social::social_flood(main::signin('127.0.0.9', 'alice', 'alice password'));
Social::social_result("chosen password: $r[0]{status}, before the deadline: ",
              main::secs_in($r[0], 0, 0.9), "\n");
--- response_body
unknown user: 401, at the deadline: yes
wrong chosen password: 401, at the deadline: yes
wrong generated password: 401, at the deadline: yes
the same body: yes
generated password: 200, at once: yes
chosen password: 200, before the deadline: yes



=== TEST 6: failures on one account slow it down; the owner still gets in
Three failures in the window are free; then each attempt waits 0.5 s,
1 s, ... up to 2 s before its password is checked.  A name that is no
account is slowed alike (attempts are counted under the name asked for).
A success forgets the failures.
--- init
Social::social_redis('FLUSHALL');

my @r = Social::social_flood(map { main::signin("127.0.0.1$_", 'bob',
                                        'wrong password') } 0 .. 3);
my @secs = sort { $a <=> $b } map { $_->{secs} } @r;

Social::social_result("four failures: ", join(' ', map { $_->{status} } @r), "\n");
Social::social_result("the fourth waited 0.5 s more: ",
              ($secs[3] >= 1.45 && $secs[2] < 1.4 ? 'yes'
               : "no (@secs)"), "\n");

@r = Social::social_flood(main::signin('127.0.0.20', 'bob', 'bob password'));
Social::social_result("the owner: $r[0]{status}, after 1 s: ",
              main::secs_in($r[0], 1, 2), "\n");

@r = Social::social_flood(main::signin('127.0.0.20', 'bob', 'bob password'));
Social::social_result("again: $r[0]{status}, at once: ",
              main::secs_in($r[0], 0, 0.9), "\n");

@r = Social::social_flood(map { main::signin("127.0.0.3$_", 'ghost',
                                     'wrong password') } 0 .. 3);
@secs = sort { $a <=> $b } map { $_->{secs} } @r;

Social::social_result("a name that is no account: ",
              join(' ', map { $_->{status} } @r), ", the fourth waited: ",
              ($secs[3] >= 1.45 ? 'yes' : "no (@secs)"), "\n");
--- redis
GET social:signin:n:ghost
EXISTS social:signin:n:bob
--- response_body
four failures: 401 401 401 401
the fourth waited 0.5 s more: yes
the owner: 200, after 1 s: yes
again: 200, at once: yes
a name that is no account: 401 401 401 401, the fourth waited: yes
4
0



=== TEST 7: a body of more than 1024 JSON values is 422, before anything
--- request eval
"POST /signin\n"
. '{"username": "alice", "password": "wrong password", "x": ['
. CORE::join(',', (0) x 1100) . ']}'
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body chomp
{"error":{"code":"validation_failed","message":"The request body holds too many JSON values."}}



=== TEST 8: 1000 values are parsed as any body
--- request eval
"POST /signin\n"
. '{"username": "alice", "password": "wrong password", "x": ['
. CORE::join(',', (0) x 1000) . ']}'
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"invalid_credentials","message":"The user or the password is wrong."}}



=== TEST 9: signups and password changes wait at the same gate
From the address that fills the gate, a signup and a password change with a
chosen password are refused too; a signup without one needs no hash.
--- init
Social::social_redis('FLUSHALL');

my ($s, $b) = Social::social_http('POST', '/signin',
                   '{"username": "bob", "password": "bob password"}');
my ($token) = $b =~ /"token":"([^"]+)"/;

my @r = Social::social_flood(
    (map { {from => '127.0.0.2', uri => '/signup',
            json => qq({"username": "more$_", "password": "fill password"})} }
     1 .. 8),
    {from => '127.0.0.2', uri => '/signup', at => 0.05,
     json => '{"username": "dave", "password": "dave password"}'},
    {from => '127.0.0.2', uri => '/signup', at => 0.05,
     json => '{"username": "erin"}'},
    {from => '127.0.0.2', uri => "/user/$main::Id{bob}", at => 0.05,
     method => 'PUT', headers => ["Authorization: Bearer $token"],
     json => '{"password": "new bob password", '
             . '"current_password": "bob password"}'});

Social::social_result("signup with a password: $r[8]{status}\n");
Social::social_result("signup without: $r[9]{status}\n");
Social::social_result("password change: $r[10]{status}\n");
--- response_body
signup with a password: 503
signup without: 201
password change: 503



=== TEST 10: an address refused lately gives its place to one that was not
Five addresses send three signups each at once: more addresses than places,
each refused in its turn, until each has one waiting.  A signin from a sixth
address then takes the place of one of theirs instead of being refused, and
so does a signin with a generated password (admitted before its lookup, as
any), which answers at once.
--- init
Social::social_redis('FLUSHALL');

my @r = Social::social_flood(
    (map { my $a = $_;
           map { {from => "127.0.0.$a", uri => '/signup',
                  json => qq({"username": "f${a}_$_", "password": "fill password"})} }
           1 .. 3 } 2 .. 6),
    main::signin('127.0.0.9', 'bob', 'bob password', at => 0.1),
    main::signin('127.0.0.10', $main::Id{gen}, $main::Generated, at => 0.1));

my ($bob, $gen) = @r[15, 16];

Social::social_result("the flood was refused in part: ",
              ((grep { $_->{status} eq '503' } @r[0 .. 14]) ? 'yes' : 'no'),
              "\n");
Social::social_result("bob: $bob->{status}\n");
Social::social_result("bob in under 2 s: ", main::secs_in($bob, 0, 2), "\n");
Social::social_result("generated: $gen->{status}\n");
Social::social_result("generated at once: ", main::secs_in($gen, 0, 0.5), "\n");
--- response_body
the flood was refused in part: yes
bob: 200
bob in under 2 s: yes
generated: 200
generated at once: yes



=== TEST 11: a hash that runs past the deadline answers when it is done
With a deadline of 1 ms every hash runs past it: a wrong chosen password
answers when its hash is done, not at the deadline: it takes at least a
quarter of the quicker of two right ones (a hash is hundreds of times the
deadline, and a loaded machine can make one signin's hash twice as slow
as another's).
--- http_config eval
$main::HttpConfig =~ s/social_signin_deadline   1s;/social_signin_deadline   1ms;/r
--- init
Social::social_redis('FLUSHALL');

my ($right) = Social::social_flood(main::signin('127.0.0.11', 'alice',
                                                'alice password'));
my ($again) = Social::social_flood(main::signin('127.0.0.13', 'alice',
                                                'alice password'));
my ($wrong) = Social::social_flood(main::signin('127.0.0.12', 'alice',
                                                'wrong password'));

$right = $again if $again->{status} eq '200' && defined $again->{secs}
                   && defined $right->{secs} && $again->{secs} < $right->{secs};

Social::social_result("right: $right->{status}\n");
Social::social_result("wrong: $wrong->{status}\n");
Social::social_result("wrong after its hash: ",
              (defined $wrong->{secs} && defined $right->{secs}
               && $wrong->{secs} >= $right->{secs} / 4
               ? 'yes' : sprintf('no (%.3f s, a hash %.3f s)',
                                 $wrong->{secs} // -1, $right->{secs} // -1)),
              "\n");
Social::social_result("not at the usual deadline: ",
              main::secs_in($wrong, 0, 0.9), "\n");
--- response_body
right: 200
wrong: 401
wrong after its hash: yes
not at the usual deadline: yes
