# vim:set ft= ts=4 sw=4 et fdm=marker:

# util/lib.sh's nginx_stop PREFIX, which every script that stops nginx
# calls (make stop, make run's Ctrl-C, the benchmarks, util/faults): the
# nginx of PREFIX/logs/nginx.pid stopped gracefully and waited for, its
# processes gone with it, the pid file removed by its master; nothing to
# do where nothing runs; and a master that waits for a process which does
# not read the master's channel (nginx's cache loader while it walks a
# large cache) ended by sending that process QUIT itself, after 3 s,
# rather than TERM after 30.  The last case is played by two small Perl
# processes in nginx's place: a cache loader only walks a cache a minute
# after a start.

use lib 't';
use Test::Nginx::Socket;
use Social;

use File::Temp ();
use POSIX ();
use Time::HiRes ();

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (3 * blocks());

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;

    social_defaults($block);
});

# a prefix of its own, with logs/
sub prefix {
    my $p = File::Temp::tempdir('social-stop-XXXXXX', TMPDIR => 1,
                                CLEANUP => 1);
    mkdir "$p/logs" or die "$p/logs: $!\n";
    mkdir "$p/conf" or die "$p/conf: $!\n";
    return $p;
}

sub alive {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh>;
    close $fh;
    # the state after the command's parenthesis: Z once it has exited
    return $stat =~ /.*\)\s+(\S)/s && $1 ne 'Z';
}

sub children {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/task/$pid/children" or return ();
    my @c = split ' ', (<$fh> // '');
    close $fh;
    return @c;
}

sub read_pid {
    my $file = shift;
    open my $fh, '<', $file or return undef;
    my $pid = <$fh>;
    close $fh;
    chomp $pid if defined $pid;
    return $pid;
}

# nginx_stop on the prefix: "exit N" and what it said (its "social: "
# lines), and the seconds it took
sub stop {
    my $prefix = shift;
    my $t0 = Time::HiRes::time();
    open my $fh, '-|', 'bash', '-c',
         'exec 2>&1; . "$1/lib.sh"; nginx_stop "$2"; echo "exit $?"',
         '_', $ENV{TEST_NGINX_UTIL}, $prefix
        or die "bash: $!\n";
    my $said = do { local $/; <$fh> } // '';
    close $fh;
    my $took = Time::HiRes::time() - $t0;
    my @lines = grep { /\S/ } split /\n/, $said;
    my ($exit) = grep { /^exit / } @lines;
    return ($exit // "no exit", (grep { !/^exit / } @lines), $took);
}

# wait until a file holds a pid, at most 10 s
sub wait_pid {
    my $file = shift;
    for (1 .. 100) {
        my $pid = read_pid($file);
        return $pid if defined $pid && $pid =~ /^\d+$/;
        Time::HiRes::sleep(0.1);
    }
    die "no pid in $file\n";
}

# the stand-ins for a master and a cache loader: the master writes the pid
# file, forks the loader, and on QUIT waits for it, then removes the pid
# file, as nginx's master does; the loader ignores its master entirely and
# exits on a QUIT of its own.  Each notes what happened in PREFIX/logs/.
sub spawn_pair {
    my $p = shift;
    local $| = 1;
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        # none of the runner's handlers (a runner's INT or TERM handler
        # stops the test's nginx as it exits)
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT CHLD);
        POSIX::setsid();
        # nothing of the runner's held open (its output, its sockets)
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        POSIX::close($_) for 3 .. 1023;
        my $master = fork // POSIX::_exit(1);
        POSIX::_exit(0) if $master;     # daemonised, as nginx is

        my $mpid = $$;
        my $loader = fork // POSIX::_exit(1);
        if ($loader == 0) {
            $SIG{QUIT} = sub {
                note_in("$p/logs/loader", "QUIT");
                POSIX::_exit(0);
            };
            # never past its master, nor two minutes
            for (1 .. 120) {
                last if getppid() != $mpid;
                sleep 1;
            }
            POSIX::_exit(0);
        }

        my $quit = 0;
        $SIG{QUIT} = sub { $quit = 1 };
        open my $fh, '>', "$p/logs/nginx.pid" or POSIX::_exit(1);
        print $fh "$$\n";
        close $fh;
        for (1 .. 120) {
            last if $quit;
            sleep 1;
        }
        note_in("$p/logs/master", "QUIT");
        waitpid $loader, 0;
        note_in("$p/logs/master", "its loader exited");
        unlink "$p/logs/nginx.pid";
        POSIX::_exit(0);
    }
    waitpid $pid, 0;
    return wait_pid("$p/logs/nginx.pid");
}

