# vim:set ft= ts=4 sw=4 et fdm=marker:

# Revocation whatever Redis does (issue 10).  A change that PostgreSQL
# committed (sign out, a new password, a new role, a delete) is answered
# 2xx, and the user's older tokens stop working on every node within a
# second, when Redis refuses writes (maxmemory 1, noeviction), times out
# (CLIENT PAUSE), is down, or comes back with older values (the user's key
# and social:rev set back by hand, as a restart from an older snapshot
# would).  A token newer than what Redis holds works at once.
#
# Two nodes: the one Test::Nginx runs and a second nginx that each block
# starts (t/SocialNode.pm), both with two workers, sharing PostgreSQL and
# Redis.  Each change is sent to the first node from a child process while
# the old token is asked of both nodes in turn every 20 ms: the old token
# must have worked just before, no request sent more than 1.5 s after the
# change was sent may be accepted (the bound is 1 s; the rest is room for
# a loaded machine), and once Redis is back every answer must be 401.
#
# TEST 1 makes user 1, an admin; each scenario signs up a user of its own.

use lib 't';
use Test::Nginx::Socket;
use Social;
use SocialNode;

use File::Temp ();
use POSIX ();
use Time::HiRes ();

repeat_each(1);
no_shuffle();
master_on();
workers(2);

# 4 tests a block, and a line of the log in TESTs 2 to 4.  TESTs 2 to 4
# look for no [alert], not for no [error]: while Redis refuses writes, is
# paused or down, what else writes to it (the feed's trim and refresh, the
# revocation records, a command past social_redis_timeout on a loaded
# machine) fails and says so at [error], as it should
plan tests => repeat_each() * (4 * blocks() + 3);

our $HttpConfig = "    social_redis_timeout 500ms;\n";

our $Password = 'correct horse battery';

# a loaded machine, or Valgrind: the bound and the watch grow with it
our $Slack = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;
our $Bound = 1.5 * $Slack;
our $Watch = 2.5 * $Slack;

our %Answer = (signout => 204, password => 200, role => 200, delete => 204);

our %Fault = (
    writes => [sub { redis(qw(CONFIG SET maxmemory-policy noeviction));
                     redis(qw(CONFIG SET maxmemory 1)) },
               sub { redis(qw(CONFIG SET maxmemory 0)) }],
    timeout => [sub { redis(qw(CLIENT PAUSE 1500 ALL)) },
                sub { redis(qw(CLIENT UNPAUSE)) }],
    down => [sub { Social::social_service('stop-redis') },
             sub { Social::social_service('start-redis') }],
);

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig)
        unless defined $block->http_config;

    Social::social_api_defaults($block);
});

run_tests();


sub redis { return Social::social_redis(@_) }

sub auth { return "Authorization: Bearer $_[0]" }

sub admin { return auth(Social::social_token(1, role => 'admin')) }

# request $i goes to the first node when even, to the second when odd
sub req {
    my ($i, @args) = @_;
    my $port = $i % 2 ? SocialNode::port() : SocialNode::first_port();
    return SocialNode::http($port, @args);
}

# $what on the first node: the request of the change
sub change {
    my ($what, $id, $token) = @_;

    return ('POST', '/signout', undef, auth($token)) if $what eq 'signout';
    return ('PUT', "/user/$id",
            qq~{"password": "another password", ~
            . qq~"current_password": "$Password"}~, auth($token))
        if $what eq 'password';
    return ('PUT', "/user/$id/role", '{"role": "admin"}', admin())
        if $what eq 'role';
    return ('DELETE', "/user/$id", undef, auth($token));
}

# the answer, asked again while it is 503 (Redis coming back), 5 s at most
sub until_answer {
    my (@args) = @_;
    my $deadline = Time::HiRes::time() + 5 * $Slack;
    my ($st, $body);

    while (Time::HiRes::time() < $deadline) {
        ($st, $body) = SocialNode::http(@args);
        return ($st, $body) if $st ne '503' && $st ne 'none';
        Time::HiRes::sleep(0.1);
    }

    return ($st, $body);
}

