# vim:set ft= ts=4 sw=4 et fdm=marker:

# Statements with parameters are prepared once per connection and then
# executed by name; once NGX_HTTP_SOCIAL_PG_PREPARED (64) are prepared on a
# connection, the others run unnamed (PQsendQueryParams) and still answer.
# debug_pg_statements runs N distinct statements twice on the one
# connection of the pool and reports what PostgreSQL answered: the sum of
# the results (2 * N * (N - 1)) and the count of pg_prepared_statements.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (6 * blocks());

our $HttpConfig = <<'_EOC_';
    social_postgres_pool 1;
_EOC_

our $Config = <<'_EOC_';
    location = /statements { social_endpoint debug_pg_statements; }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("http_config", $HttpConfig);
    $block->set_value("config", $Config);

    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: 10 statements: each prepared once, then executed by name
--- request
GET /statements?n=10
--- response_body chomp
{"ran":20,"sum":180,"prepared":10}
--- error_log
social pg: preparing s0 on
social pg: preparing s9 on
--- no_error_log
runs unnamed
[error]



=== TEST 2: 70 statements: 64 prepared, the other 6 run unnamed, every answer right
--- request
GET /statements?n=70
--- response_body chomp
{"ran":140,"sum":9660,"prepared":64}
--- error_log
social pg: preparing s63 on
64 statements prepared on
--- no_error_log
social pg: preparing s64 on
[error]
