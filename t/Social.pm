package Social;

# What every ngx_social test file shares: the module, the backends of the
# private PostgreSQL and Redis that make test started, the API's locations,
# and helpers to stop and start a backend, sign tokens and run SQL.  Works
# under the real Test::Nginx and under t/lib.
#
# A test file of the API's endpoints (t/010 on) starts with:
#
#     use lib 't';
#     use Test::Nginx::Socket;
#     use Social;
#
#     repeat_each(1);
#     no_shuffle();
#
#     plan tests => repeat_each() * (4 * blocks());
#
#     add_block_preprocessor(\&social_api_defaults);
#
#     run_tests();
#
# social_api_defaults gives every block, unless the block says otherwise:
#
#     --- config            $Social::Locations: every endpoint at its URL
#     --- no_error_log      [error]
#     --- response_headers  Content-Type: application/json
#
# and the module and the backends (social_defaults).  With the status code
# and a response_body that makes the 4 tests of a block.  A block that needs
# another location writes
# `--- config eval: $Social::Locations . "location = /x { ... }"`.
# A new endpoint gets its location in $Locations, so that every file has it.
#
# The files of the server itself (t/000-t/005) configure their own
# locations and take only social_defaults.
#
# A block without --- request checks text instead of an answer: what its
# --- init found, or what PostgreSQL and Redis hold after it.  The text is
# what the --- init gave social_result(), then the rows of the statements
# of --- sql (one statement a line), then the replies of the commands of
# --- redis (one command a line, split into words as the shell does: quote
# a word with spaces or quotes), each row and reply on its own line; the
# block's --- response_body (or _like) is what it must be:
#
#     === TEST 7: one counter of ann's, with the first spelling
#     --- redis
#     HGET social:err:u:1 'n["grammar","subject verb agreement"]'
#     HGET social:err:u:1 's["grammar","subject verb agreement"]'
#     --- response_body
#     1
#     ["Grammar","Subject Verb Agreement"]
#
# (Test::Nginx evaluates every section before the first block runs, and
# only --- init and the checks run in between, so the block still makes a
# request: GET /social_result, to a location in every server, whose answer
# the text replaces; the statements and commands run then.  Under
# social_api_defaults the answer's Content-Type is text/plain, so that
# such a block is still 4 tests.)
#
# Event ids are large and sparse (sql/008_event_order.sql): the files of
# the feed name events by their numbers, 1 for the first made since
# social_reset(), and check answers through social_numbered_answers (see
# "The events' numbers" below).  A section that needs what earlier blocks
# made, such as an event's id, is given as code (social_late_sections).

use strict;
use warnings;

use Exporter 'import';
use Text::ParseWords ();

our @EXPORT = qw(social_defaults social_api_defaults social_service
                 social_production_defaults
                 social_concurrent social_background social_background_result
                 social_signal social_sql social_psql social_token
                 social_reset
                 social_concurrent_post social_http social_redis
                 social_head social_auth social_auth_json social_result
                 social_flood social_event_n social_event_ns social_event_id
                 social_numbered_events social_numbered_answers);

# the module under test: util/build's test variant (or asan), which alone
# has the test-only endpoints (debug_pg_sleep and the like)
our $MainConfig = "load_module $ENV{TEST_NGINX_SOCIAL_MODULE};";