sub signup {
    my $name = shift;

    my ($st, $body) = until_answer(SocialNode::first_port(), 'POST',
        '/signup', qq~{"username": "$name", "password": "$Password"}~);

    $st eq '201' && $body =~ /"user_id":(\d+).*"token":"([^"]+)"/
        or die "signup of $name: $st $body\n";

    return ($1, $2);
}

sub signin {
    my ($port, $id, $password) = @_;

    my ($st, $body) = until_answer($port, 'POST', '/signin',
        qq~{"user_id": $id, "password": "$password"}~);

    return $body =~ /"token":"([^"]+)"/ ? $1 : "none ($st)";
}

# the token works on both nodes: 24 answers 200, 16 of the first node
# (so that both its workers remember the user: the token check of the
# change needs no Redis then) and 8 of the second (a 503 while Redis comes
# back is asked again); or what went wrong
sub works {
    my ($id, $token) = @_;

    for my $i (0 .. 23) {
        my ($st) = until_answer(($i % 3 == 2 ? SocialNode::port()
                                             : SocialNode::first_port()),
                                'GET', "/user/$id", undef, $token);
        return "answered $st" if $st ne '200';
    }

    return '';
}

# the keys as they were, as an older snapshot would have them
sub set_back {
    my ($id, $gen, $rev) = @_;

    if ($gen eq '') {
        redis('DEL', "social:gen:$id");
    } else {
        redis('SET', "social:gen:$id", $gen);
    }

    redis('SET', 'social:rev', $rev eq '' ? 0 : $rev);
}

# one change under one fault: a line saying what was seen
sub scenario {
    my ($fault, $what) = @_;
    my (@wrong, $out);

    my ($id, $token) = signup("${fault}_$what");

    my $before = works($id, auth($token)) || works(1, admin());
    return "$fault $what: the tokens did not work before: $before\n"
        if $before;

    my $gen = redis('GET', "social:gen:$id");
    my $rev = redis('GET', 'social:rev');

    my (undef, $file) = File::Temp::tempfile(UNLINK => 1);

    $Fault{$fault}[0]->() if $Fault{$fault};

    my $t0 = Time::HiRes::time();
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        my ($st) = SocialNode::http(SocialNode::first_port(),
                                    change($what, $id, $token));
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh $st;
        close $fh;
        POSIX::_exit(0);
    }

    my ($i, $refused, $again, @late) = (0, undef, 0);

    if ($fault eq 'snapshot') {
        waitpid $pid, 0;
        set_back($id, $gen, $rev);
    }

    while (Time::HiRes::time() < $t0 + $Watch) {
        my $sent = Time::HiRes::time();
        my ($st) = req($i++, 'GET', "/user/$id", undef, auth($token));

        if ($st =~ /^2/) {
            push @late, sprintf('%.2f', $sent - $t0) if $sent > $t0 + $Bound;

        } elsif (!defined $refused) {
            $refused = $sent - $t0;
        }

        if ($fault eq 'snapshot' && !$again
            && Time::HiRes::time() > $t0 + 1.2 * $Slack)
        {
            # again, once every worker has read the record
            set_back($id, $gen, $rev);
            $again = 1;
        }

        Time::HiRes::sleep(0.02);
    }

    waitpid $pid, 0;

    my $answer = do { local (@ARGV, $/) = ($file); <> } // 'none';

    $Fault{$fault}[1]->() if $Fault{$fault};

    # Redis is back: 10 answers 401 in a row, never a 2xx

    my ($n, $accepted, $last) = (0, 0, '');
    my $deadline = Time::HiRes::time() + 5 * $Slack;

    while ($n < 10 && Time::HiRes::time() < $deadline) {
        my ($st) = req($i++, 'GET', "/user/$id", undef, auth($token));
        $last = $st;

        if ($st eq '401') {
            $n++;
            next;
        }

        $n = 0;
        $accepted++ if $st =~ /^2/;
        Time::HiRes::sleep(0.05);
    }

    push @wrong, "answered $answer" if $answer ne $Answer{$what};
    push @wrong, "the old token was never refused" unless defined $refused;
    push @wrong, "the old token was accepted at @late s" if @late;
    push @wrong, "the old token was accepted after Redis came back"
        if $accepted;
    push @wrong, "then answered $last" if $n < 10;

    # a token newer than what Redis holds works at once, on both nodes,
    # when Redis answers reads

    if ($what ne 'delete' && ($fault eq 'writes' || $fault eq 'snapshot')) {
        $Fault{$fault}[0]->() if $Fault{$fault};
        set_back($id, $gen, $rev) if $fault eq 'snapshot';

        my $fresh = signin(SocialNode::first_port(), $id,
                           $what eq 'password' ? 'another password'
                                               : $Password);
        for my $k (0 .. 3) {
            my ($st) = req($k, 'GET', "/user/$id", undef, auth($fresh));
            push @wrong, "a fresh token answered $st (request $k)"
                if $st ne '200';
        }

        $Fault{$fault}[1]->() if $Fault{$fault};
    }

    return "$fault $what: "
           . (@wrong ? join(', ', @wrong)
                     : "$Answer{$what}, the old token refused in time")
           . "\n";
}

