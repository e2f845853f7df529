# vim:set ft= ts=4 sw=4 et fdm=marker:

# Reads that go together (ngx_http_social_reads.c): a worker's concurrent
# reads of one kind run as one statement, and each request gets its own
# rows by the place the statement answers with them.  debug_reads reads
# its v back through a kind whose statement answers v at the read's place
# plus o: o = 0 is a right statement; any other o a wrong one, whose
# every read fails (a 500 and an alert), while the next statement is
# right again.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
worker_connections(1024);
no_shuffle();

plan tests => repeat_each() * (3 * blocks() + 1);

our $HttpConfig = <<'_EOC_';
    social_postgres_pool 1;
_EOC_

our $Config = <<'_EOC_';
    location = /reads { social_endpoint debug_reads; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $Config);

    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: one read: its own value
--- request
GET /reads?v=7
--- response_body chomp
{"value":7}
--- no_error_log
[error]



=== TEST 2: 60 reads at once, on one connection to PostgreSQL: each answer its own value
--- init
my ($summary, $answers) = Social::social_at_once(0, [
    map { "GET /reads?v=$_ HTTP/1.1\r\nHost: localhost\r\n"
          . "Connection: close\r\n\r\n" } 1 .. 60 ]);
my $wrong = grep { $answers->[$_ - 1] !~ /\{"value":$_\}\s*\z/ } 1 .. 60;
Social::social_result("$summary, wrong: $wrong\n");
--- response_body
200:60, wrong: 0
--- error_log eval
qr/social reads: (?:[2-9]|[1-9]\d+) in one statement/
--- no_error_log
[error]



=== TEST 3: a statement that answers a place out of range fails its read (500, an alert), and the next statement is right
--- init
my ($s1, $b1) = Social::social_http('GET', '/reads?v=7&o=5');
my ($s2, $b2) = Social::social_http('GET', '/reads?v=8');
Social::social_result("$s1 " . ($b1 =~ /"code":"(\w+)"/ ? $1 : $b1) . "\n",
                      "$s2 $b2\n");
--- response_body
500 internal
200 {"value":8}
--- error_log
a statement of reads answered 2 columns, or a place out of 1..1