# the production variant, for a block that checks what it lacks
our $ProductionMainConfig =
    "load_module " . ($ENV{TEST_NGINX_SOCIAL_PRODUCTION_MODULE} // '') . ";";

our $Backends = <<"_EOC_";
    social_postgres "host=127.0.0.1 port=$ENV{TEST_NGINX_PG_PORT} dbname=social user=social";
    social_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    social_jwt_key_file $ENV{TEST_NGINX_JWT_KEY_FILE};
    social_password_cost 10;
_EOC_

# the locations of the API's endpoints, at the URLs of ../shared/API.md
our $Locations = <<'_EOC_';
    location = /signup                 { social_endpoint signup; }
    location = /users/                 { social_endpoint signup; }
    location = /signin                 { social_endpoint signin; }
    location = /signout                { social_endpoint signout; }
    location ~ ^/group/(\d+)$          { social_endpoint group; }
    location ~ ^/user/(\d+)$           { social_endpoint user; }
    location ~ ^/user/(\d+)/role$      { social_endpoint user_role; }
    location = /posts                  { social_endpoint posts; }
    location ~ ^/posts/(\d+)$          { social_endpoint post; }
    location ~ ^/posts/(\d+)/like$     { social_endpoint like; }
    location ~ ^/user/(\d+)/follow$    { social_endpoint follow; }
    location ~ ^/user/(\d+)/block$     { social_endpoint block; }
    location = /feed                   { social_endpoint feed; }
    location ~ ^/user/(\d+)/posts$     { social_endpoint user_posts; }
    location ~ ^/user/(\d+)/followers$ { social_endpoint user_followers; }
    location ~ ^/user/(\d+)/following$ { social_endpoint user_following; }
    location = /admin/cache/evict      { social_endpoint cache_evict; }
    location = /conversations          { social_endpoint conversations; }
    location = /conversations/         { social_endpoint conversations; }
    location ~ ^/conversations/(\d+)/utterances$ {
        social_endpoint conversation_utterances;
    }
    location = /utterances             { social_endpoint utterances; }
    location = /utterances/            { social_endpoint utterances; }
    location = /errors                 { social_endpoint errors; }
    location = /simulate-and-generate  { social_endpoint errors; }
    location = /exercises              { social_endpoint exercises; }
    location = /generate-exercise      { social_endpoint exercises; }
_EOC_


# The shipped production configuration (conf/production.conf) for the
# files that test it (t/040 on): the block's http_config is $Production
# (conf/social/http.conf, and the internal server on a socket in the
# server root with conf/social/internal.conf, wired as production.conf
# wires them), its config $ProductionLocations (conf/social/public.conf).
our $ConfDir = "$ENV{TEST_NGINX_UTIL}/../conf";
our $InternalSocket = "$ENV{TEST_NGINX_SERVROOT}/logs/internal.sock";

our $Production = <<"_EOC_";
    include $ConfDir/social/http.conf;

    upstream social_internal {
        server     unix:$InternalSocket;
        keepalive  16;
    }

    server {
        listen  unix:$InternalSocket;

        include  $ConfDir/social/internal.conf;
    }
_EOC_

our $ProductionLocations = "    include $ConfDir/social/public.conf;\n";


# add_block_preprocessor(\&social_production_defaults): the production
# configuration above for every block that does not set its own, and
# --- no_error_log [error]; then social_defaults
sub social_production_defaults {
    my $block = shift;

    $block->set_value("http_config", $Production)
        unless defined $block->http_config;
    $block->set_value("config", $ProductionLocations)
        unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;

    social_defaults($block);
}


# the location that answers the request of a block without one (see the top)
our $ResultLocation = <<'_EOC_';
        location = /social_result {
            default_type text/plain;
            return 200 "the text of a check replaces this answer\n";
        }
_EOC_

# what the --- init of the running block gave social_result()
our $Result;


# add_block_preprocessor(\&social_defaults): the module is loaded and the
# backends are configured unless the block says otherwise
sub social_defaults {
    my $block = shift;

    social_late_sections($block);
    social_result_block($block);

    if (!defined $block->main_config) {
        $block->set_value("main_config", $MainConfig);
    }

    my $http = $block->http_config // '';

    if ($http !~ /\b(?:social_postgres|social_redis)\s/) {
        $block->set_value("http_config", $Backends . $http);
    }
}


# add_block_preprocessor(\&social_api_defaults): the defaults of the API's
# test files (see the top of this file), then social_defaults
sub social_api_defaults {
    my $block = shift;

    $block->set_value("config", $Locations) unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;
    $block->set_value("response_headers",
                      defined $block->request
                      || defined $block->raw_request
                      || defined $block->pipelined_requests
                      ? "Content-Type: application/json"
                      : "Content-Type: text/plain")
        unless defined $block->response_headers;

    social_defaults($block);
}


# The sections of a block that name what earlier blocks made (an event's
# id, see "The events' numbers" below) cannot be written before those
# blocks ran: Test::Nginx evaluates every section before the first block.
# Such a section is given as code, `--- error_log eval: sub { ... }`, and
# is what the code returns as the block starts, after the blocks before it
# and before its --- init.
our @LateSections = qw(request error_log no_error_log);

sub social_late_sections {
    my $block = shift;

    for my $name (@LateSections) {
        my $value = $block->$name;
        $block->set_value($name, $value->()) if ref $value eq 'CODE';
    }
}


# a block without --- request: its request and the text it checks (see the
# top of this file)
sub social_result_block {
    my $block = shift;

    # in every server, from the first block on: a block without --- config
    # keeps the nginx of the block before it
    Test::Nginx::Socket::config_preamble($ResultLocation);

    return if $block->{_social_result}++;

    $Result = undef;

    my $sql = $block->sql;
    my $redis = $block->redis;

    if (defined $block->request || defined $block->raw_request
        || defined $block->pipelined_requests)
    {
        die $block->name . ": --- sql and --- redis belong to a block"
            . " without --- request\n"
            if defined $sql || defined $redis;
        return;
    }

    die $block->name . ": --- response_body_filters and a check of"
        . " social_result, --- sql or --- redis\n"
        if defined $block->response_body_filters;

    $block->set_value("request", "GET /social_result");
    $block->set_value("response_body_filters",
                      sub { social_result_text($sql, $redis) });
}


# the text a block without --- request checks, once its --- init ran
sub social_result_text {
    my ($sql, $redis) = @_;

    my $text = $Result // '';

    my $ok = eval {
        for my $statement (grep { /\S/ } split /\n/, $sql // '') {
            $text .= join '', map { "$_\n" } social_sql($statement);
        }

        for my $command (grep { /\S/ } split /\n/, $redis // '') {
            my @words = Text::ParseWords::shellwords($command);
            die "cannot split: $command\n" unless @words;
            $text .= social_redis(@words) . "\n";
        }

        1;
    };

    return $ok ? $text : $text . "social: the check failed: $@";
}


# social_result($text, ...): from the --- init of a block without
# --- request, what it found, to be compared with its --- response_body
sub social_result {
    $Result = ($Result // '') . join '', @_;
}

# social_result_lines(@lines): the same, each of @lines a line of its own
sub social_result_lines {
    social_result(map { "$_\n" } @_);
}


# social_service("stop-pg") and the like: util/services on the instance
# util/test started (test, or asan for make test-asan)
sub social_service {
    my $what = shift;

    my $instance = $ENV{TEST_NGINX_SOCIAL_INSTANCE} || 'test';

    system("$ENV{TEST_NGINX_UTIL}/services $what $instance >/dev/null") == 0
        or die "util/services $what $instance failed\n";
}


# social_lock_for($tables, $secs): a child holds the tables (ACCESS
# EXCLUSIVE) for $secs seconds, so that statements on them wait; its pid,
# half a second after it started (the lock taken)
sub social_lock_for {
    my ($tables, $secs) = @_;

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        eval { social_sql("BEGIN; LOCK TABLE $tables IN ACCESS "
                          . "EXCLUSIVE MODE; SELECT pg_sleep($secs); "
                          . "COMMIT") };
        require POSIX;
        POSIX::_exit(0);
    }

    select undef, undef, undef, 0.5;
    return $pid;
}


# social_concurrent($n, $uri, @headers): $n requests on $n connections at
# once; the count of each status ("200:198 503:2"), and in list context
# the answers too (a reference to their texts)
sub social_concurrent {
    my ($n, $uri, @headers) = @_;

    return social_at_once($n, "GET $uri HTTP/1.1\r\nHost: localhost\r\n"
                              . join('', map { "$_\r\n" } @headers)
                              . "Connection: close\r\n\r\n");
}


# the same request on $n connections (or, given a list of requests, each
# on its own), every one sent before any answer is read; what
# social_concurrent returns, the answers in the order of the requests
sub social_at_once {
    my ($n, $request) = @_;
    my @requests = ref $request ? @$request : ($request) x $n;

    $n = @requests;

    require IO::Socket::INET;
    require IO::Select;

    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    my (%buf, %sock);
    my $sel = IO::Select->new;

    for my $i (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Proto => 'tcp')
            or die "connect: $!\n";
        $sock{$i} = $s;
        $buf{$s} = '';
    }

    for my $i (1 .. $n) {
        my $s = $sock{$i};
        print $s $requests[$i - 1];
        $sel->add($s);
    }

    my $deadline = time + 20;

    while ($sel->count && time < $deadline) {
        for my $s ($sel->can_read(1)) {
            my $got = sysread($s, my $chunk, 65536);
            if (!$got) {
                $sel->remove($s);
                close $s;
                next;
            }
            $buf{$s} .= $chunk;
        }
    }

    my %count;
    for my $s (values %sock) {
        my $status = $buf{$s} =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
        $count{$status}++;
    }

    my $summary = join ' ', map { "$_:$count{$_}" } sort keys %count;

    return wantarray ? ($summary, [ map { $buf{ $sock{$_} } } 1 .. $n ])
                     : $summary;
}