# the four changes under $fault: a line each, what scenario() found
sub scenarios {
    my $fault = shift;
    my $out = '';

    SocialNode::start(http => $HttpConfig);

    for my $what (qw(signout password role delete)) {
        my $line = eval { scenario($fault, $what) };
        $out .= $line // "$fault $what: died: $@";

        # Redis as it was, whatever happened
        $Fault{$fault}[1]->() if $Fault{$fault};
    }

    SocialNode::stop();

    if ($fault eq 'snapshot') {
        # by a worker of either node
        my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
        my $re = qr/revocations published to Redis again/;
        open my $in, '<', "$root/logs/error.log" or die "error.log: $!\n";
        my $n = grep { /$re/ } <$in>;
        close $in;
        $n += SocialNode::error_log($re);
        $out .= "published again: " . ($n ? "yes" : "no") . "\n";
    }

    return $out;
}


__DATA__

=== TEST 1: an admin
--- init
Social::social_reset();
Social::social_redis(qw(CONFIG SET maxmemory 0));
Social::social_sql("INSERT INTO users (username, role, password_hash) VALUES ('boss', 'admin', 'x')");
--- request
GET /user/1
--- more_headers eval
"Authorization: Bearer " . Social::social_token(1, role => 'admin')
--- response_body_like chomp
^\{"user_id":1,"username":"boss",



=== TEST 2: Redis refuses writes: every change is answered, and its older tokens stop on both nodes within a second
--- init
Social::social_result(::scenarios('writes'));
--- response_body
writes signout: 204, the old token refused in time
writes password: 200, the old token refused in time
writes role: 200, the old token refused in time
writes delete: 204, the old token refused in time
--- error_log
social: a revocation did not reach Redis (OOM command not allowed
--- no_error_log
[alert]



=== TEST 3: Redis times out (CLIENT PAUSE): the same
--- init
Social::social_result(::scenarios('timeout'));
--- response_body
timeout signout: 204, the old token refused in time
timeout password: 200, the old token refused in time
timeout role: 200, the old token refused in time
timeout delete: 204, the old token refused in time
--- error_log
social: a revocation did not reach Redis (unavailable)
--- no_error_log
[alert]



=== TEST 4: Redis is down: the same (the token check answers 503 or asks PostgreSQL meanwhile)
--- init
Social::social_result(::scenarios('down'));
--- response_body
down signout: 204, the old token refused in time
down password: 200, the old token refused in time
down role: 200, the old token refused in time
down delete: 204, the old token refused in time
--- error_log
social: a revocation did not reach Redis (unavailable)
--- no_error_log
[alert]



=== TEST 5: Redis comes back with older values (the user's generation and social:rev set back): the same, and the workers publish the records again
--- init
Social::social_result(::scenarios('snapshot'));
--- response_body
snapshot signout: 204, the old token refused in time
snapshot password: 200, the old token refused in time
snapshot role: 200, the old token refused in time
snapshot delete: 204, the old token refused in time
published again: yes
