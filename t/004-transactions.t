# vim:set ft= ts=4 sw=4 et fdm=marker:

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

plan tests => 26;

our $HttpConfig = <<'_EOC_';
    social_postgres_pool 2;
_EOC_

our $Config = <<'_EOC_';
    location = /txn {
        social_endpoint debug_pg_txn;
    }
_EOC_

add_block_preprocessor(\&social_defaults);

run_tests();

__DATA__

=== TEST 1: statements between BEGIN and COMMIT run on one connection
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /txn?key=committed&commit=1
--- response_body chomp
{"visible":1}
--- error_log
social pg: reusing connection
--- no_error_log
[error]



=== TEST 2: a ROLLBACK leaves nothing behind
--- request
GET /txn?key=rolled-back&commit=0
--- response_body chomp
{"visible":0}
--- no_error_log
[error]



=== TEST 3: a client that goes away mid-transaction: it is rolled back
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /txn?key=abandoned&commit=1&ms=700
--- timeout: 0.2
--- abort
--- ignore_response
--- wait: 1
--- error_log
social: client closed the connection
social pg: result of a request that went away
social pg: rolling back on
--- no_error_log
[error]



=== TEST 4: what the abandoned transaction wrote is not there
--- request
GET /txn?key=probe&commit=1&check=abandoned
--- response_body chomp
{"visible":0}
--- no_error_log
[error]



=== TEST 5: concurrent transactions each get their own connection
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- init
Social::social_result(Social::social_concurrent(6, "/txn?key=many&commit=1&ms=200") . "\n");
--- response_body
200:6
--- no_error_log
[error]



=== TEST 6: the connection of a transaction is lost between two statements: 503, nothing of it committed, not even the statements after
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- init
Social::social_sql("DELETE FROM social_settings WHERE name LIKE 'debug:lost%'");
my $bg = Social::social_background("/txn?key=lost&pause=3000");
# the endpoint waits on its timer after its first statement: the backend
# is idle in the transaction until it ends
my ($backend, $deadline) = (undef, time + 10);
while (!$backend && time < $deadline) {
    $backend = Social::social_sql("SELECT pid FROM pg_stat_activity WHERE datname = 'social' AND state = 'idle in transaction' AND query LIKE 'INSERT INTO social_settings%'");
    select undef, undef, undef, 0.05 unless $backend;
}
my $killed = $backend ? Social::social_sql("SELECT pg_terminate_backend($backend)") : 'none';
my $answer = Social::social_background_result($bg);
Social::social_result("killed $killed\n$answer");
--- sql
SELECT 'committed ' || count(*) FROM social_settings WHERE name LIKE 'debug:lost%'
--- response_body
killed t
503:1
committed 0
--- error_log
social: postgres closed the connection of an open transaction
social pg: statement refused, its transaction lost its connection
--- no_error_log
[crit]
[alert]



=== TEST 7: the same worker runs transactions again
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
GET /txn?key=after-lost&commit=1
--- response_body chomp
{"visible":1}
--- no_error_log
[error]