# social_background($uri): one request from a child process, under way
# while the --- init goes on; social_background_result() waits for it
sub social_background {
    my $uri = shift;

    pipe my $in, my $out or die "pipe: $!\n";

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid) {
        close $out;
        return { pid => $pid, in => $in };
    }

    close $in;
    my $summary = eval { social_concurrent(1, $uri) } // "failed: $@";
    print $out "$summary\n";
    close $out;
    require POSIX;
    POSIX::_exit(0);
}


# social_background_result($bg): once the request of social_background()
# is answered, its status as social_concurrent() counts them ("200:1\n")
sub social_background_result {
    my $bg = shift;
    my $in = $bg->{in};

    local $/;
    my $summary = <$in> // '';
    close $in;
    waitpid $bg->{pid}, 0;

    return $summary;
}


# social_signal("HUP"): a signal to the nginx master of the test;
# social_signal("QUIT", 0.3): the same 0.3 s later, from a child process,
# so that the block's own request is under way when it arrives
sub social_signal {
    my ($sig, $delay) = @_;
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';

    if ($delay) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        return if $pid;

        select undef, undef, undef, $delay;
        eval { social_signal($sig) };
        require POSIX;
        POSIX::_exit($@ ? 1 : 0);
    }

    open my $in, '<', "$root/logs/nginx.pid" or die "nginx.pid: $!\n";
    my $pid = <$in>;
    close $in;
    chomp $pid;

    kill $sig, $pid or die "kill $sig $pid: $!\n";
}


