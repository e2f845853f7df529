# vim:set ft= ts=4 sw=4 et fdm=marker:

# util/migrate, the schema's migrations (sql/NNN_name.sql), on a database
# of its own (social_migrate) of the test PostgreSQL server and a copy of
# sql/ that the blocks edit: each file applied once, in order, in its own
# transaction, recorded with its sha256; a file edited or removed after it
# was applied stops the run on an operator's database (make run's: the
# "run" instance) and touches nothing, and makes a throwaway database (the
# suite's instance) again from nothing; a file applied before the sums
# were kept is recorded as it is now on an operator's database; a file
# that fails leaves nothing of itself.  (Making a throwaway database again
# also empties that instance's Redis, as util/migrate does: nothing of
# this file reads it.)

use lib 't';
use Test::Nginx::Socket;
use Social;

use Digest::SHA ();
use File::Copy ();
use File::Temp ();

repeat_each(1);
no_shuffle();

plan tests => repeat_each() * (3 * blocks());

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;

    social_defaults($block);
});

our $Db = 'social_migrate';
our $Sql = File::Temp::tempdir('social-migrate-XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);

# the instance whose database is thrown away and made again (test, or asan
# for make test-asan), and an operator's (make run's)
our $Throwaway = $ENV{TEST_NGINX_SOCIAL_INSTANCE} || 'test';
our $Operator = 'run';

# the repository's migrations
sub files {
    my $dir = shift // "$ENV{TEST_NGINX_UTIL}/../sql";
    opendir my $dh, $dir or die "$dir: $!\n";
    my @f = sort grep { /^\d{3}_.*\.sql$/ } readdir $dh;
    closedir $dh;
    return @f;
}

sub sha {
    return Digest::SHA->new(256)->addfile("$Sql/$_[0]")->hexdigest;
}

sub sql {
    return Social::social_psql($Db, 'social', @_);
}

# util/migrate on the instance: "exit N", then what it said (its lines
# "social: ..."), the copy of sql/ as the files
sub migrate {
    my $instance = shift;
    my $port = $ENV{TEST_NGINX_PG_PORT};
    my $redis = $ENV{TEST_NGINX_REDIS_PORT};

    local $ENV{SOCIAL_PG_DB} = $Db;
    local $ENV{SOCIAL_SQL_DIR} = $Sql;
    local @ENV{qw(PG_PORT TEST_PG_PORT ASAN_PG_PORT)} = ($port) x 3;
    local @ENV{qw(REDIS_PORT TEST_REDIS_PORT ASAN_REDIS_PORT)} = ($redis) x 3;

    my $said = `$ENV{TEST_NGINX_UTIL}/migrate $instance 2>&1`;
    my $exit = $? >> 8;

    $said =~ s/\Q$Sql\E/SQL/g;
    return ("exit $exit", grep { /\S/ } split /\n/, $said);
}

# the versions recorded, each "version ok" when its sum is its file's
sub recorded {
    return map {
        my ($v, $sum) = split /\|/;
        my $f = "$v.sql";
        "$v " . (!-e "$Sql/$f" ? 'gone'
                 : $sum eq '-' ? 'no sum'
                 : $sum eq sha($f) ? 'ok' : 'stale');
    } sql("SELECT version, coalesce(sha256, '-') FROM schema_migrations"
          . " ORDER BY version");
}

# what a check says of the recorded versions: "N recorded, all ok" or the
# lines that are not
sub summary {
    my @r = recorded();
    my @bad = grep { !/ ok$/ } @r;
    return (scalar(@r) . " recorded" . (@bad ? "" : ", all ok"), @bad);
}

sub append {
    my ($file, $text) = @_;
    open my $fh, '>>', "$Sql/$file" or die "$file: $!\n";
    print $fh $text;
    close $fh;
}

sub restore {
    my $file = shift;
    File::Copy::copy("$ENV{TEST_NGINX_UTIL}/../sql/$file", "$Sql/$file")
        or die "$file: $!\n";
}

our @Files = files();
our $Third = $Files[2];
(our $ThirdV = $Third) =~ s/\.sql$//;
our $Last = $Files[-1];
(our $LastV = $Last) =~ s/\.sql$//;

# the count of the files as "N files"
sub nfiles {
    return scalar(files($Sql)) . " files";
}

run_tests();

Social::social_psql('postgres', 'postgres', "DROP DATABASE IF EXISTS $Db WITH (FORCE)");

__DATA__

=== TEST 1: a new database: every file of sql/ applied once, in order, each recorded with its file's sha256
--- config
--- init
Social::social_psql('postgres', 'postgres', "DROP DATABASE IF EXISTS $main::Db WITH (FORCE)");
Social::social_psql('postgres', 'postgres', "CREATE DATABASE $main::Db OWNER social");
main::restore($_) for @main::Files;
my ($exit, @said) = main::migrate($main::Operator);
my @applied = map { /^social: applying (\S+)$/ ? "$1.sql" : () } @said;
Social::social_result_lines($exit,
          "applied in order: " . ("@applied" eq "@main::Files" ? "yes" : "@applied"),
          main::summary(),
          main::nfiles(),
          "events: " . main::sql("SELECT to_regclass('events') IS NOT NULL"));
--- response_body eval
"exit 0
applied in order: yes
" . scalar(@main::Files) . " recorded, all ok
" . scalar(@main::Files) . " files
events: t
"



=== TEST 2: run again on the same files: nothing applied, nothing said
--- init
Social::social_result_lines(main::migrate($main::Operator), main::summary());
--- response_body eval
"exit 0
" . scalar(@main::Files) . " recorded, all ok
"



=== TEST 3: an operator's database whose applied file was edited since: the run stops, names the file, and touches nothing
--- init
main::sql("CREATE TABLE t_marker (x int); INSERT INTO t_marker VALUES (7)");
main::append($main::Third, "\n-- edited after it was applied\n");
Social::social_result_lines(main::migrate($main::Operator), main::summary(),
          "marker: " . main::sql("SELECT x FROM t_marker"));
--- response_body eval
"exit 1
social: the run database does not match sql/: $main::ThirdV (changed since it was applied); a migration is never edited once applied (a change is a new file); dump what you need and make the database again
" . scalar(@main::Files) . " recorded
$main::ThirdV stale
marker: 7
"



=== TEST 4: an operator's database whose applied file is no longer in sql/: the run stops, names it, and touches nothing
--- init
main::restore($main::Third);
unlink "$main::Sql/$main::Last" or die "$!\n";
Social::social_result_lines(main::migrate($main::Operator), main::summary(),
          "marker: " . main::sql("SELECT x FROM t_marker"));
main::restore($main::Last);
--- response_body eval
"exit 1
social: the run database does not match sql/: $main::LastV (applied, no longer in sql/); a migration is never edited once applied (a change is a new file); dump what you need and make the database again
" . scalar(@main::Files) . " recorded
$main::LastV gone
marker: 7
"



=== TEST 5: an operator's database with a file applied before sums were kept: its sum recorded as the file is now, said, and nothing else touched
--- init
main::sql("UPDATE schema_migrations SET sha256 = NULL WHERE version = '$main::ThirdV'");
Social::social_result_lines(main::migrate($main::Operator), main::summary(),
          "marker: " . main::sql("SELECT x FROM t_marker"));
--- response_body eval
"exit 0
social: recording the checksums of $main::ThirdV as the files are now (applied before checksums were kept: if one was edited since, this database does not have the change)
" . scalar(@main::Files) . " recorded, all ok
marker: 7
"



=== TEST 6: a new file is applied, alone; one that fails halfway leaves nothing of itself and is not recorded, and the run stops there
--- init
open my $fh, '>', "$main::Sql/900_t_added.sql" or die "$!\n";
print $fh "CREATE TABLE t_added (x int);\nINSERT INTO t_added VALUES (1);\n";
close $fh;
open $fh, '>', "$main::Sql/901_t_broken.sql" or die "$!\n";
print $fh "CREATE TABLE t_broken (x int);\nINSERT INTO t_broken VALUES ('not a number');\n";
close $fh;
open $fh, '>', "$main::Sql/902_t_after.sql" or die "$!\n";
print $fh "CREATE TABLE t_after (x int);\n";
close $fh;
my ($exit, @said) = main::migrate($main::Operator);
Social::social_result_lines($exit,
          grep({ /applying/ } @said),
          "said the error: " . (grep({ /not a number|invalid input/ } @said) ? "yes" : "no"),
          main::summary(),
          main::sql("SELECT string_agg(coalesce(to_regclass(t)::text, '-'), ' ')"
                    . " FROM unnest(ARRAY['t_added', 't_broken', 't_after']) t"),
          "marker: " . main::sql("SELECT x FROM t_marker"));
unlink "$main::Sql/901_t_broken.sql", "$main::Sql/902_t_after.sql";
--- response_body eval
"exit 3
social: applying 900_t_added
social: applying 901_t_broken
said the error: yes
" . (scalar(@main::Files) + 1) . " recorded, all ok
t_added - -
marker: 7
"



=== TEST 7: a throwaway database (the suite's) whose applied file was edited: made again from nothing, every file applied again with its sum now
--- init
main::append($main::Third, "\n-- edited after it was applied\n");
my ($exit, @said) = main::migrate($main::Throwaway);
Social::social_result_lines($exit,
          grep({ /made again/ } @said),
          "applied: " . grep({ /^social: applying / } @said),
          main::summary(),
          "marker: " . main::sql("SELECT coalesce(to_regclass('t_marker')::text, 'gone')"));
--- response_body eval
"exit 0
social: the $main::Throwaway database is made again: $main::ThirdV (changed since it was applied)
applied: " . (scalar(@main::Files) + 1) . "
" . (scalar(@main::Files) + 1) . " recorded, all ok
marker: gone
"



=== TEST 8: a throwaway database with a file applied before sums were kept: made again too
--- init
main::sql("UPDATE schema_migrations SET sha256 = NULL WHERE version = '$main::LastV'");
main::sql("CREATE TABLE t_marker (x int)");
my ($exit, @said) = main::migrate($main::Throwaway);
Social::social_result_lines($exit,
          grep({ /made again/ } @said),
          main::summary(),
          "marker: " . main::sql("SELECT coalesce(to_regclass('t_marker')::text, 'gone')"));
--- response_body eval
"exit 0
social: the $main::Throwaway database is made again: $main::LastV (applied before checksums were kept)
" . (scalar(@main::Files) + 1) . " recorded, all ok
marker: gone
"
