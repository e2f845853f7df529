package Test::Nginx::Socket;

# A small, self-contained stand-in for the subset of Test::Nginx::Socket
# (openresty/test-nginx) that this project's t/*.t files use.
#
# It is written from scratch against the documented behaviour of the real
# module and relies on core Perl modules only (no Test::Base, no Spiffy,
# no LWP), so that the test suite can run where the real Test::Nginx is not
# installed.  The same .t files are meant to run unchanged, with the same
# test counts, under either implementation.
#
# Supported: the `__DATA__` block format (=== / --- sections, filters such as
# `eval` and `chomp`, the one-line `--- name: value` form, ONLY/SKIP/LAST),
# nginx.conf generation, starting/stopping nginx, HTTP/1.1 requests
# (request, request eval with arrays and packets, pipelined_requests,
# more_headers, raw_request), and the checks error_code(_like),
# response_headers(_like), raw_response_headers_(un)like, response_body(_like,
# _unlike, _filters), error_log, no_error_log, grep_error_log(_out),
# access_log, no_access_log, shutdown_error_log, no_shutdown_error_log,
# must_die, abort, timeout, wait, init, user_files, skip_nginx, skip_eval,
# todo, tcp_listen/tcp_reply/tcp_query(_len).
#
# Not supported (silently ignored or reported): HTTP/2, HTTP/3, curl, stap,
# TEST_NGINX_USE_HUP, TEST_NGINX_CHECK_LEAK, TEST_NGINX_BENCHMARK, udp_listen.

use strict;
use warnings;

our $VERSION = '0.33';

use Test::More ();
use Carp ();
use Cwd ();
use File::Spec ();
use File::Path ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Scalar::Util ();
use Time::HiRes ();

# ---------------------------------------------------------------------------
# Settings (same environment variables and defaults as the real runner)
# ---------------------------------------------------------------------------

our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $Workers        = 1;
our $WorkerConnections = 64;
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $DaemonEnabled  = 'on';
our $ServerPort     = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort || 1984;
our $ServerAddr     = '127.0.0.1';
our $ServerName     = 'localhost';
our $NoRootLocation = 0;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $RepeatEach     = 1;
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind    = $ENV{TEST_NGINX_USE_VALGRIND};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $NoNginxManager = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $ForceRestartOnTest = defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
                          ? $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} : 1;
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType      = $ENV{TEST_NGINX_EVENT_TYPE};
our $ReusePort      = $ENV{TEST_NGINX_REUSE_PORT};
our $WorkerUser     = $ENV{TEST_NGINX_WORKER_USER};
our $NoLongString;
our $ConfigPreamble = '';
our $FilterHttpConfig;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;
our @TestCleanupHandlers;
our @ResponseBodyChecks;

our ($NginxVersion, $NginxRawVersion, $PcreVersion);
our ($PrevConfig, $PrevBlock);
our $ErrLogFilePos = 0;
our $ChildPid;        # nginx under valgrind (our own child)
our $TcpServerPid;    # mock tcp server (our own child)
our $InSubprocess;
our $RandPorts = {};
our $TotalConnectingTimeouts = 0;
our $RunTestsCalled;  # END only stops an nginx when run_tests() ran

if (defined $WorkerUser && $WorkerUser !~ /^\w[-\w]+(?:\s+\w[-\w]+)?$/) {
    die "Bad value in the env TEST_NGINX_WORKER_USER: $WorkerUser\n";
}

for my $unsupported (qw(TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3
                        TEST_NGINX_USE_HUP TEST_NGINX_USE_STAP
                        TEST_NGINX_CHECK_LEAK TEST_NGINX_BENCHMARK
                        TEST_NGINX_RANDOMIZE))
{
    if ($ENV{$unsupported}) {
        warn "WARNING: $unsupported is not supported by this minimal "
             . "Test::Nginx::Socket; ignored.\n";
    }
}

if ($UseValgrind) {
    # nginx must stay in the foreground so that valgrind can watch it.
    $DaemonEnabled = 'off';
}

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = File::Spec->catfile($ServRoot, 'logs');
our $ErrLogFile = File::Spec->catfile($LogDir, 'error.log');
our $AccLogFile = File::Spec->catfile($LogDir, 'access.log');
our $HtmlDir    = File::Spec->catfile($ServRoot, 'html');
our $ConfDir    = File::Spec->catfile($ServRoot, 'conf');
our $ConfFile   = File::Spec->catfile($ConfDir, 'nginx.conf');
our $PidFile    = File::Spec->catfile($LogDir, 'nginx.pid');
our $CacheDir   = File::Spec->catfile($ServRoot, 'cache');

srand $$;

sub send_request ($$$$;$);
sub _value_contains ($$);

# ---------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------

# What the real module (and the Test::Base / Test::More functions it
# re-exports) makes available to a test script.
# (deliberately no more than the real one exports, so that a test which
# passes here cannot fail there for using e.g. done_testing)
my @TestMoreExports = qw(
    ok isnt like unlike is_deeply cmp_ok skip todo_skip pass fail
    eq_array eq_hash eq_set plan can_ok isa_ok diag use_ok
);

my @OwnExports = qw(
    is no_diff blocks next_block first_block delimiters spec_file spec_string
    filters filters_delay no_diag_on_only croak carp confess
    env_to_nginx is_str run_tests repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_test_cleanup_handler
    add_cleanup_handler add_response_body_check
);

our @EXPORT = (@TestMoreExports, @OwnExports);

sub import {
    my $class = shift;
    my $caller = caller;

    no strict 'refs';
    for my $name (@TestMoreExports) {
        next unless defined &{"Test::More::$name"};
        *{"${caller}::$name"} = \&{"Test::More::$name"};
    }
    for my $name (@OwnExports) {
        *{"${caller}::$name"} = \&{"Test::Nginx::Socket::$name"};
    }
    *{"${caller}::TODO"} = \$Test::More::TODO;

    # Test::Base turns on strict and warnings in the test script (through a
    # source filter); do the same so that scripts behave alike under both.
    strict->import;
    warnings->import;

    # `use Test::Nginx::Socket 'no_plan';` or `tests => N` as with Test::Base.
    my @args = grep { !/^-base$/i } @_;
    if (@args) {
        Test::More::plan(@args);
    }
}

sub croak   { Carp::croak(@_) }
sub carp    { Carp::carp(@_) }
sub confess { Carp::confess(@_) }

sub is ($$;$) {
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    Test::More::is($_[0], $_[1], $_[2]);
}

sub no_diff { $ENV{TEST_SHOW_NO_DIFFS} = 1 }

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (ref $expected && ref $expected eq 'Regexp') {
        return Test::More::like($got, $expected, $desc);
    }
    return Test::More::is($got, $expected, $desc);
}

# ---------------------------------------------------------------------------
# Simple setters / getters
# ---------------------------------------------------------------------------