# social_sql("..."): a statement on the test database, its output rows
sub social_sql {
    return social_psql('social', 'social', @_);
}


# social_psql($db, $user, "..."): a statement on another database of the
# test server (or as another role), its output rows
sub social_psql {
    my ($db, $user, $sql) = @_;

    # NOTICEs (TRUNCATE's cascades) are not the test's output; a statement
    # of the test's own that runs two minutes is a fault of the test (a
    # plan made on stale statistics), not a wait the run should sit out
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning'
                          . ' -c statement_timeout=120s';

    open my $psql, '-|', 'psql', '-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1',
        '-h', '127.0.0.1', '-p', $ENV{TEST_NGINX_PG_PORT}, '-U', $user,
        '-d', $db, '-c', $sql
        or die "psql: $!\n";
    my @rows = <$psql>;
    close $psql or die "psql failed on: $sql\n";
    chomp @rows;

    return wantarray ? @rows : $rows[0];
}


# The events' numbers.  An event's id is made of its transaction's id
# (sql/008_event_order.sql): large and sparse, increasing in the order of
# writes made one after the other.  The tests name an event by its number
# instead: the n-th event inserted since social_reset(), from 1, as the
# ids were before 008.  The test database logs them (never a migration):
# after each insert into events a trigger writes the event's id into
# test_event_log, whose n counts them; social_reset() makes the log when
# it is missing and empties it, n from 1.  An event keeps its number when
# it or others are deleted.
our $EventLog = <<'_EOC_';
CREATE TABLE IF NOT EXISTS test_event_log (
    n         bigserial PRIMARY KEY,
    event_id  bigint UNIQUE
);
CREATE OR REPLACE FUNCTION test_event_log()
RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_event_log (event_id) VALUES (NEW.event_id);
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER test_event_log AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION test_event_log();
_EOC_