sub note_in {
    my ($file, $text) = @_;
    open my $fh, '>>', $file or return;
    print $fh "$text\n";
    close $fh;
}

sub slurp {
    my $file = shift;
    open my $fh, '<', $file or return "(nothing)\n";
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

run_tests();

__DATA__

=== TEST 1: a running nginx: stopped, its master and workers gone, the pid file removed
--- config
--- init
my $p = main::prefix();
open my $fh, '>', "$p/conf/nginx.conf" or die "$!\n";
print $fh <<"_EOC_";
worker_processes 2;
pid logs/nginx.pid;
error_log logs/error.log;
events { }
http {
    access_log off;
    server { listen unix:$p/logs/s.sock; return 204; }
}
_EOC_
close $fh;
system($ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
       '-p', "$p/", '-c', 'conf/nginx.conf', '-e', 'logs/error.log') == 0
    or die "nginx did not start\n";
my $master = main::wait_pid("$p/logs/nginx.pid");
my @workers;
for (1 .. 50) {
    @workers = main::children($master);
    last if @workers >= 2;
    Time::HiRes::sleep(0.1);
}
my ($exit, @said) = main::stop($p);
pop @said;
Social::social_result_lines("workers before: " . scalar(@workers), $exit, @said,
          "master alive: " . (main::alive($master) ? "yes" : "no"),
          "workers alive: " . scalar(grep { main::alive($_) } @workers),
          "pid file: " . (-e "$p/logs/nginx.pid" ? "there" : "gone"));
# whatever the block says, nothing of it left running
kill 'KILL', grep { main::alive($_) } $master, @workers;
--- response_body
workers before: 2
exit 0
master alive: no
workers alive: 0
pid file: gone



=== TEST 2: nothing running: no pid file, a pid that no process has, or a process that has exited but is not yet waited for (a zombie); nothing said, at once
--- config
--- init
my $p = main::prefix();
my ($exit1, @said1) = main::stop($p);
my $took1 = pop @said1;
# past the largest pid_max Linux allows (2^22): no process has it
open my $fh, '>', "$p/logs/nginx.pid" or die "$!\n";
print $fh "4194305\n";
close $fh;
my ($exit2, @said2) = main::stop($p);
my $took2 = pop @said2;
# a child of this process that has exited, not yet waited for: kill()
# still finds it
my $zombie = fork // die "fork: $!\n";
POSIX::_exit(0) if $zombie == 0;
Time::HiRes::sleep(0.2);
open $fh, '>', "$p/logs/nginx.pid" or die "$!\n";
print $fh "$zombie\n";
close $fh;
my $was = !-e "/proc/$zombie" ? "reaped" : main::alive($zombie) ? "alive" : "a zombie";
my ($exit3, @said3) = main::stop($p);
my $took3 = pop @said3;
waitpid $zombie, 0;
Social::social_result_lines("no pid file: $exit1", @said1,
          "a pid no process has: $exit2", @said2,
          "a child that exited ($was): $exit3", @said3,
          "at once: " . ($took1 < 2 && $took2 < 2 && $took3 < 2 ? "yes" : "no ($took1 s, $took2 s, $took3 s)"));
--- response_body
no pid file: exit 0
a pid no process has: exit 0
a child that exited (a zombie): exit 0
at once: yes



=== TEST 3: a master waiting for a process that does not read its channel (the cache loader's walk): that process is sent QUIT itself, and the master exits on its own, long before TERM
--- config
--- init
my $p = main::prefix();
my $master = main::spawn_pair($p);
my ($loader) = main::children($master);
die "the stand-in master has no loader\n" unless defined $loader;
my ($exit, @said) = main::stop($p);
my $took = pop @said;
Social::social_result_lines($exit, @said,
          "master: " . main::slurp("$p/logs/master"),
          "loader: " . main::slurp("$p/logs/loader"),
          "master alive: " . (main::alive($master) ? "yes" : "no"),
          "loader alive: " . (main::alive($loader) ? "yes" : "no"),
          "pid file: " . (-e "$p/logs/nginx.pid" ? "there" : "gone"),
          "after the 3 s, before TERM: " . ($took >= 2.5 && $took < 25 ? "yes" : "no ($took s)"));
# whatever the block says, nothing of it left running
kill 'KILL', grep { main::alive($_) } $master, $loader;
--- response_body
exit 0
master: QUIT
its loader exited

loader: QUIT

master alive: no
loader alive: no
pid file: gone
after the 3 s, before TERM: yes