sub repeat_each (@) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle ()          { $NoShuffle = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub no_nginx_manager ()    { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }
sub sleep_time             { $TestNginxSleep }

sub use_hup () {
    warn "WARNING: use_hup() is not supported by this minimal "
         . "Test::Nginx::Socket; ignored.\n";
}

sub master_process_enabled (@) {
    if (@_) {
        $MasterProcessEnabled = shift() ? 'on' : 'off';
    } else {
        return $MasterProcessEnabled;
    }
}

sub workers (@) {
    if (@_) { $Workers = shift } else { return $Workers }
}

sub worker_connections (@) {
    if (@_) { $WorkerConnections = shift } else { return $WorkerConnections }
}

sub log_level (@) {
    if (@_) { $LogLevel = shift } else { return $LogLevel }
}

sub server_addr (@) {
    if (@_) { $ServerAddr = shift } else { return $ServerAddr }
}

sub server_name (@) {
    if (@_) { $ServerName = shift } else { return $ServerName }
}

sub server_port (@) {
    if (@_) { $ServerPort = shift } else { return $ServerPort }
}

sub server_port_for_client (@) {
    if (@_) { $ServerPortForClient = shift } else { return $ServerPortForClient }
}

sub timeout (@) {
    if (@_) { $Timeout = shift } else { return $Timeout }
}

sub env_to_nginx (@) {
    Carp::croak("env_to_nginx: no arguments specified") if !@_;
    for my $v (@_) {
        if ($v !~ /^[A-Za-z_]/ || $v =~ /\n/) {
            Carp::croak("env_to_nginx: bad argument value: $v\n");
        }
        push @EnvToNginx, $v;
    }
}

sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)      { unshift @CleanupHandlers, shift }
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_response_body_check ($)  { push @ResponseBodyChecks, shift }
sub set_http_config_filter ($)   { $FilterHttpConfig = shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# The real runner evaluates `--- init` and `--- post_setup_server_root` in
# package Test::Nginx::Util; make the usual helpers callable from there too.
{
    no strict 'refs';
    for my $name (qw(bail_out html_dir server_root server_port
                     server_port_for_client server_addr server_name
                     sleep_time timeout repeat_each))
    {
        *{"Test::Nginx::Util::$name"} = \&{"Test::Nginx::Socket::$name"}
            unless defined &{"Test::Nginx::Util::$name"};
    }
}

# ---------------------------------------------------------------------------
# Block parsing (the Test::Base data format)
# ---------------------------------------------------------------------------

my $SpecFile;
my $SpecString;
my $BlockDelim = '===';
my $DataDelim  = '---';
my @DefaultFilters = qw(norm trim);
my %FiltersMap;
my $FiltersDelay = 0;
my $NoDiagOnOnly = 0;
my $BlockList;

sub _check_late {
    if ($BlockList) {
        my $caller = (caller(1))[3];
        $caller =~ s/.*:://;
        Carp::croak("Too late to call $caller()");
    }
}

sub spec_file ($)   { _check_late(); $SpecFile = shift }
sub spec_string ($) { _check_late(); $SpecString = shift }

sub delimiters (@) {
    _check_late();
    my ($b, $d) = @_;
    $BlockDelim = $b || '===';
    $DataDelim  = $d || '---';
}

sub filters (@) {
    if (ref $_[0] eq 'HASH') {
        %FiltersMap = %{ $_[0] };
    } else {
        push @DefaultFilters, @_;
    }
}

sub filters_delay (;$)   { $FiltersDelay = defined $_[0] ? $_[0] : 1 }
sub no_diag_on_only (;$) { $NoDiagOnOnly = defined $_[0] ? $_[0] : 1 }

sub _read_spec {
    return $SpecString if defined $SpecString;

    local $/;
    if (defined $SpecFile) {
        open my $in, '<', $SpecFile or die "Cannot open $SpecFile: $!\n";
        my $s = <$in>;
        close $in;
        return $s;
    }

    # Prefer the script's own DATA handle (what Test::Base reads) ...
    my $handle = Scalar::Util::openhandle(\*main::DATA);
    if ($handle) {
        my $s = <$handle>;
        return $s if defined $s && length $s;
    }

    # ... and fall back to reading the script file itself.
    open my $in, '<', $0 or return undef;
    my $all = <$in>;
    close $in;
    return undef unless defined $all;
    if ($all =~ /^__(?:DATA|END)__\r?\n(.*)\z/ms) {
        return $1;
    }
    return undef;
}

sub _block_list {
    return $BlockList if $BlockList;

    my $spec = _read_spec();
    $BlockList = [];
    return $BlockList unless defined $spec;

    # Test::Base's optional <<< perl code >>> preamble
    if ($spec =~ s/\A\s*<<<(.*?)>>>\s*$//sm) {
        my $code = $1;
        eval "package main; $code";
        die $@ if $@;
    }

    my $cd = $BlockDelim;
    my @hunks = ($spec =~ /^(\Q$cd\E.*?(?=^\Q$cd\E|\z))/msg);

    my @blocks;
    for my $hunk (@hunks) {
        my $block = _make_block($hunk);
        if (exists $block->{ONLY}) {
            Test::More::diag("I found ONLY: maybe you're debugging?")
                unless $NoDiagOnOnly;
            @blocks = ($block);
            last;
        }
        next if exists $block->{SKIP};
        push @blocks, $block;
        last if exists $block->{LAST};
    }

    my $seq = 1;
    for my $block (@blocks) {
        $block->{_seq_num} = $seq++;
    }

    $BlockList = \@blocks;
    return $BlockList;
}

sub _make_block {
    my $hunk = shift;
    my $cd = $BlockDelim;
    my $dd = $DataDelim;

    my $block = Test::Nginx::Socket::Block->new;

    $hunk =~ s/\A\Q$cd\E[ \t]*(.*)\s+// or die "bad block: $hunk";
    my $name = $1;

    my @parts = split /^\Q$dd\E +\(?(\w+)\)? *(.*)?\n/m, $hunk;
    my $description = shift @parts;
    $description = '' unless defined $description;
    $description = $name unless $description =~ /\S/;
    $description =~ s/\s*\z//;
    $block->set_value(description => $description);

    my %section_map;
    my @section_order;
    while (@parts) {
        my ($type, $filters, $value) = splice(@parts, 0, 3);
        if ($type =~ /^_/ || $type =~ /^(?:new|DESTROY|AUTOLOAD|set_value|run_filters|name|description|seq_num|is_filtered|original_values|blocks_object|block_accessor)$/) {
            Carp::croak("'$type' is a reserved name. Use something else.\n");
        }
        $value = '' unless defined $value;
        $filters = '' unless defined $filters;
        if ($filters =~ /:(\s|\z)/) {
            Carp::croak("Extra lines not allowed in '$type' section")
                if $value =~ /\S/;
            ($filters, $value) = split /\s*:(?:\s+|\z)/, $filters, 2;
            $value = '' unless defined $value;
            $value =~ s/^\s*(.*?)\s*$/$1/;
        }
        $section_map{$type} = { filters => $filters };
        push @section_order, $type;
        $block->set_value($type, $value);
    }

    $block->set_value(name => $name);
    $block->{_section_map} = \%section_map;
    $block->{_section_order} = \@section_order;
    return $block;
}

sub blocks (;$) {
    my $section = shift;
    Carp::croak("'$section' is invalid argument to blocks()")
        if defined $section && $section !~ /^[a-zA-Z]\w*$/;

    my $list = _block_list();
    my @blocks = defined $section && length $section
        ? grep { exists $_->{$section} } @$list
        : @$list;

    return scalar(@blocks) unless wantarray;
    return @blocks if $FiltersDelay;

    for my $block (@blocks) {
        $block->run_filters unless $block->{_is_filtered};
    }
    return @blocks;
}

my $NextList;

sub next_block () {
    if (!$NextList || !@$NextList) {
        $NextList = [@{ _block_list() }, undef];
    }
    my $block = shift @$NextList;
    $block->run_filters if defined $block && !$block->{_is_filtered};
    return $block;
}

sub first_block () {
    $NextList = undef;
    return next_block();
}

# ---------------------------------------------------------------------------
# Section filters (the Test::Base::Filter ones that make sense here)
# ---------------------------------------------------------------------------

our $FilterArguments;

{
    package Test::Nginx::Socket::Filter;

    use strict;
    use warnings;

    sub _scalar_only {
        my ($name, @v) = @_;
        Carp::croak("Input to the '$name' filter must be a scalar, not a list")
            if @v != 1;
    }

    sub _args {
        my $args = $Test::Nginx::Socket::FilterArguments;
        return undef unless defined $args;
        $args =~ s/(\\s)/ /g;
        $args =~ s/(\\[a-z])/'"' . $1 . '"'/gee;
        return $args;
    }

    # The code is compiled here, under strict and warnings, much like the
    # real Test::Base `eval` filter (which runs in Test::Base::Filter).
    sub _eval_code {
        my @return = CORE::eval($_[0]);
        return $@ if $@;
        return @return;
    }

    my %F;
    %F = (
        norm => sub {
            _scalar_only('norm', @_);
            my $t = shift;
            $t = '' unless defined $t;
            $t =~ s/\015\012/\n/g;
            $t =~ s/\r/\n/g;
            return $t;
        },
        trim => sub {
            map {
                s/\A([ \t]*\n)+//;
                s/(?<=\n)\s*\z//g;
                $_;
            } @_;
        },
        chomp   => sub { map { CORE::chomp; $_ } @_ },
        chop    => sub { map { CORE::chop; $_ } @_ },
        unchomp => sub { map { $_ . "\n" } @_ },
        eval    => sub { _scalar_only('eval', @_); _eval_code(shift) },
        array   => sub { return [@_] },
        hash    => sub { return +{@_} },
        reverse => sub { CORE::reverse(@_) },
        sort    => sub { CORE::sort(@_) },
        lines   => sub {
            _scalar_only('lines', @_);
            my $text = shift;
            return () unless length $text;
            return ($text =~ /^(.*\n?)/gm);
        },
        join => sub {
            my $s = _args();
            $s = '' unless defined $s;
            CORE::join($s, @_);
        },
        split => sub {
            _scalar_only('split', @_);
            my $sep = _args();
            if (defined $sep and $sep =~ s{^/(.*)/$}{$1}) {
                $sep = qr{$sep};
            }
            $sep = qr/\s+/ unless $sep;
            CORE::split($sep, shift);
        },
        append  => sub { my $s = _args(); map { $_ . $s } @_ },
        prepend => sub { my $s = _args(); map { $s . $_ } @_ },
        escape  => sub {
            _scalar_only('escape', @_);
            my $text = shift;
            $text =~ s/(\\.)/CORE::eval "qq{$1}"/ge;
            return $text;
        },
        regexp => sub {
            _scalar_only('regexp', @_);
            my $text = shift;
            my $flags = _args();
            if ($text =~ /\n.*?\n/s) {
                $flags = 'xism' unless defined $flags;
            } else {
                CORE::chomp($text);
            }
            $flags ||= '';
            my $re = CORE::eval "qr{$text}$flags";
            die $@ if $@;
            return $re;
        },
        base64_decode => sub {
            _scalar_only('base64_decode', @_);
            require MIME::Base64;
            MIME::Base64::decode_base64(shift);
        },
        base64_encode => sub {
            _scalar_only('base64_encode', @_);
            require MIME::Base64;
            MIME::Base64::encode_base64(shift);
        },
        head => sub { my $n = _args() || 1; splice(@_, 0, $n) },
        tail => sub { my $n = _args() || 1; splice(@_, @_ - $n, $n) },
    );

    sub get { return $F{ $_[0] } }
}

# ---------------------------------------------------------------------------
# Block objects
# ---------------------------------------------------------------------------

{
    package Test::Nginx::Socket::Block;

    use strict;
    use warnings;

    our $AUTOLOAD;

    sub new { return bless {}, shift }

    sub DESTROY { }

    # `$block->foo` returns the (first) value of section "foo", or undef /
    # the empty list when there is no such section.
    sub AUTOLOAD {
        my $self = shift;
        (my $name = $AUTOLOAD) =~ s/.*:://;
        return unless ref $self;
        if (@_) {
            Carp::croak("Not allowed to set values for '$name'");
        }
        return unless exists $self->{$name};
        my @list = @{ $self->{$name} || [] };
        return wantarray ? @list : $list[0];
    }

    sub name {
        my $self = shift;
        my @list = @{ $self->{name} || [] };
        return wantarray ? @list : $list[0];
    }

    sub description {
        my $self = shift;
        my @list = @{ $self->{description} || [] };
        return wantarray ? @list : $list[0];
    }

    sub set_value {
        my $self = shift;
        my $name = shift;
        $self->{$name} = [@_];
    }

    sub seq_num         { $_[0]{_seq_num} }
    sub is_filtered     { $_[0]{_is_filtered} }
    sub original_values { $_[0]{_original_values} ||= {} }

    sub run_filters {
        my $self = shift;
        Carp::croak("Attempt to filter a block twice") if $self->{_is_filtered};

        my $map = $self->{_section_map} || {};
        for my $type (@{ $self->{_section_order} || [] }) {
            my @value = @{ $self->{$type} || [] };
            $self->original_values->{$type} = $value[0];

            for my $filter ($self->_get_filters($type, $map->{$type}{filters})) {
                $Test::Nginx::Socket::FilterArguments =
                    $filter =~ s/=(.*)$// ? $1 : undef;

                no strict 'refs';
                my $function = "main::$filter";
                if (defined &$function) {
                    local $_ = (@value == 1 and not defined($value[0]))
                               ? undef : join '', @value;
                    my $old = $_;
                    @value = &$function(@value);
                    if (not(@value) or
                        @value == 1 and defined($value[0])
                            and $value[0] =~ /\A(\d+|)\z/)
                    {
                        @value = ($_);
                    }

                } else {
                    my $code = Test::Nginx::Socket::Filter::get($filter);
                    die "Can't find a function or method for '$filter' filter\n"
                        unless $code;
                    @value = $code->(@value);
                }

                $self->set_value($type, @value);
            }
        }

        $self->{_is_filtered} = 1;
    }

    sub _get_filters {
        my ($self, $type, $string) = @_;
        $string = '' unless defined $string;
        $string =~ s/\s*(.*?)\s*/$1/;

        my $map_filters = $FiltersMap{$type} || [];
        $map_filters = [$map_filters] unless ref $map_filters;

        my (@filters, @append);
        for (@DefaultFilters, @$map_filters, split(/\s+/, $string)) {
            my $filter = $_;
            last unless length $filter;
            if ($filter =~ s/^-//) {
                @filters = grep { $_ ne $filter } @filters;
            } elsif ($filter =~ s/^\+//) {
                push @append, $filter;
            } else {
                push @filters, $filter;
            }
        }
        return @filters, @append;
    }
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

sub parse_time ($) {
    my $tm = shift;
    if (defined $tm) {
        if ($tm =~ s/([^_a-zA-Z])ms$/$1/) {
            $tm = $tm / 1000;
        } elsif ($tm =~ s/([^_a-zA-Z])s$/$1/) {
            # seconds
        }
    }
    return $tm;
}

sub trim ($) {
    my $s = shift;
    return undef if !defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\n/ /gs;
    $s =~ s/\s{2,}/ /gs;
    return $s;
}

sub fmt_str ($) {
    my $str = shift;
    chomp $str;
    $str =~ s/"/\\"/g;
    $str =~ s/\r/\\r/g;
    $str =~ s/\n/\\n/g;
    return $str;
}

sub no_ending {
    Test::More->builder->no_ending(1);
}

sub gen_rand_port (;$$) {
    my ($tries, $used) = @_;
    $tries //= 1000;
    $used //= {};
    for (1 .. $tries) {
        my $port = int(rand 63547) + 1988;
        next if $used->{$port};
        my $sock = IO::Socket::INET->new(
            LocalAddr => $ServerAddr,
            LocalPort => $port,
            Proto     => 'tcp',
            Listen    => 5,
            Reuse     => 1,
        );
        if ($sock) {
            close $sock;
            return $port;
        }
    }
    return undef;
}

# Replaces $TEST_NGINX_XXX by $ENV{TEST_NGINX_XXX} (bailing out when unset),
# and $TEST_NGINX_RAND_PORT_N by a free port, as the real runner does.
sub expand_env_in_text ($$$) {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $rand_ports //= {};
    my $used = { $ServerPort => 1, map { $_ => 1 } values %$rand_ports };

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        my $val;
        if ($var =~ /^TEST_NGINX_RAND_PORT_[0-9]+$/) {
            if (!defined $rand_ports->{$var}) {
                my $port = gen_rand_port(1000, $used);
                if (!defined $port) {
                    bail_out("$name - Cannot find an available listening port number for $var.\n");
                }
                $rand_ports->{$var} = $port;
                $used->{$port} = 1;
            }
            $val = $rand_ports->{$var};
        } else {
            if (!defined $ENV{$var}) {
                bail_out("$name - No environment $var defined.\n");
            }
            $val = $ENV{$var};
        }
        $val;
    }eg;

    return $text;
}

# Returns true while the process exists and is not a zombie.  (A daemonised
# nginx is reparented to a pid 1 that may reap it only after a while.)
sub is_running ($) {
    my $pid = shift;
    return 0 unless defined $pid && $pid =~ /^\d+$/ && $pid > 0;
    return 0 unless kill 0, $pid;
    if (open my $in, '<', "/proc/$pid/stat") {
        my $stat = <$in>;
        close $in;
        if (defined $stat && $stat =~ /^\d+ \(.*\) (\S)/s) {
            return 0 if $1 eq 'Z' || $1 eq 'X';
        }
    }
    return 1;
}

sub reap_child ($) {
    my $pid = shift;
    return unless defined $pid;
    waitpid($pid, POSIX::WNOHANG());
}

sub get_pid_from_pidfile ($) {
    my ($name) = @_;
    open my $in, '<', $PidFile or return undef;
    my $pid = do { local $/; <$in> };
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# QUIT, then (after up to timeout() seconds) TERM a few times, then KILL.
sub kill_process ($$$) {
    my ($pid, $wait, $name) = @_;
    return unless defined $pid;

    if ($wait) {
        kill($ENV{TEST_NGINX_FAST_SHUTDOWN} ? 'TERM' : 'QUIT', $pid);

        my $left = timeout();
        while ($left > 0 && is_running($pid)) {
            reap_child($pid);
            Time::HiRes::sleep(0.02);
            $left -= 0.02;
        }

        if (is_running($pid)) {
            warn "$name - timeout when waiting for the process $pid to exit\n";
        }
    }

    my $step = $TestNginxSleep;
    for (1 .. 20) {
        reap_child($pid);
        return if !is_running($pid);
        kill 'TERM', $pid;
        $step *= 1.2;
        $step = 0.5 if $step > 0.5;
        Time::HiRes::sleep($step);
    }

    reap_child($pid);
    return if !is_running($pid);

    warn "$name - WARNING: killing the child process $pid with force...\n";
    kill 'KILL', $pid;
    for (1 .. 100) {
        reap_child($pid);
        last if !is_running($pid);
        Time::HiRes::sleep(0.02);
    }
}

sub stop_nginx ($) {
    my $name = shift;

    my $pid = get_pid_from_pidfile($name);
    if (defined $pid && is_running($pid)) {
        kill_process($pid, 1, $name);
    }
    if (defined $ChildPid) {
        if (is_running($ChildPid)) {
            kill_process($ChildPid, 1, $name);
        }
        reap_child($ChildPid);
        undef $ChildPid;
    }
    unlink $PidFile if -f $PidFile;
}

sub cleanup () {
    for my $hdl (@CleanupHandlers) {
        $hdl->();
    }

    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 1, "cleanup");
        undef $TcpServerPid;
    }

    if (defined $ChildPid) {
        kill_process($ChildPid, 1, "cleanup");
        undef $ChildPid;
    }
}