# the log as read last: an event's number by its id, its id by its number
our (%EventN, @EventId);

# reads the log again
sub social_event_log {
    %EventN = ();
    @EventId = ();

    for (social_sql("SELECT n || ' ' || event_id FROM test_event_log")) {
        my ($n, $id) = split / /;
        $EventN{$id} = $n;
        $EventId[$n] = $id;
    }
}

# social_event_n($id): the number of the event of id $id; undef when the
# log has none
sub social_event_n {
    my $id = shift;

    return undef unless defined $id && $id =~ /^\d+\z/;

    social_event_log() unless exists $EventN{$id};

    return $EventN{$id};
}

# social_event_ns(@ids): the number of each id, as social_event_n; an id
# the log has not is "?id", which no number can be taken for
sub social_event_ns {
    return map { social_event_n($_) // "?$_" } @_;
}

# social_event_id($n): the id of event number $n, for a block that names
# it to PostgreSQL or Redis; dies when there is no event $n
sub social_event_id {
    my $n = shift;

    social_event_log() unless defined $EventId[$n];

    return $EventId[$n] // die "social_event_id: no event number $n\n";
}

# social_numbered_events($json): the text with the id of each
# "event_id":<id> as the event's number; an id the log has not stays as it
# is (008's ids are above 400 million: never a number a block expects).
# For --- response_body_filters.
sub social_numbered_events {
    my $text = shift;

    $text =~ s{("event_id":)(\d+)}{$1 . (social_event_n($2) // $2)}ge;

    return $text;
}

# add_block_preprocessor(\&social_numbered_answers), or called from one:
# the answer of a block with a request is checked with its events'
# numbers for their ids (social_numbered_events), unless the block has
# --- response_body_filters of its own
sub social_numbered_answers {
    my $block = shift;

    $block->set_value("response_body_filters", \&social_numbered_events)
        if (defined $block->request || defined $block->raw_request
            || defined $block->pipelined_requests)
           && !defined $block->response_body_filters;
}


# social_reset(): no users, no groups, ids from 1, event numbers from 1
# (the log above made if missing), nothing cached in Redis
sub social_reset {
    my $flushall = sub {
        system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} FLUSHALL >/dev/null")
            == 0 or die "redis-cli FLUSHALL failed\n";
    };

    # Redis first: a flush of the nginx just started (or of the file
    # before, still stopping) finds no points left there; one already
    # writing may still take a lock the TRUNCATE needs in the other order
    # (a deadlock, PostgreSQL cancels one side), so the TRUNCATE is tried
    # again; Redis is emptied again after it
    $flushall->();

    for my $try (1 .. 5) {
        last if eval {
            social_sql($EventLog . "TRUNCATE users, groups, test_event_log"
                       . " RESTART IDENTITY CASCADE");
            1;
        };
        die $@ if $try == 5;
        select undef, undef, undef, 0.2;
    }

    %EventN = ();
    @EventId = ();
    $flushall->();
}


sub b64url {
    require MIME::Base64;
    my $s = MIME::Base64::encode_base64(shift, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}


# social_cursor(a, b): a cursor as the module issues them (a position in a
# list and 8 bytes of its HMAC with the server key)
sub social_cursor {
    my ($a, $b) = @_;

    require Digest::SHA;

    open my $in, '<:raw', $ENV{TEST_NGINX_JWT_KEY_FILE} or die "key: $!\n";
    local $/;
    my $key = <$in>;
    close $in;

    my $text = "c:$a:$b";
    return b64url($text . substr(Digest::SHA::hmac_sha256($text, $key), 0, 8));
}


# social_token(user_id, role => 'user', gen => 0, exp => +3600, alg => ...):
# a token signed with the test key, as the module signs them, or broken on
# purpose with the options
sub social_token {
    my ($id, %o) = @_;

    require Digest::SHA;

    open my $in, '<:raw', $ENV{TEST_NGINX_JWT_KEY_FILE} or die "key: $!\n";
    local $/;
    my $key = <$in>;
    close $in;

    my $now = time;
    my $header = $o{header}
                 // '{"alg":"' . ($o{alg} // 'HS256') . '","typ":"JWT"}';
    my $payload = $o{payload}
                  // sprintf('{"sub":"%s","role":"%s","iat":%d,"exp":%d,'
                             . '"gen":%d}', $id, $o{role} // 'user', $now,
                             $now + ($o{exp} // 3600), $o{gen} // 0);

    my $signed = b64url($header) . '.' . b64url($payload);
    my $sig = b64url(Digest::SHA::hmac_sha256($signed, $o{key} // $key));

    return "$signed.$sig";
}


# social_concurrent_post($n, $uri, $json, @headers): as social_concurrent,
# with $n POST requests of the JSON body $json, all sent before any answer
# is read
sub social_concurrent_post {
    my ($n, $uri, $json, @headers) = @_;

    return social_at_once($n, "POST $uri HTTP/1.1\r\nHost: localhost\r\n"
                              . "Connection: close\r\n"
                              . "Content-Type: application/json\r\n"
                              . join('', map { "$_\r\n" } @headers)
                              . "Content-Length: " . length($json)
                              . "\r\n\r\n$json");
}


# social_flood({from => '127.0.0.2', uri => '/signin', json => '{...}',
# at => 0.1, close => 0.2}, ...): each request on its own connection from
# the local address "from", sent "at" seconds after the first (0 when
# absent), its connection closed "close" seconds after it was sent when
# given; for each, in order, {status, secs (from its sending to its whole
# answer), retry_after, body}
sub social_flood {
    my @reqs = @_;

    require IO::Socket::INET;
    require IO::Select;
    require Time::HiRes;

    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    my $sel = IO::Select->new;
    my $t0 = Time::HiRes::time();
    my (%by, @out);

    for my $i (0 .. $#reqs) {
        $out[$i] = {status => 'none', secs => undef, buf => ''};
    }

    my @todo = sort { ($reqs[$a]{at} // 0) <=> ($reqs[$b]{at} // 0) }
               0 .. $#reqs;

    while (@todo || $sel->count) {
        my $now = Time::HiRes::time() - $t0;

        while (@todo && ($reqs[$todo[0]]{at} // 0) <= $now) {
            my $i = shift @todo;
            my $r = $reqs[$i];
            my $json = $r->{json} // '';
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                          LocalAddr => $r->{from}
                                                       // '127.0.0.1',
                                          Proto => 'tcp')
                or die "connect from " . ($r->{from} // '') . ": $!\n";

            print $s (($r->{method} // 'POST') . " $r->{uri} HTTP/1.1\r\n"
                      . "Host: localhost\r\nConnection: close\r\n"
                      . "Content-Type: application/json\r\n"
                      . join('', map { "$_\r\n" } @{$r->{headers} // []})
                      . "Content-Length: " . length($json) . "\r\n\r\n"
                      . $json);

            $out[$i]{sent} = Time::HiRes::time();
            $by{$s} = $i;
            $sel->add($s);
        }

        for my $s ($sel->handles) {
            my $i = $by{$s};
            my $close = $reqs[$i]{close};

            if (defined $close
                && Time::HiRes::time() - $out[$i]{sent} >= $close)
            {
                $sel->remove($s);
                close $s;
                $out[$i]{status} = 'closed';
            }
        }

        die "social_flood: no answer in 30 s\n"
            if Time::HiRes::time() - $t0 > 30;

        for my $s ($sel->can_read(0.01)) {
            my $i = $by{$s};
            my $got = sysread($s, my $chunk, 65536);

            if ($got) {
                $out[$i]{buf} .= $chunk;
                next;
            }

            $sel->remove($s);
            close $s;
            $out[$i]{secs} = Time::HiRes::time() - $out[$i]{sent};
        }
    }

    for my $o (@out) {
        next if $o->{status} eq 'closed';

        my ($head, $body) = split /\r\n\r\n/, delete $o->{buf}, 2;

        $o->{status} = $1 if ($head // '') =~ m{^HTTP/1\.1 (\d+)};
        $o->{retry_after} = $1 if ($head // '') =~ /^Retry-After: (\d+)/mi;
        $o->{body} = $body // '';
    }

    return @out;
}


# social_http($method, $uri, $body, @headers): one request on its own
# connection, for an --- init that needs what an answer says (a token);
# the status, the body and the headers (a hash, lower-case names)
sub social_http {
    my ($method, $uri, $body, @headers) = @_;

    require IO::Socket::INET;

    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!\n";

    $body //= '';

    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n"
             . join('', map { "$_\r\n" } @headers)
             . (length $body ? "Content-Type: application/json\r\n"
                               . "Content-Length: " . length($body) . "\r\n"
                             : '')
             . "\r\n$body";

    local $/;
    my $res = <$s> // '';
    close $s;

    my $status = $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
    my ($head, $got) = split /\r\n\r\n/, $res, 2;
    my %headers;

    for my $line (split /\r\n/, $head // '') {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        my $name = lc $1;
        $headers{$name} = exists $headers{$name} ? "$headers{$name}, $2" : $2;
    }

    return ($status, $got // '', \%headers);
}


# social_head([$uri, ...], @headers): each $uri asked with GET and with
# HEAD; a line a URI, "uri: status, same headers, no body" when HEAD
# answers GET's status and headers (all but Date) without a body, and what
# differs otherwise
sub social_head {
    my ($uris, @headers) = @_;
    my $out = '';

    for my $uri (@$uris) {
        my ($gs, $gb, $gh) = social_http('GET', $uri, undef, @headers);
        my ($hs, $hb, $hh) = social_http('HEAD', $uri, undef, @headers);
        my %names = map { $_ => 1 } keys %$gh, keys %$hh;

        delete $names{date};

        my @differ = grep { ($gh->{$_} // '-') ne ($hh->{$_} // '-') }
                     sort keys %names;

        $out .= "$uri: "
                . ($gs eq $hs ? $gs : "GET $gs, HEAD $hs") . ', '
                . (@differ ? "headers differ: @differ" : 'same headers') . ', '
                . (length $hb ? length($hb) . ' bytes of body' : 'no body')
                . "\n";
    }

    return $out;
}

# social_redis(@args): one command on the test Redis with redis-cli; its
# output, without the last newline
sub social_redis {
    open my $in, '-|', 'redis-cli', '-p', $ENV{TEST_NGINX_REDIS_PORT}, @_
        or die "redis-cli: $!\n";
    local $/;
    my $out = <$in> // '';
    close $in;
    $out =~ s/\n+\z//;
    return $out;
}

# social_auth($id, role => ...): the Authorization header of a token of
# user $id (the options of social_token); social_auth_json adds the JSON
# content type, for the more_headers of a block with a body
sub social_auth {
    my $id = shift;
    return "Authorization: Bearer " . social_token($id, @_);
}

sub social_auth_json {
    return social_auth(@_) . "\r\nContent-Type: application/json";
}

1;
