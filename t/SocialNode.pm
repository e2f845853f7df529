package SocialNode;

# A second nginx node for the tests of several nodes: a real nginx process
# of its own (its own prefix, configuration, port and workers) that loads
# the module and shares the test's PostgreSQL and Redis with the node that
# Test::Nginx runs.  Works under the real Test::Nginx and under t/lib.
#
#     SocialNode::start();                # port TEST_NGINX_PORT + 1
#     my ($status, $body) = SocialNode::http(SocialNode::port(), 'GET',
#                                            '/user/1', undef, @headers);
#     SocialNode::stop();
#
# start() waits until the node answers; stop() sends TERM to the master it
# started (by its pid file) and waits until it is gone; a node left running
# by a test that died is stopped at exit.  signup() and signin() make a
# user and a token through either node.

use strict;
use warnings;

use File::Path ();
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes ();

use Social ();

our $Pid;
our $Owner;     # the process that started it: not a child of the test


# the second node's port: the test's own plus one
sub port {
    my $base = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    return $base + 1;
}


# the test node's port
sub first_port {
    return $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
}


sub root {
    my $root = $ENV{TEST_NGINX_SERVROOT} || 't/servroot';
    require File::Spec;
    return File::Spec->rel2abs($root) . '2';
}


# start(http => "directives", workers => 2): the node, with the API's
# locations and the backends of t/Social.pm
sub start {
    my (%o) = @_;

    stop() if $Pid;

    my $root = root();
    my $port = port();
    my $workers = $o{workers} // 2;
    my $http = $o{http} // '';

    File::Path::rmtree($root);
    File::Path::mkpath(["$root/conf", "$root/logs", "$root/html"]);

    open my $conf, '>', "$root/conf/nginx.conf" or die "nginx.conf: $!\n";
    print $conf <<"_EOC_";
$Social::MainConfig
@{[ $> == 0 ? 'user root;' : '' ]}
daemon on;
master_process on;
worker_processes $workers;
pid $root/logs/nginx.pid;
error_log $root/logs/error.log info;

events {
    worker_connections 256;
}

http {
    access_log off;
    client_body_temp_path $root/client_body_temp;
    proxy_temp_path $root/proxy_temp;
    fastcgi_temp_path $root/fastcgi_temp;
    uwsgi_temp_path $root/uwsgi_temp;
    scgi_temp_path $root/scgi_temp;

$Social::Backends
$http

    server {
        listen 127.0.0.1:$port;
        server_name localhost;

$Social::Locations
    }
}
_EOC_
    close $conf;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

    system($nginx, '-p', "$root/", '-c', "$root/conf/nginx.conf") == 0
        or die "the second node did not start: $nginx exited with $?\n";

    my $deadline = Time::HiRes::time() + 10;

    while (Time::HiRes::time() < $deadline) {
        if (!$Pid && open my $in, '<', "$root/logs/nginx.pid") {
            my $pid = <$in>;
            close $in;
            chomp $pid if defined $pid;
            if ($pid) {
                $Pid = $pid;
                $Owner = $$;
            }
        }

        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                      Proto => 'tcp');
        if ($Pid && $s) {
            close $s;
            return $Pid;
        }

        Time::HiRes::sleep(0.05);
    }

    die "the second node does not answer on port $port\n";
}


sub stop {
    return unless $Pid && $Owner == $$;

    my $pid = $Pid;
    undef $Pid;

    kill 'TERM', $pid;

    my $deadline = Time::HiRes::time() + 10;

    while (kill(0, $pid) && Time::HiRes::time() < $deadline) {
        Time::HiRes::sleep(0.05);
    }
}


# the lines of the node's error log that match $re
sub error_log {
    my $re = shift;
    my $root = root();

    open my $in, '<', "$root/logs/error.log" or return ();
    my @lines = grep { /$re/ } <$in>;
    close $in;

    return @lines;
}


# http($port, $method, $uri, $body, @headers): one request on its own
# connection to either node; the status, the body and the headers (a hash,
# lower-case names)
sub http {
    my ($port, $method, $uri, $body, @headers) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                  Proto => 'tcp', Timeout => 10)
        or return ('none', '', {});

    $body //= '';

    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n"
             . join('', map { "$_\r\n" } @headers)
             . (length $body ? "Content-Type: application/json\r\n"
                               . "Content-Length: " . length($body) . "\r\n"
                             : '')
             . "\r\n$body";

    my $res = '';
    my $sel = IO::Select->new($s);
    my $deadline = Time::HiRes::time() + 10;

    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        last unless $sel->can_read($left);
        my $got = sysread($s, my $chunk, 65536);
        last unless $got;
        $res .= $chunk;
    }

    close $s;

    my $status = $res =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
    my ($head, $got) = split /\r\n\r\n/, $res, 2;
    my %headers;

    for my $line (split /\r\n/, $head // '') {
        next unless $line =~ /^([^:\s]+):\s*(.*)$/;
        $headers{lc $1} = $2;
    }

    return ($status, $got // '', \%headers);
}


# signup($port, $name, $password): the new user's id and token
sub signup {
    my ($port, $name, $password) = @_;

    my ($st, $body) = http($port, 'POST', '/signup',
                           qq~{"username": "$name", "password": "$password"}~);

    $st eq '201' && $body =~ /"user_id":(\d+).*"token":"([^"]+)"/
        or die "signup of $name: $st $body\n";

    return ($1, $2);
}


# signin($port, $id, $password): a token, or "none (status)"
sub signin {
    my ($port, $id, $password) = @_;

    my ($st, $body) = http($port, 'POST', '/signin',
                           qq~{"user_id": $id, "password": "$password"}~);

    return $body =~ /"token":"([^"]+)"/ ? $1 : "none ($st)";
}


END {
    stop();
}

1;