sub can_run ($) {
    my $cmd = shift;
    if ($cmd =~ m{[/\\]}) {
        return (-f $cmd && -x $cmd) ? $cmd : undef;
    }
    for my $dir (split(/:/, $ENV{PATH} // ''), '.') {
        next if $dir eq '';
        my $abs = File::Spec->catfile($dir, $cmd);
        return $abs if -f $abs && -x $abs;
    }
    return undef;
}

sub get_canon_version (@) {
    sprintf "%d.%03d%03d", $_[0], $_[1], $_[2];
}

sub get_nginx_version () {
    my $out = `$NginxBinary -V 2>&1`;
    if (!defined $out || $? != 0) {
        $out //= '';
        bail_out("Failed to get the version of the Nginx in PATH: $out");
    }
    if ($out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s)
    {
        $NginxRawVersion = "$1.$2.$3";
        return get_canon_version($1, $2, $3);
    }
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# ---------------------------------------------------------------------------
# Server root and nginx.conf
# ---------------------------------------------------------------------------

sub setup_server_root () {
    if (-d $ServRoot) {
        # Only remove what we create ourselves, so that a misused
        # TEST_NGINX_SERVROOT cannot wipe unrelated data.
        File::Path::remove_tree($ConfDir, glob("$ServRoot/*_cache"),
                                glob("$ServRoot/*_temp"),
                                $CacheDir, $HtmlDir, $LogDir);
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        if (!-d $dir) {
            mkdir $dir or bail_out("Failed to do mkdir $dir: $!\n");
        }
    }

    my $index = "$HtmlDir/index.html";
    open my $out, '>', $index
        or bail_out("Can't open $index for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub run_customer_init_script ($) {
    my $block = shift;
    my $name = $block->name;
    if ($block->post_setup_server_root) {
        _eval_in_util($block->post_setup_server_root);
        if ($@) {
            bail_out("$name - post_setup_server_root failed: $@");
        }
    }
}

sub _eval_in_util {
    my $code = shift;
    # the real runner evaluates these in package Test::Nginx::Util
    eval "package Test::Nginx::Util; $code";
}

sub write_user_files ($$) {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;

    my $files = $block->user_files;
    return unless $files;

    if (!ref $files) {
        my $raw = $files;
        open my $in, '<', \$raw;
        $files = [];
        my ($fname, $body, $date);
        while (<$in>) {
            if (/>>> (\S+)(?:\s+(.+))?/) {
                push @$files, [$fname, $body, $date] if $fname;
                $fname = $1;
                $date = $2;
                undef $body;
            } else {
                $body .= $_;
            }
        }
        push @$files, [$fname, $body, $date] if $fname;

    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        $body = '' unless defined $body;

        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/}) {
            my $dir = $1;
            if (!-d $dir) {
                File::Path::make_path($dir)
                    or bail_out("$name - Cannot create directory $dir");
            }
        }

        $body = expand_env_in_text($body, $name, $rand_ports);

        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;

        if ($date) {
            my $cmd = "TZ=GMT touch -t '$date' '$path'";
            system($cmd) == 0
                or bail_out("Failed to run shell command: $cmd\n");
        }
    }
}

sub write_config_file ($$$) {
    my ($block, $config, $rand_ports) = @_;

    my $name = $block->name;
    my $http_config = $block->http_config;
    my $main_config = $block->main_config;
    my $post_main_config = $block->post_main_config;
    my $err_log_file = $block->error_log_file;
    my $server_name = $block->server_name;

    $http_config = expand_env_in_text($http_config, $name, $rand_ports);

    $config = '' unless defined $config;
    $http_config = '' unless defined $http_config;

    if ($FilterHttpConfig) {
        $http_config = $FilterHttpConfig->($http_config);
    }

    # TEST_NGINX_POSTPONE_OUTPUT: the real runner validates it but only
    # writes it into nginx.conf in its TEST_NGINX_USE_HUP mode, so it has no
    # effect here either.
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/
        && $PostponeOutput !~ /^\d+$/)
    {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n");
    }

    $main_config = '' unless defined $main_config;

    if ($LoadModules) {
        my @modules = map { "load_module $_;" } grep { $_ } split /\s+/, $LoadModules;
        if (@modules) {
            $main_config = join " ", @modules, $main_config;
        }
    }

    $main_config = expand_env_in_text($main_config, $name, $rand_ports);

    $post_main_config = '' unless defined $post_main_config;
    $post_main_config = expand_env_in_text($post_main_config, $name, $rand_ports);

    $err_log_file = $ErrLogFile unless $err_log_file;
    $err_log_file = expand_env_in_text($err_log_file, $name, $rand_ports);

    $server_name = $ServerName unless defined $server_name;

    my $listen_opts = $ReusePort ? ' reuseport' : '';

    my $nginx_V = `$NginxBinary -V 2>&1` // '';
    my $fastcgi_temp_path = "fastcgi_temp_path $ServRoot/fastcgi_temp;";
    my $scgi_temp_path = "scgi_temp_path $ServRoot/scgi_temp;";
    my $uwsgi_temp_path = "uwsgi_temp_path $ServRoot/uwsgi_temp;";
    my $proxy_temp_path = "proxy_temp_path $ServRoot/proxy_temp;";
    my $client_body_temp_path = "client_body_temp_path $ServRoot/client_body_temp;";

    $fastcgi_temp_path = '' if $nginx_V =~ /--without-http_fastcgi_module/;
    $scgi_temp_path = '' if $nginx_V =~ /--without-http_scgi_module/;
    $uwsgi_temp_path = '' if $nginx_V =~ /--without-http_uwsgi_module/;
    $proxy_temp_path = '' if $http_config =~ /\bproxy_temp_path\b/;
    $client_body_temp_path = '' if $http_config =~ /\bclient_body_temp_path\b/;

    my $conf = <<_EOC_;
worker_processes  $Workers;
daemon $DaemonEnabled;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
_EOC_

    for my $v (@EnvToNginx) {
        my $e = $v =~ /\s/ ? "'$v'" : $v;
        $conf .= "env $e;\n";
    }

    $conf .= <<_EOC_;
#env LUA_PATH;
#env LUA_CPATH;

$main_config

http {
    access_log $AccLogFile; $client_body_temp_path $proxy_temp_path $fastcgi_temp_path $scgi_temp_path $uwsgi_temp_path
    #access_log off;

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config
    server {
        listen          $ServerPort$listen_opts;
        #placeholder
        server_name     '$server_name';
        
        client_max_body_size 30M;
        #client_body_buffer_size 4k;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

_EOC_

    if (!$NoRootLocation) {
        $conf .= <<_EOC_;
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_
    }

    $conf .= "    }\n}\n";

    $conf .= <<_EOC_;

$post_main_config

#timer_resolution 100ms;

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
_EOC_

    $conf .= "    use $EventType;\n" if $EventType;
    $conf .= "}\n";

    $conf .= <<_EOC_;
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
_EOC_

    if (defined $WorkerUser) {
        $conf .= "user $WorkerUser;\n";
    } elsif ($> == 0) {
        $conf .= "user root;\n";
    }

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out $conf;
    close $out;
}

# Waits (bounded) until the freshly started nginx has written its pid file
# and listens on the port.  Uses /proc/net/tcp{,6} rather than a probe
# connection so that nothing extra shows up in the error log.
sub wait_for_nginx ($$) {
    my ($name, $max) = @_;

    my $deadline = Time::HiRes::time() + $max;
    my $hexport = sprintf '%04X', $ServerPort;
    my $have_proc = -r '/proc/net/tcp';

    while (Time::HiRes::time() < $deadline) {
        my $listening = !$have_proc;
        if ($have_proc) {
            for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
                open my $in, '<', $f or next;
                while (<$in>) {
                    if (/^\s*\d+:\s+[0-9A-Fa-f]+:$hexport\s+[0-9A-Fa-f]+:[0-9A-Fa-f]+\s+0A\b/) {
                        $listening = 1;
                        last;
                    }
                }
                close $in;
                last if $listening;
            }
        }

        my $pid_ok = $DaemonEnabled eq 'off' || -s $PidFile;
        return 1 if $listening && $pid_ok;

        if (defined $ChildPid) {
            reap_child($ChildPid);
            return 0 if !is_running($ChildPid);
        }

        Time::HiRes::sleep($TestNginxSleep);
    }

    return 0;
}

# ---------------------------------------------------------------------------
# Running the blocks
# ---------------------------------------------------------------------------

sub run_tests () {
    srand($$ + Time::HiRes::time() * 1000000);

    $RunTestsCalled = 1;

    # Make an interrupted run (Ctrl-C, a CI timeout) still go through END,
    # which stops the nginx we started.  Handlers set by the script win.
    for my $sig (qw(INT TERM HUP)) {
        if (!defined $SIG{$sig} || $SIG{$sig} eq '' || $SIG{$sig} eq 'DEFAULT') {
            $SIG{$sig} = sub {
                warn "Test::Nginx::Socket: got SIG$sig, stopping nginx\n";
                exit 1;
            };
        }
    }

    $NginxVersion = get_nginx_version();

    if (!defined $ENV{TEST_NGINX_SERVER_PORT}) {
        $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
    }

    my @blocks = blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        for my $hdl (@BlockPreprocessors) {
            $hdl->($block);
        }

        $block->set_value("name", $0 . " " . $block->name);
        run_test($block);

        for my $hdl (@TestCleanupHandlers) {
            $hdl->($block);
        }

        $PrevBlock = $block;
    }

    cleanup();
}

sub run_test ($) {
    my $block = shift;

    return if defined $block->SKIP;

    my $name = $block->name;

    my $rand_ports = {};
    $RandPorts = $rand_ports;

    my $config = $block->config;
    $config = expand_env_in_text($config, $name, $rand_ports);

    my $dry_run = 0;
    my $should_restart = 1;

    local $LogLevel = $LogLevel;
    if ($block->log_level) {
        $LogLevel = $block->log_level;
    }

    my $must_die;
    local $UseValgrind = $UseValgrind;
    local $DaemonEnabled = $DaemonEnabled;
    if (defined $block->must_die) {
        $must_die = $block->must_die;
        if ($UseValgrind) {
            undef $UseValgrind;
            $DaemonEnabled = 'on';
        }
    }

    if (!defined $config) {
        if (!$NoNginxManager && !defined $PrevConfig) {
            bail_out("$name - No '--- config' section specified and could "
                     . "not get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?");
        }
        # reuse the nginx started for the previous block
        $should_restart = 0;

    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
        $should_restart = 0;

    } else {
        my $changed = !defined $PrevConfig || $config ne $PrevConfig;
        $should_restart = ($changed || $ForceRestartOnTest) ? 1 : 0;
    }

    my ($tests_to_skip, $should_skip, $skip_reason);

    if (defined(my $skip_eval = $block->skip_eval)) {
        if ($skip_eval =~ m{^ \s* (\d+) \s* : \s* (.*)}xs) {
            $tests_to_skip = $1;
            $skip_reason = "skip_eval";
            my $code = $2;
            $should_skip = eval $code;
            if ($@) {
                bail_out("$name - skip_eval - failed to eval the Perl code "
                         . "\"$code\": $@");
            }
        }
    }

    if (defined(my $skip_nginx = $block->skip_nginx)) {
        if ($skip_nginx =~ m{
                ^ \s* (\d+) \s* : \s*
                    ([<>]=?) \s* (\d+)\.(\d+)\.(\d+)
                    (?: \s* : \s* (.*) )?
                \s*$}x)
        {
            $tests_to_skip = $1;
            my ($op, $v1, $v2, $v3) = ($2, $3, $4, $5);
            $skip_reason = $6 || "nginx version $op $v1.$v2.$v3";
            my $ver = get_canon_version($v1, $v2, $v3);
            if (eval "$NginxVersion $op $ver") {
                $should_skip = 1;
            }
        } else {
            bail_out("$name - Invalid --- skip_nginx spec: $skip_nginx");
        }
    }

    $skip_reason //= "various reasons";

    my ($should_todo, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        if ($todo =~ m{^ \s* (\d+) \s* : \s* (.*)}xs) {
            $should_todo = 1;
            $tests_to_skip = $1;
            $todo_reason = $2;
        } else {
            bail_out("$name - Invalid --- todo spec: $todo");
        }
    }
    $todo_reason //= "various reasons";

    if (!$NoNginxManager && !$should_skip && $should_restart) {
        $PrevConfig = $config;

        # stop the nginx of the previous block (if any)
        stop_nginx($name);

        check_prev_block_shutdown_error_log();

        setup_server_root();
        run_customer_init_script($block);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);

        if (!can_run($NginxBinary)) {
            bail_out("$name - Cannot find the nginx executable in the PATH environment");
        }

        my $cmd = "$NginxBinary -e $ServRoot/logs/error.log -p $ServRoot/ -c $ConfFile > /dev/null";

        if (defined $ENV{TEST_NGINX_LD_PRELOAD}) {
            my $ld = $ENV{LD_PRELOAD};
            $ld = defined $ld ? "$ENV{TEST_NGINX_LD_PRELOAD} $ld"
                              : $ENV{TEST_NGINX_LD_PRELOAD};
            $cmd = qq{LD_PRELOAD="$ld" $cmd};
        }

        if (defined $block->suppress_stderr) {
            $cmd .= " 2> /dev/null";
        }

        if ($UseValgrind) {
            my $opts;
            if ($UseValgrind =~ /^\d+$/) {
                $opts = "--tool=memcheck --leak-check=full --keep-debuginfo=yes "
                        . "--show-possibly-lost=no";
                if (-f 'valgrind.suppress') {
                    $cmd = "valgrind --num-callers=100 -q $opts --gen-suppressions=all "
                           . "--suppressions=valgrind.suppress $cmd";
                } else {
                    $cmd = "valgrind --num-callers=100 -q $opts --gen-suppressions=all $cmd";
                }
            } else {
                $cmd = "valgrind -q $UseValgrind $cmd";
            }

            warn "$name\n";

            $ErrLogFilePos = 0;

            my $pid = fork();
            if (!defined $pid) {
                bail_out("$name - fork() failed: $!");

            } elsif ($pid == 0) {
                setpgrp;
                Test::More->builder->no_ending(1);
                $InSubprocess = 1;
                { exec "exec $cmd" }
                POSIX::_exit(127);
            }

            $ChildPid = $pid;
            Time::HiRes::sleep($TestNginxSleep);
            wait_for_nginx($name, 60);

        } else {
            $ErrLogFilePos = 0;
            my $i = 0;
            my $waited = 0;

            while (1) {
                system($cmd);
                my $status = $?;

                my ($exec_failed, $coredump, $exit_code);
                if ($status == -1) {
                    $exec_failed = 1;
                } else {
                    $exit_code = $status >> 8;
                    $coredump = $status & 128;
                }

                if (defined $must_die) {
                    if ($exec_failed) {
                        Test::More::fail("$name - failed to execute the nginx command line");
                    } elsif ($coredump) {
                        Test::More::fail("$name - nginx core dumped");
                    } elsif (Scalar::Util::looks_like_number($must_die)) {
                        Test::More::is($must_die, $exit_code,
                                       "$name - die with the expected exit code");
                    } else {
                        Test::More::isnt($status, 0, "$name - die as expected");
                    }

                    check_error_log($block, undef, $dry_run, $i, 0);

                    if ($status == 0) {
                        warn "WARNING: $name - nginx must die but it does not; "
                             . "killing it (req $i)\n";
                        for (1 .. 15) {
                            last if -f $PidFile;
                            Time::HiRes::sleep($TestNginxSleep);
                        }
                        stop_nginx($name);
                    }

                    next if ++$i < $RepeatEach;
                    return;
                }

                last if $status == 0;

                # The real runner retries for up to 30 seconds (e.g. while the
                # port is still taken); a configuration error will not go
                # away by retrying, so only retry on bind() failures.
                my $retry = 0;
                if (open my $in, '<', $ErrLogFile) {
                    while (<$in>) {
                        if (/bind\(\).*(?:Address already in use|in use)/) {
                            $retry = 1;
                            last;
                        }
                    }
                    close $in;
                }

                $i++;
                my $delay = 0.1 * $i;
                $delay = 1 if $delay > 1;
                if ($retry && $waited < 30) {
                    Time::HiRes::sleep($delay);
                    $waited += $delay;
                    next;
                }

                my $tail = '';
                if (open my $in, '<', $ErrLogFile) {
                    my @lines = grep { /\[(?:emerg|alert|crit)\]/ } <$in>;
                    close $in;
                    $tail = join '', @lines[-3 .. -1] if @lines >= 3;
                    $tail = join '', @lines if @lines < 3;
                }
                bail_out("$name - Cannot start nginx using command \"$cmd\" "
                         . "(status code $status).\n$tail");
            }

            Time::HiRes::sleep($TestNginxSleep);
            if (!wait_for_nginx($name, 5)) {
                warn "WARNING: $name - nginx does not seem to be listening "
                     . "on port $ServerPort yet\n";
            }
        }
    }

    if ($block->init) {
        _eval_in_util($block->init);
        if ($@) {
            bail_out("$name - init failed: $@");
        }
    }

    $ErrLogFilePos = 0;

    for my $i (1 .. $RepeatEach) {
        my ($tcp_socket, $tcp_query_file) = start_tcp_server($block, $rand_ports);

        if ($i > 1) {
            write_user_files($block, $rand_ports);
        }

        if ($should_skip && defined $tests_to_skip) {
            SKIP: {
                Test::More::skip("$name - $skip_reason", $tests_to_skip);
            }

        } elsif ($should_todo) {
            TODO: {
                Test::More::todo_skip("$name - $todo_reason", $tests_to_skip);
            }

        } else {
            run_test_helper($block, $dry_run, $i - 1);
            run_tcp_server_tests($block, $tcp_socket, $tcp_query_file);
        }

        stop_tcp_server($name, $tcp_socket, $tcp_query_file);
    }

    if ($UseValgrind) {
        # let valgrind report for this block
        stop_nginx($name);
    }
}

sub check_prev_block_shutdown_error_log () {
    my $block = $PrevBlock;
    return unless defined $block;

    if (defined($block->shutdown_error_log)
        || defined($block->no_shutdown_error_log))
    {
        my $dry_run = $ENV{TEST_NGINX_NO_CLEAN} ? 1 : 0;
        check_shutdown_error_log($block, $dry_run);
    }

    # only check once
    undef $PrevBlock;
}

# ---------------------------------------------------------------------------
# Mock TCP server (--- tcp_listen / tcp_reply / tcp_query / tcp_query_len)
# ---------------------------------------------------------------------------

sub start_tcp_server ($$) {
    my ($block, $rand_ports) = @_;
    return unless defined $block->tcp_listen;

    my $name = $block->name;
    my $target = expand_env_in_text($block->tcp_listen, $name, $rand_ports);

    my $reply = $block->tcp_reply;
    if (!defined $reply && !defined $block->tcp_shutdown) {
        bail_out("$name - no --- tcp_reply specified but --- tcp_listen is specified");
    }

    if ($target !~ /^\d+$/) {
        bail_out("$name - bad tcp_listen target (only ports are supported): $target");
    }

    my $req_len = $block->tcp_query_len;
    my $tcp_query_file;
    if (defined $block->tcp_query || defined $req_len) {
        $req_len = length($block->tcp_query) if !defined $req_len;
        (undef, $tcp_query_file) = File::Temp::tempfile(UNLINK => 1);
        unlink $tcp_query_file;
    }

    my $sock;
    for (1 .. 30) {
        $sock = IO::Socket::INET->new(
            LocalHost => '127.0.0.1',
            LocalPort => $target,
            Proto     => 'tcp',
            Reuse     => 1,
            Listen    => 5,
        );
        last if $sock;
        warn "WARNING: failed to create the tcp listening socket: $!\n";
        sleep 1;
    }
    bail_out("$name - failed to create the tcp listening socket: $!") if !$sock;

    my $pid = fork();
    if (!defined $pid) {
        bail_out("$name - fork() failed: $!");
    }

    if ($pid == 0) {
        Test::More->builder->no_ending(1);
        $InSubprocess = 1;

        my $client;
        while (1) {
            $client = $sock->accept();
            last if $client;
            Time::HiRes::sleep($TestNginxSleep);
        }

        my ($no_read, $no_write);
        if (defined(my $shutdown = $block->tcp_shutdown)) {
            if ($block->tcp_shutdown_delay) {
                Time::HiRes::sleep($block->tcp_shutdown_delay);
            }
            $client->shutdown($shutdown);
            if ($shutdown == 0 || $shutdown == 2) { $no_read = 1 } else { $no_write = 1 }
        }

        my $buf = '';
        unless ($no_read) {
            my $auto = $block->tcp_query_auto_timeout;
            my $t = 0.1;
            $t = $auto + 0 if defined $auto && $auto ne '';
            my $sel = IO::Select->new($client);
            while (1) {
                if (defined $auto) {
                    last if !$sel->can_read($t);
                }
                my $b;
                my $ret = sysread($client, $b, 4096);
                last if !$ret;
                $buf .= $b;

                if ($tcp_query_file) {
                    my $tmp = "$tcp_query_file.tmp";
                    if (open my $out, '>', $tmp) {
                        print $out $buf;
                        close $out;
                        rename $tmp, $tcp_query_file;
                    }
                }

                if (!defined $auto && (!$req_len || length($buf) >= $req_len)) {
                    last;
                }
            }
        }

        my $delay = parse_time($block->tcp_reply_delay);
        Time::HiRes::sleep($delay) if $delay;

        if (!$no_write && defined $reply) {
            if (ref $reply eq 'CODE') {
                $reply = $reply->($buf);
            }
            for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
                syswrite($client, $r);
            }
        }

        if (defined $block->tcp_no_close) {
            sleep 1 while 1;
        }

        close $client;
        close $sock;
        POSIX::_exit(0);
    }

    $TcpServerPid = $pid;
    return ($sock, $tcp_query_file);
}

sub run_tcp_server_tests ($$$) {
    my ($block, $tcp_socket, $tcp_query_file) = @_;
    return unless defined $tcp_socket;

    my $name = $block->name;
    my $buf = '';
    if ($tcp_query_file && open my $in, '<', $tcp_query_file) {
        $buf = do { local $/; <$in> };
        close $in;
    }

    if (defined $block->tcp_query) {
        is_str($buf, $block->tcp_query, "$name - tcp_query ok");
    }

    if (defined $block->tcp_query_len) {
        Test::More::is(length($buf), $block->tcp_query_len,
                       "$name - TCP query length ok");
    }
}

sub stop_tcp_server ($$$) {
    my ($name, $tcp_socket, $tcp_query_file) = @_;
    return unless defined $tcp_socket;

    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 1, $name);
        undef $TcpServerPid;
    }
    close $tcp_socket;
    unlink $tcp_query_file if $tcp_query_file;
}

# ---------------------------------------------------------------------------
# Building the requests
# ---------------------------------------------------------------------------

# Splits "METHOD [URI [VERSION]]\nbody" into its parts, remembering how
# many characters each part (and the blanks around it) takes in the text.
sub parse_request ($$) {
    my ($name, $text) = @_;

    my ($first, $content) = $text =~ /\A([^\n]*\n?)(.*)\z/s;
    if (!defined $first || $first eq '') {
        bail_out("$name - Request line should be non-empty");
    }

    if ($first !~ /^(\s*)(\S+)( *)(?:(\S+)( *))?(?:(\S+)( *))?(\s*)$/) {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$first\".");
    }

    my %r = (
        lead     => length($1),
        method   => $2,
        gap1     => length($3),
        url      => $4,
        gap2     => defined $5 ? length($5) : 0,
        http_ver => $6,
        tail     => (defined $7 ? length($7) : 0) + length($8),
    );

    $r{url_size} = defined $r{url} ? length $r{url} : 0;
    $r{url} = '/' if !defined $r{url};
    $r{ver_size} = defined $r{http_ver} ? length $r{http_ver} : 0;
    $r{http_ver} = 'HTTP/1.1' if !defined $r{http_ver};
    $r{gap2} = 0 if !$r{url_size};

    $r{content} = defined $content ? $content : '';
    $r{content_size} = length $r{content};
    return \%r;
}

# Applies an edit script to a list of packets, so that the packet
# boundaries of the original request survive the rewriting.  Each edit is
# [$n] (drop $n characters) or [$n, $str] (replace $n characters by $str),
# consumed in order from the start of the first packet.  This mirrors how
# the real runner rewrites multi-packet requests, quirks included: a packet
# whose characters are all dropped from its start vanishes, a replacement
# running over a packet boundary fills the first packet with as much of
# the new text as the old text had there, and edits left over when the
# packets run out are ignored.
sub _edit_packets ($$) {
    my ($packets, $edits) = @_;

    my @in = @$packets;
    my @edits = map { [@$_] } @$edits;
    my @out;

    my $pkt = shift @in;
    my $pos = 0;
    my $edit = shift @edits;

    while (defined $pkt) {
        if (!defined $edit) {
            push @out, $pkt;
            $pkt = shift @in;
            $pos = 0;
            next;
        }

        my $avail = length($pkt) - $pos;

        if (@$edit == 1) {    # drop
            if ($edit->[0] > $avail) {
                $edit->[0] -= $avail;
                push @out, $pkt if $pos > 0;
                $pkt = shift @in;
                $pos = 0;
            } else {
                substr($pkt, $pos, $edit->[0]) = '';
                $edit = shift @edits;
            }
            next;
        }

        # replace
        if ($edit->[0] > $avail) {
            $edit->[0] -= $avail;
            my $part = substr($edit->[1], 0, $avail);
            substr($pkt, $pos) = $part;
            $edit->[1] = substr($edit->[1], length $part);
            push @out, $pkt;
            $pkt = shift @in;
            $pos = 0;
        } else {
            substr($pkt, $pos, $edit->[0]) = $edit->[1];
            $pos += length $edit->[1];
            $edit = shift @edits;
        }
    }

    return \@out;
}

sub parse_more_headers ($) {
    my ($in) = @_;
    my $out = '';
    my $is_chunked;
    for my $header (split /\n+/, $in) {
        next if $header =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $header, 2;
        $val = '' if !defined $val;
        if (lc($key) eq 'transfer-encoding' and $val eq 'chunked') {
            $is_chunked = 1;
        }
        $out .= "$key: $val\r\n";
    }
    return ($out, $is_chunked);
}

# Turns the request spec (a list of packets) into what is sent on the
# wire: "METHOD URI VERSION\r\n", Host and Connection headers, the
# more_headers, a Content-Length (computed on the body with surrounding
# whitespace removed, which is also what gets sent) and the body.
sub build_request_from_packets ($$$$$) {
    my ($name, $more_headers, $is_chunked, $conn_header, $packets) = @_;

    my @packets = map { defined $_ ? $_ : '' } @$packets;
    my $req = parse_request($name, join '', @packets);

    my $content = $req->{content};
    my $len_header = '';
    if (!$is_chunked && $content ne ''
        && $more_headers !~ /(?:^|\n)Content-Length:/)
    {
        $content =~ s/^\s+|\s+$//gs;
        $len_header = "Content-Length: " . length($content) . "\r\n";
    }

    $more_headers =~ s/(?<!\r)\n/\r\n/gs;

    my $headers = '';
    if ($more_headers !~ /(?:^|\n)Host:/msi) {
        $headers .= "Host: $ServerName\r\n";
    }
    if ($more_headers !~ /(?:^|\n)Connection/msi) {
        $headers .= "Connection: $conn_header\r\n";
    }
    $headers .= "$more_headers$len_header\r\n";

    return _edit_packets(\@packets, [
        [$req->{lead}],
        [length $req->{method}, "$req->{method} "],
        [$req->{gap1}],
        [$req->{url_size}, "$req->{url} "],
        [$req->{gap2}],
        [$req->{ver_size}, "$req->{http_ver}\r\n"],
        [$req->{tail}],
        [0, $headers],
        [$req->{content_size}, $content],
    ]);
}

sub get_req_from_block ($) {
    my ($block) = @_;
    my $name = $block->name;

    my @req_list;

    if (defined $block->raw_request) {
        my $raw = $block->raw_request;
        if (ref $raw && ref $raw eq 'ARRAY') {
            push @req_list, [map { { value => $_ } } @$raw];
        } else {
            push @req_list, [{ value => $raw }];
        }
        return \@req_list;
    }

    my $request;
    if (defined $block->request_eval) {
        Test::More::diag("$name - request_eval DEPRECATED. Use request eval instead.");
        $request = eval $block->request_eval;
        warn $@ if $@;
    } else {
        $request = $block->request;
        if (defined $request && !ref $request) {
            while ($request =~ s/^\s*\#[^\n]+\s+|^\s+//gs) {
                # strip leading comments and blank space
            }
        }
    }

    my $more_headers = $block->more_headers || '';

    my $headers_for = sub {
        my ($i, $what) = @_;
        if (ref $more_headers eq 'ARRAY') {
            my $hdr = $more_headers->[$i];
            if (!defined $hdr) {
                bail_out("--- more_headers lacks data for the $what");
            }
            return parse_more_headers($hdr);
        }
        return parse_more_headers($more_headers);
    };

    if ($block->pipelined_requests) {
        my $reqs = $block->pipelined_requests;
        if (!ref $reqs || ref $reqs ne 'ARRAY') {
            bail_out("$name - invalid entries in --- pipelined_requests");
        }

        my $prq = '';
        my $i = 0;
        for my $r (@$reqs) {
            $r = expand_env_in_text($r, $name, $RandPorts);
            my $conn = $i == @$reqs - 1 ? 'close' : 'keep-alive';
            my ($hdr, $is_chunked) = $headers_for->($i, "$i pipelined request");
            $prq .= build_request_from_packets($name, $hdr, $is_chunked,
                                               $conn, [$r])->[0];
            $i++;
        }
        push @req_list, [{ value => $prq }];
        return \@req_list;
    }

    if (!ref $request) {
        my ($hdr, $is_chunked) = $headers_for->(0, "request");
        my $r = build_request_from_packets($name, $hdr, $is_chunked, 'close',
                                           [$request]);
        push @req_list, [{ value => $r->[0] }];

    } elsif (ref $request eq 'ARRAY') {
        my $i = 0;
        for my $one_req (@$request) {
            my ($hdr, $is_chunked) = $headers_for->($i, "${i}th request");

            if (!ref $one_req) {
                my $r = build_request_from_packets($name, $hdr, $is_chunked,
                                                   'close', [$one_req]);
                push @req_list, [{ value => $r->[0] }];

            } elsif (ref $one_req eq 'ARRAY') {
                my @packets;
                for my $p (@$one_req) {
                    if (!ref $p) {
                        push @packets, $p;
                    } elsif (ref $p eq 'HASH') {
                        push @packets, $p->{value};
                    } else {
                        bail_out("$name - Invalid syntax. $p should be a string or hash with value.");
                    }
                }

                my $out = build_request_from_packets($name, $hdr, $is_chunked,
                                                     'close', \@packets);
                my @transformed;
                for my $idx (0 .. $#$out) {
                    my $orig = $one_req->[$idx];
                    if (ref $orig) {
                        push @transformed, { %$orig, value => $out->[$idx] };
                    } else {
                        push @transformed, { value => $out->[$idx] };
                    }
                }
                push @req_list, \@transformed;

            } else {
                bail_out("$name - Invalid syntax. $one_req should be a string or an array of packets.");
            }
            $i++;
        }

    } else {
        bail_out("$name - invalid ---request : MUST be string or array of requests");
    }

    return \@req_list;
}

# ---------------------------------------------------------------------------
# The HTTP client
# ---------------------------------------------------------------------------

sub send_request ($$$$;$) {
    my ($req, $middle_delay, $timeout, $block, $tries) = @_;

    my $name = $block->name;
    my @bits = @$req;

    my $head_req = (join('', map { $_->{value} } @bits) =~ /^\s*HEAD\s+/) ? 1 : 0;

    my $addr = $block->server_addr_for_client // $ServerAddr;

    my $sock = IO::Socket::INET->new(
        PeerAddr => $addr,
        PeerPort => $ServerPortForClient,
        Proto    => 'tcp',
        Timeout  => $timeout,
    );

    if (!$sock) {
        my $err = $!;
        $tries ||= 1;
        my $total = $TotalConnectingTimeouts ? 20 : 50;

        # give up early when the nginx we started is gone
        my $gone = 0;
        if (defined $ChildPid) {
            reap_child($ChildPid);
            $gone = !is_running($ChildPid);
        } elsif (!$NoNginxManager) {
            my $pid = get_pid_from_pidfile($name);
            $gone = 1 if $tries > 3 && (!defined $pid || !is_running($pid));
        }

        if ($tries <= $total && !$gone) {
            my $wait = ($TestNginxSleep + $TestNginxSleep * $tries) * $tries / 2;
            $wait = 1 if $wait >= 1;
            if ($wait >= 0.6) {
                warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n";
                warn "\tRetry connecting after $wait sec\n" if $tries + 1 <= $total;
            }
            Time::HiRes::sleep($wait);
            return send_request($req, $middle_delay, $timeout, $block, $tries + 1);
        }

        my $msg = "$name - Can't connect to $addr:$ServerPortForClient: $err (aborted)\n";
        if (++$TotalConnectingTimeouts < 3) {
            no_ending();
            Test::More::fail($msg);
        } else {
            bail_out($msg);
        }
        return (undef, $head_req);
    }

    $sock->blocking(0);

    my $resp = '';
    my $write_buf = (shift @bits)->{value};
    my $write_off = 0;
    my $writing = 1;
    my $reading = 1;

    my $sel_r = IO::Select->new($sock);
    my $sel_w = IO::Select->new($sock);

    while ($reading || $writing) {
        my ($r, $w) = IO::Select->select($reading ? $sel_r : undef,
                                         $writing ? $sel_w : undef,
                                         undef, $timeout);

        if (!$r && !$w) {
            # no I/O event for $timeout seconds
            close $sock;
            if (!defined $block->abort) {
                no_ending();
                Test::More::fail("ERROR: client socket timed out - $name\n");
            } else {
                Time::HiRes::sleep(0.005);
            }
            last;
        }

        if ($r && @$r) {
            while (1) {
                my $buf;
                my $n = sysread($sock, $buf, 4096);
                if (!defined $n) {
                    last if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                    warn "WARNING: $name - HTTP response read failure: $!\n";
                    $reading = $writing = 0;
                    last;
                }
                if ($n == 0) {
                    $reading = $writing = 0;  # connection closed
                    last;
                }
                $resp .= $buf;
            }
        }

        if ($writing && $w && @$w) {
            while (1) {
                my $rest = length($write_buf) - $write_off;
                if ($rest > 0) {
                    local $SIG{PIPE} = 'IGNORE';
                    my $n = syswrite($sock, $write_buf, $rest, $write_off);
                    if (!defined $n) {
                        last if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                        my $err = "write failed: $!";
                        warn "$err\n";
                        $resp = $err if !$resp;
                        $writing = 0;
                        last;
                    }
                    $write_off += $n;
                    next;
                }

                my $next = shift @bits;
                if (!defined $next) {
                    $writing = 0;
                    if (defined(my $shutdown = $block->shutdown)) {
                        $shutdown = 1 if $shutdown =~ /^$/s;
                        shutdown($sock, $shutdown);
                    }
                    last;
                }

                $write_buf = $next->{value};
                $write_off = 0;
                my $wait = defined $next->{delay_before} ? $next->{delay_before}
                                                         : $middle_delay;
                Time::HiRes::sleep($wait) if $wait;
            }
        }
    }

    close $sock;
    return ($resp, $head_req);
}

# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------

{
    package Test::Nginx::Socket::Response;

    sub new {
        my ($class, %args) = @_;
        return bless { headers => [], %args }, $class;
    }

    sub code {
        my $self = shift;
        $self->{code} = shift if @_;
        return $self->{code};
    }

    sub message  { $_[0]{message} }
    sub protocol { $_[0]{protocol} }

    sub content {
        my $self = shift;
        $self->{content} = shift if @_;
        return $self->{content};
    }

    # Case-insensitive lookup; "_" in the asked name means "-" (as with
    # HTTP::Headers).  Multiple values are joined with ", " in scalar
    # context.
    sub header {
        my ($self, $key) = @_;
        my $want = lc $key;
        $want =~ tr/_/-/ unless $key =~ /^:/;
        my @vals = map { $_->[1] } grep { lc($_->[0]) eq $want } @{ $self->{headers} };
        return wantarray ? @vals : (@vals ? join(', ', @vals) : undef);
    }

    sub headers_list { @{ $_[0]{headers} } }
}

# Parses a raw response like HTTP::Response->parse and decodes chunked
# bodies; returns ($res, $raw_headers, $left_over_bytes).
sub parse_response ($$$) {
    my ($name, $raw_resp, $head_req) = @_;

    my $left;
    my $raw_headers = '';
    if ($raw_resp =~ /(.*?\r\n)\r\n/s) {
        $raw_headers = $1;
    }

    my $str = $raw_resp;
    my $status_line;
    if ($str =~ s/^(.*)\n//) {
        $status_line = $1;
    } else {
        $status_line = $str;
        $str = '';
    }
    $status_line =~ s/\r\z//;

    my @hdr;
    while (1) {
        if ($str =~ s/^([^\s:]+)[ \t]*: ?(.*)\n?//) {
            push @hdr, [$1, $2];
            $hdr[-1][1] =~ s/\r\z//;
        } elsif (@hdr && $str =~ s/^([ \t].*)\n?//) {
            $hdr[-1][1] .= "\n$1";
            $hdr[-1][1] =~ s/\r\z//;
        } else {
            $str =~ s/^\r?\n//;
            last;
        }
    }

    my ($protocol, $code, $message);
    if ($status_line =~ /^\d{3} /) {
        ($code, $message) = split(' ', $status_line, 2);
    } else {
        ($protocol, $code, $message) = split(' ', $status_line, 3);
    }

    my $res = Test::Nginx::Socket::Response->new(
        protocol => $protocol,
        code     => $code,
        message  => $message,
        headers  => \@hdr,
        content  => $str,
    );

    if ($code && $code !~ /^\d+$/) {
        undef $code;
        $res->code(undef);
    }

    if ($code && ($code == 304 || $code == 101)) {
        return ($res, $raw_headers);
    }

    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');

    if (defined $enc && $enc eq 'chunked') {
        my $raw = $res->content;
        $raw = '' if !defined $raw;

        my $decoded = '';
        while (1) {
            if (@trailers == 0 && $raw =~ /\G 0 [\ \t]* \r\n \r\n /gcsx) {
                if ($raw =~ /\G (.+) /gcsx) {
                    $left = $1;
                }
                last;

            } elsif (@trailers > 0 && $raw =~ /\G 0 [\ \t]* \r\n /gcsx) {
                for my $trailer (@trailers) {
                    if ($raw !~ /\G(\Q$trailer\E:\ [^\n]*\r\n)/gcs) {
                        no_ending();
                        Test::More::fail("$name - invalid trailer data received (expected $trailer).");
                        return;
                    }
                }
                if ($raw !~ /\G\r\n/gcs) {
                    no_ending();
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }
                if ($raw =~ /\G (.+) /gcsx) {
                    $left = $1;
                }
                last;
            }

            if ($raw =~ m{ \G [\ \t]* ( [A-Fa-f0-9]+ ) [\ \t]* \r\n }gcsx) {
                my $size = hex($1);
                if ($size > 0) {
                    my $pos = pos($raw);
                    if (length($raw) - $pos < $size) {
                        no_ending();
                        Test::More::fail("$name - invalid chunked data received "
                                         . "(not enought octets for the data section)");
                        return;
                    }
                    $decoded .= substr($raw, $pos, $size);
                    pos($raw) = $pos + $size;
                }
                if ($raw !~ /\G\r\n/gcs) {
                    no_ending();
                    Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                    return;
                }

            } elsif ($raw =~ /\G.+/gcs) {
                no_ending();
                Test::More::fail("$name - invalid chunked body received: $&");
                return;

            } else {
                no_ending();
                Test::More::fail("$name - no last chunk found - $raw");
                return;
            }
        }

        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len =~ /^\s*\d+\s*$/) {
        my $raw = $res->content;
        if (length $raw < $len) {
            if (!$head_req) {
                warn "WARNING: $name - response body truncated: ",
                     "$len expected, but got ", length $raw, "\n";
            }
        } elsif (length $raw > $len) {
            $left = substr $raw, $len;
            $res->content(substr $raw, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Checks (one Test::More test per check, counted exactly as the real runner)
# ---------------------------------------------------------------------------

sub get_indexed_value ($$$$) {
    my ($name, $value, $req_idx, $need_array) = @_;
    if ($need_array) {
        if (ref $value && ref $value eq 'ARRAY') {
            return $value->[$req_idx];
        }
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    if (ref $value && ref $value eq 'ARRAY') {
        return $value->[0];
    }
    return $value;
}

sub run_test_helper ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;

    my $name = $block->name;

    my $r_req_list = get_req_from_block($block);
    if (!@$r_req_list) {
        bail_out("$name - request empty");
    }

    my $timeout = parse_time($block->timeout);
    $timeout = timeout() if !defined $timeout;

    my $res;
    my $req_idx = 0;
    my ($n, $need_array);

    for my $one_req (@$r_req_list) {
        my ($raw_resp, $head_req);

        if ($dry_run) {
            $raw_resp = "200 OK HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
        } else {
            ($raw_resp, $head_req) = send_request($one_req,
                                                  $block->raw_request_middle_delay,
                                                  $timeout, $block);
        }

        if ($block->pipelined_requests) {
            $n = @{ $block->pipelined_requests };
            $need_array = 1;
        } else {
            $need_array = @$r_req_list > 1;
        }

        while (1) {
            warn "!!! resp: [$raw_resp]\n" if $Verbose && defined $raw_resp;

            $raw_resp = '' if !defined $raw_resp;

            my ($raw_headers, $left);
            if (!defined $block->ignore_response) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(
                        code => 200, message => 'OK', content => $raw_resp);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) = parse_response($name, $raw_resp, $head_req);
                }
            }

            if (!$n) {
                if ($left) {
                    (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                    warn "WARNING: $name - unexpected extra bytes after last chunk in ",
                         "response: \"$l\"\n";
                }
            } else {
                $raw_resp = $left;
                $n--;
            }

            if (!defined $block->ignore_response) {
                check_error_code($block, $res, $dry_run, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $dry_run, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $dry_run, $req_idx, $need_array);
                transform_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array);
            }

            if ($n || $req_idx < @$r_req_list - 1) {
                if ($block->wait) {
                    Time::HiRes::sleep($block->wait);
                }
                check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);
                if (!defined $block->ignore_response) {
                    check_access_log($block, $dry_run, $repeated_req_idx);
                }
            }

            $req_idx++;
            last if !$n;
        }
    }

    if ($block->wait) {
        Time::HiRes::sleep($block->wait);
    }

    if ($block->{stap}) {
        # systemtap is not supported; the real runner skips one test too
        # when TEST_NGINX_USE_STAP is not set.
        SKIP: {
            Test::More::skip("$name - stap_out - tests skipped due to env "
                             . "TEST_NGINX_USE_STAP is not set", 1);
        }
    }

    check_error_log($block, $res, $dry_run, $repeated_req_idx, $need_array);

    if (!defined $block->ignore_response) {
        check_access_log($block, $dry_run, $repeated_req_idx);
    }
}

sub check_error_code ($$$$$) {
    my ($block, $res, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;

    SKIP: {
        Test::More::skip("$name - tests skipped due to $dry_run", 1) if $dry_run;

        my $got = ($res && $res->code) || '';

        if (defined $block->error_code_like) {
            my $val = get_indexed_value($name, $block->error_code_like, $req_idx, $need_array);
            Test::More::like($got, qr/$val/sm, "$name - status code ok");

        } elsif (defined $block->error_code) {
            Test::More::is($got,
                           get_indexed_value($name, $block->error_code, $req_idx, $need_array),
                           "$name - status code ok");

        } else {
            Test::More::is($got, 200, "$name - status code ok");
        }
    }
}

sub check_raw_response_headers ($$$$$) {
    my ($block, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' if !defined $raw_headers;

    if (defined $block->raw_response_headers_like) {
        SKIP: {
            Test::More::skip("$name - raw_response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
            my $expected = get_indexed_value($name, $block->raw_response_headers_like,
                                             $req_idx, $need_array);
            Test::More::like($raw_headers, qr/$expected/s, "$name - raw resp headers like");
        }
    }

    if (defined $block->raw_response_headers_unlike) {
        SKIP: {
            Test::More::skip("$name - raw_response_headers_unlike - tests skipped due to $dry_run", 1) if $dry_run;
            my $expected = get_indexed_value($name, $block->raw_response_headers_unlike,
                                             $req_idx, $need_array);
            Test::More::unlike($raw_headers, qr/$expected/s, "$name - raw resp headers unlike");
        }
    }
}

# "Name: value" lines; "!Name" means the header must be absent.  Like the
# real runner (which uses a hash), a repeated name is only checked once,
# with its last value.
sub parse_headers ($) {
    my $s = shift;
    my (%headers, @order);
    for my $line (split /\n/, $s // '') {
        $line =~ s/^\s+|\s+$//g;
        my $neg = ($line =~ s/^!\s*//);
        my ($key, $val);
        if ($neg) {
            ($key, $val) = ($line, undef);
        } else {
            ($key, $val) = split /\s*:\s*/, $line, 2;
        }
        push @order, $key if !exists $headers{$key};
        $headers{$key} = $val;
    }
    return [map { [$_, $headers{$_}] } @order];
}

sub check_response_headers ($$$$$$) {
    my ($block, $res, $raw_headers, $dry_run, $req_idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers = '' if !defined $raw_headers;

    if (defined $block->response_headers) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers,
                                                      $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;

            if (!defined $val) {
                SKIP: {
                    Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                                       "$name - header $key not present in the raw headers");
                }
                next;
            }

            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;

            my $actual = $res ? scalar $res->header($key) : undef;
            $actual = '' if !defined $actual;

            SKIP: {
                Test::More::skip("$name - response_headers - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::is($actual, $val, "$name - header $key ok");
            }
        }

    } elsif (defined $block->response_headers_like) {
        my $headers = parse_headers(get_indexed_value($name, $block->response_headers_like,
                                                      $req_idx, $need_array));
        for my $h (@$headers) {
            my ($key, $val) = @$h;
            $val = '' if !defined $val;
            my $actual = $res ? scalar $res->header($key) : undef;
            $actual = '' if !defined $actual;
            SKIP: {
                Test::More::skip("$name - response_headers_like - tests skipped due to $dry_run", 1) if $dry_run;
                Test::More::like($actual, qr/^$val$/, "$name - header $key like ok");
            }
        }
    }
}

sub run_filter_helper ($$$) {
    my ($block, $filter, $content) = @_;
    my $name = $block->name;

    if (ref $filter && ref $filter eq 'CODE') {
        return $filter->($content);
    }

    if (!ref $filter) {
        if ($filter eq 'md5_hex') {
            require Digest::MD5;
            return Digest::MD5::md5_hex($content);
        }
        if ($filter eq 'sha1_hex') {
            require Digest::SHA;
            return Digest::SHA::sha1_hex($content);
        }
        return uc($content)      if $filter eq 'uc';
        return lc($content)      if $filter eq 'lc';
        return ucfirst($content) if $filter eq 'ucfirst';
        return lcfirst($content) if $filter eq 'lcfirst';
        return length($content)  if $filter eq 'length';
        bail_out("$name - unknown filter, \"$filter\", specified in the "
                 . "--- response_body_filters section");
    }

    bail_out("$name - the --- response_body_filters section only supports "
             . "subroutine reference values and string values");
}

sub transform_response_body ($$$) {
    my ($block, $res, $req_idx) = @_;
    return unless defined $res;

    my $content = $res->content;
    return unless defined $content;

    my $filters = $block->response_body_filters;
    return unless defined $filters;

    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    my $filter = $filters;
    if (ref $filters->[0] eq 'ARRAY') {
        for my $elem (@$filters) {
            if (ref $elem ne 'ARRAY') {
                bail_out("$name - the --- response_body_filters two-dimensional array "
                         . "only be like [[uc], [lc]] not [[uc], lc]");
            }
        }
        $filter = $filters->[$req_idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($req_idx)") unless defined $filter;
    }

    my $new = $content;
    if (ref $filter && ref $filter eq 'ARRAY') {
        $new = run_filter_helper($block, $_, $new) for @$filter;
    } else {
        $new = run_filter_helper($block, $filter, $new);
    }

    $res->content($new);
}

sub check_response_body ($$$$$$) {
    my ($block, $res, $dry_run, $req_idx, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;

    if (defined(my $file = $block->write_resp_body_file) && defined $res) {
        open my $out, '>', $file
            or bail_out("$name - failed to write to file '$file': $!");
        print $out $res->content // '';
        close $out;
    }

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }

        if (defined $block->response_body_json_sort) {
            require JSON::PP;
            my $js = JSON::PP->new->canonical(1);
            my $obj;
            if (eval { $obj = $js->loose(1)->decode($content); 1 }) {
                $content = $js->encode($obj) . "\n";
            }
        }

        my $expected;
        if ($block->response_body_eval) {
            Test::More::diag("$name - response_body_eval is DEPRECATED. Use response_body eval instead.");
            $expected = eval get_indexed_value($name, $block->response_body_eval,
                                               $req_idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = get_indexed_value($name, $block->response_body,
                                          $req_idx, $need_array);
        }

        if ($block->charset) {
            require Encode;
            Encode::from_to($expected, 'UTF-8', $block->charset);
        }

        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env_in_text($expected, $name, $RandPorts);
        }

        SKIP: {
            Test::More::skip("$name - response_body - tests skipped due to $dry_run", 1) if $dry_run;
            if (ref $expected) {
                Test::More::like($content, $expected,
                    "$name - response_body - like (repeated req $repeated_req_idx, req $req_idx)");
            } else {
                Test::More::is($content, $expected,
                    "$name - response_body - response is expected (repeated req $repeated_req_idx, req $req_idx)");
            }
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($patterns, $type, $cmp);
        if (defined $block->response_body_like) {
            ($patterns, $type, $cmp) = ($block->response_body_like, 'like', \&Test::More::like);
        } else {
            ($patterns, $type, $cmp) = ($block->response_body_unlike, 'unlike', \&Test::More::unlike);
        }

        my $content = $res ? $res->content : undef;
        if (defined $content) {
            $content =~ s/^TE: deflate,gzip;q=0\.3\r\n//gms;
            $content =~ s/^Connection: TE, close\r\n//gms;
        }

        my $pat = get_indexed_value($name, $patterns, $req_idx, $need_array);
        $pat = '' if !defined $pat;
        $pat = "$pat";
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = trim($content) // '';

        SKIP: {
            Test::More::skip("$name - response_body_$type - tests skipped due to $dry_run", 1) if $dry_run;
            $cmp->($content, qr/$pat/s,
                   "$name - response_body_$type - response is expected ($summary)");
        }
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $res ? $res->content : undef, $req_idx, $repeated_req_idx, $dry_run);
    }
}

sub error_log_data () {
    # logging in the log phase happens after the response is sent
    Time::HiRes::sleep($TestNginxSleep * 3);

    open my $in, '<', $ErrLogFile or return undef;

    if (!$CheckAccumErrLog && $ErrLogFilePos > 0) {
        seek $in, $ErrLogFilePos, 0;
    }

    my @lines = <$in>;

    if (!$CheckAccumErrLog) {
        $ErrLogFilePos = tell($in);
    }

    close $in;
    return \@lines;
}

sub access_log_data () {
    Time::HiRes::sleep($TestNginxSleep * 3);
    open my $in, '<', $AccLogFile or die "open $AccLogFile failed: $!";
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub _pattern_list ($) {
    my $pats = shift;
    if (!ref $pats) {
        chomp $pats;
        return [split /\n+/, $pats];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _line_matches ($$) {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# One test per pattern: pass when some line matches.
sub _check_present ($$$$$) {
    my ($name, $pats, $lines, $dry_run, $what) = @_;
    my ($label, $suffix) = @$what;

    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            if (_line_matches($line, $pat)) {
                SKIP: {
                    Test::More::skip("$name - $label - tests skipped due to $dry_run", 1) if $dry_run;
                    Test::More::pass("$name - pattern \"$pat\" matches a line in $suffix");
                }
                undef $pat;
            }
        }
    }

    for my $pat (@$pats) {
        next if !defined $pat;
        SKIP: {
            Test::More::skip("$name - $label - tests skipped due to $dry_run", 1) if $dry_run;
            Test::More::fail("$name - pattern \"$pat\" should match a line in $suffix");
        }
    }
}

# One test per pattern when it matches nothing; one failure per matching
# line otherwise (as the real runner does).
sub _check_absent ($$$$$) {
    my ($name, $pats, $lines, $dry_run, $what) = @_;
    my ($label, $file, $req) = @$what;

    my %found;
    my $i = 0;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next if !defined $pat;
            if (_line_matches($line, $pat)) {
                if ($found{$pat}) {
                    no_ending();
                } else {
                    $found{$pat} = 1;
                }
                SKIP: {
                    Test::More::skip("$name - $label - tests skipped due to $dry_run ($line)", 1) if $dry_run;
                    my $ln = fmt_str($line);
                    my $p = fmt_str($pat);
                    my @more;
                    for (my $j = $i + 1; $j < List::Util::min($i + 10, @$lines - 1); $j++) {
                        push @more, $lines->[$j];
                    }
                    Test::More::fail("$name - pattern \"$p\" should not match any line in $file but matches line \"$ln\"$req\n"
                                     . join('', @more));
                }
            }
        }
    } continue {
        $i++;
    }

    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        SKIP: {
            Test::More::skip("$name - $label - tests skipped due to $dry_run", 1) if $dry_run;
            my $p = fmt_str($pat);
            Test::More::pass("$name - pattern \"$p\" does not match a line in $file$req");
        }
    }
}

sub _value_contains ($$) {
    my ($val, $pat) = @_;
    if (!ref $val || ref $val eq 'Regexp') {
        return $val =~ /\Q$pat\E/;
    }
    if (ref $val eq 'ARRAY') {
        for my $v (@$val) {
            return 1 if _value_contains($v, $pat);
        }
    }
    return undef;
}

sub check_error_log ($$$$$) {
    my ($block, $res, $dry_run, $repeated_req_idx, $need_array) = @_;
    my $name = $block->name;
    my $lines;

    my %warn_on = ('[alert]' => 1, '[crit]' => 1, '[emerg]' => 1);

    my $grep_pats = $block->grep_error_log;
    my $grep_pat;
    if (defined $grep_pats) {
        $grep_pat = (ref $grep_pats && ref $grep_pats eq 'ARRAY')
                    ? $grep_pats->[$repeated_req_idx] : $grep_pats;
    } elsif (defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but --- grep_error_log_out is defined");
    }

    if (defined $grep_pat) {
        my $expected = $block->grep_error_log_out;
        if (!defined $expected) {
            bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined");
        }

        if (ref $expected && ref $expected eq 'ARRAY') {
            $expected = $expected->[$repeated_req_idx];
        }
        if (!ref $expected) {
            $expected = expand_env_in_text($expected, $name, $RandPorts);
        }

        SKIP: {
            Test::More::skip("$name - error_log - tests skipped due to $dry_run", 1) if $dry_run;

            $lines ||= error_log_data();
            my $matched = '';
            for my $line (@$lines) {
                if (ref $grep_pat && $line =~ /$grep_pat/ || $line =~ /\Q$grep_pat\E/) {
                    my $m = $&;
                    $matched .= "$m\n" if $m !~ /\n/;
                }
            }

            if (ref $expected eq 'Regexp') {
                Test::More::like($matched, $expected, "$name - grep_error_log_out (req $repeated_req_idx)");
            } else {
                Test::More::is($matched, $expected, "$name - grep_error_log_out (req $repeated_req_idx)");
            }
        }
    }

    for my $section (qw(error_log no_error_log)) {
        my $pats = $block->$section;
        next if !defined $pats;
        for my $k (keys %warn_on) {
            (my $prefix = $k) =~ s/\]$//;
            delete $warn_on{$k} if _value_contains($pats, $prefix);
        }
    }

    if (defined $block->error_log) {
        my $pats = _pattern_list($block->error_log);
        $lines ||= error_log_data();
        _check_present($name, $pats, $lines || [], $dry_run,
                       ['error_log', "error.log (req $repeated_req_idx)"]);
    }

    if (defined $block->no_error_log) {
        my $pats = _pattern_list($block->no_error_log);
        $lines ||= error_log_data();
        _check_absent($name, $pats, $lines || [], $dry_run,
                      ['no_error_log', 'error.log', " (req $repeated_req_idx)"]);
    }

    if (!$dry_run) {
        # (the real runner always reads the log here, which also moves the
        # position the next check starts from)
        $lines ||= error_log_data();
        my @kinds = ('writing a global lua variable', sort keys %warn_on);
        @kinds = grep { $_ ne 'writing a global lua variable' } @kinds
            if grep { _value_contains($_, 'writing a global lua variable') }
               grep { defined } ($block->error_log, $block->no_error_log);
        for my $k (@kinds) {
            for my $line (@{ $lines || [] }) {
                if (index($line, $k) >= 0) {
                    warn "WARNING: $name - " . fmt_str($line) . "\n";
                }
            }
        }
    }

    for my $line (@{ $lines || [] }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            no_ending();
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_access_log ($$$) {
    my ($block, $dry_run, $repeated_req_idx) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        my $pats = _pattern_list($block->access_log);
        $lines ||= access_log_data();
        _check_present($name, $pats, $lines, $dry_run,
                       ['access_log', "access.log (req $repeated_req_idx)"]);
    }

    if (defined $block->no_access_log) {
        my $pats = _pattern_list($block->no_access_log);
        $lines ||= access_log_data();
        _check_absent($name, $pats, $lines, $dry_run,
                      ['no_access_log', 'access.log', " (req $repeated_req_idx)"]);
    }
}

sub check_shutdown_error_log ($$) {
    my ($block, $dry_run) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->shutdown_error_log) {
        my $pats = _pattern_list($block->shutdown_error_log);
        $lines ||= error_log_data();
        _check_present($name, $pats, $lines || [], $dry_run,
                       ['shutdown_error_log', 'error.log']);
    }

    if (defined $block->no_shutdown_error_log) {
        my $pats = _pattern_list($block->no_shutdown_error_log);
        $lines ||= error_log_data();
        _check_absent($name, $pats, $lines || [], $dry_run,
                      ['no_shutdown_error_log', 'error.log', '']);
    }
}

END {
    return if $InSubprocess;

    local $?;    # keep the test script's exit status

    cleanup();

    return unless $RunTestsCalled;

    if (!$ENV{TEST_NGINX_NO_CLEAN} || $UseValgrind) {
        my $pid = get_pid_from_pidfile('END');
        if (defined $pid && is_running($pid)) {
            kill_process($pid, 1, "END");
        } elsif (-f $PidFile) {
            unlink $PidFile;
        }
    }

    check_prev_block_shutdown_error_log();
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - minimal, dependency-free stand-in for the subset of
openresty's Test::Nginx::Socket used by this project's tests

=head1 SYNOPSIS

    use Test::Nginx::Socket;

    repeat_each(2);
    no_shuffle();
    plan tests => repeat_each() * (2 * blocks());
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello

=head1 DESCRIPTION

Only used when the real Test::Nginx is not installed (C<prove -I t/lib>).
The block format, nginx.conf layout, environment variables
(TEST_NGINX_BINARY, TEST_NGINX_PORT, TEST_NGINX_SERVROOT,
TEST_NGINX_LOAD_MODULES, TEST_NGINX_LOG_LEVEL, TEST_NGINX_NO_SHUFFLE,
TEST_NGINX_SLEEP, TEST_NGINX_TIMEOUT, TEST_NGINX_USE_VALGRIND, ...) and the
number of tests each section produces follow the real module, so a plan
written for one is right for the other.

=head2 Test counts

Per block, per repetition (C<repeat_each>), for each request (a
C<--- request eval> array or C<--- pipelined_requests> of N requests counts
N times):

=over

=item * status code: always 1 (200 is expected without C<--- error_code>)

=item * C<--- response_headers> / C<--- response_headers_like>: 1 per
distinct header name (C<!Name> lines included)

=item * C<--- raw_response_headers_like> / C<_unlike>: 1 each

=item * C<--- response_body> / C<_like> / C<_unlike>: 1; nothing without
one of them

=back

and, N times for N requests (between requests and after the last one, each
time on the log lines written since the previous check):

=over

=item * C<--- error_log>, C<--- no_error_log>: 1 per pattern (a
C<no_error_log> pattern matching several lines fails once per line)

=item * C<--- grep_error_log>: 1; C<--- access_log>, C<--- no_access_log>: 1
per pattern

=back

C<--- ignore_response> drops the status/header/body tests.  A
C<--- must_die> block sends no request and counts 1 (nginx died) + its
error_log and no_error_log patterns, per repetition.  C<--- tcp_query> and
C<--- tcp_query_len> add 1 each, C<--- stap> 1 (skipped),
C<--- shutdown_error_log> patterns 1 each but once per block (checked when
nginx is stopped).  A timeout without C<--- abort>, a failed connection or a
bad chunked body adds one failing test.  Blocks with C<--- SKIP> are not
counted by C<blocks()>; C<--- ONLY> and C<--- LAST> cut the list.

=cut
