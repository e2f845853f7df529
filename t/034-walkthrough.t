# vim:set ft= ts=4 sw=4 et fdm=marker:

# The original walkthrough at the end of ../shared/API.md, as a client
# types it, against the locations of the shipped conf/nginx.conf (read from
# the file, so the aliases tested are the ones shipped): signup, signin,
# the group, the original /users/, then /conversations/, /utterances/,
# /simulate-and-generate and /generate-exercise?user_id=.  The ids the
# bodies carry must match the token's user and the utterance: a mismatch is
# 403 or 422, never silently used.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();
no_root_location();

plan tests => repeat_each() * (4 * blocks());

# the server's error_page and locations of conf/nginx.conf
our $Config = do {
    open my $in, '<', 'conf/nginx.conf' or die "conf/nginx.conf: $!\n";
    local $/;
    my $conf = <$in>;
    close $in;
    my ($server) = $conf =~ /\n    server \{\n(.*)\n    \}\n\}/s
        or die "no server block in conf/nginx.conf\n";
    $server =~ s/^\s*listen\s[^;]*;\n//m;
    $server;
};

our %W;    # what the walkthrough learnt: ids, token, password

sub field {
    my ($json, $name) = @_;
    return $json =~ /"$name":"?([^",}]*)/ ? $1 : 'none';
}

add_block_preprocessor(sub {
    my $block = shift;

    $block->set_value("config", $Config) unless defined $block->config;
    $block->set_value("no_error_log", "[error]")
        unless defined $block->no_error_log;
    $block->set_value("response_headers", "Content-Type: text/plain")
        unless defined $block->response_headers;

    social_defaults($block);
});

run_tests();

__DATA__

=== TEST 1: the walkthrough, step by step, through the original paths
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
my @st;
my ($s, $b) = Social::social_http('POST', '/signup', '{"attributes": ["Software", "Engineer", "Brussels"]}');
push @st, "signup $s";
$::W{id} = ::field($b, 'user_id');
$::W{password} = ::field($b, 'password');
($s, $b) = Social::social_http('POST', '/signin', qq~{"user_id": $::W{id}, "password": "$::W{password}"}~);
push @st, "signin $s";
$::W{token} = ::field($b, 'token');
my $auth = "Authorization: Bearer $::W{token}";
($s, $b) = Social::social_http('GET', "/group/$::W{id}", undef, $auth);
push @st, "group $s";
($s, $b) = Social::social_http('POST', '/users/', '{"username": "anant", "email": "anant.doe@example.com"}');
push @st, "users/ $s " . ::field($b, 'username');
$::W{other} = ::field($b, 'user_id');
($s, $b) = Social::social_http('POST', '/conversations/', qq~{"user_id": $::W{id}}~, $auth);
push @st, "conversations/ $s";
$::W{cid} = ::field($b, 'conversation_id');
($s, $b) = Social::social_http('POST', '/utterances/', qq~{"conversation_id": $::W{cid}, "user_id": $::W{id}, "content": "it is wrong not a sentence but is it."}~, $auth);
push @st, "utterances/ $s " . ::field($b, 'content');
$::W{uid} = ::field($b, 'utterance_id');
($s, $b) = Social::social_http('POST', '/simulate-and-generate', qq~{"user_id": $::W{id}, "conversation_id": $::W{cid}, "utterance_id": $::W{uid}, "errors": [
     {"errorCategory": "Grammar", "errorSubCategory": "Subject-Verb Agreement"},
     {"errorCategory": "Grammar", "errorSubCategory": "Pronouns"},
     {"errorCategory": "Vocabulary", "errorSubCategory": "Word Choice"}]}~, $auth);
push @st, "simulate-and-generate $s $b";
($s, $b) = Social::social_http('GET', "/generate-exercise?user_id=$::W{id}", undef, $auth);
push @st, "generate-exercise $s";
Social::social_result(join("\n", @st, "ids $::W{id} $::W{other} $::W{cid} $::W{uid}", ""));
--- response_body
signup 201
signin 200
group 200
users/ 201 anant
conversations/ 201
utterances/ 201 it is wrong not a sentence but is it.
simulate-and-generate 202 {"utterance_id":1,"recorded":3}
generate-exercise 200
ids 1 2 1 1



=== TEST 2: the exercises target the three errors at once, one of the user's own sentences each
--- request
GET /generate-exercise?user_id=1
--- more_headers eval: "Authorization: Bearer " . Social::social_token(1)
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{"user_id":1,"focus":\[\{"category":"Grammar","subcategory":"Pronouns","frequency":1\},\{"category":"Grammar","subcategory":"Subject-Verb Agreement","frequency":1\},\{"category":"Vocabulary","subcategory":"Word Choice","frequency":1\}\],"exercises":\[\{"exercise_id":null,"type":"correction","category":"Grammar","subcategory":"Pronouns","prompt":"Correct the pronouns in: \\"it is wrong not a sentence but is it.\\"","choices":null,"answer":null,"utterance_id":1\},\{"exercise_id":\d+,.*"subcategory":"Pronouns",.*\},\{"exercise_id":null,"type":"correction","category":"Grammar","subcategory":"Subject-Verb Agreement","prompt":"Correct the subject-verb agreement in: \\"it is wrong not a sentence but is it.\\"",.*\},\{"exercise_id":\d+,.*"subcategory":"Subject-Verb Agreement",.*\},\{"exercise_id":null,"type":"correction","category":"Vocabulary","subcategory":"Word Choice","prompt":"Correct the word choice in: \\"it is wrong not a sentence but is it.\\"",.*"utterance_id":1\}\]\}$



=== TEST 3: the same bodies with ids that do not match are refused, never used
--- init
my @st;
my $auth = "Authorization: Bearer $::W{token}";
my $anant = "Authorization: Bearer " . Social::social_token($::W{other});
my ($s, $b) = Social::social_http('POST', '/conversations/', qq~{"user_id": $::W{other}}~, $auth);
push @st, "conversation for anant: $s";
($s, $b) = Social::social_http('POST', '/utterances/', qq~{"conversation_id": $::W{cid}, "user_id": $::W{other}, "content": "x"}~, $auth);
push @st, "utterance naming anant: $s";
($s, $b) = Social::social_http('POST', '/utterances/', qq~{"conversation_id": $::W{cid}, "user_id": $::W{other}, "content": "x"}~, $anant);
push @st, "anant in the conversation: $s";
($s, $b) = Social::social_http('POST', '/simulate-and-generate', qq~{"user_id": $::W{other}, "utterance_id": $::W{uid}, "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"}]}~, $auth);
push @st, "errors naming anant: $s";
(undef, $b) = Social::social_http('POST', '/conversations/', '{}', $auth);
my ($cid2) = $b =~ /"conversation_id":(\d+)/;
($s, $b) = Social::social_http('POST', '/simulate-and-generate', qq~{"user_id": $::W{id}, "conversation_id": $cid2, "utterance_id": $::W{uid}, "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"}]}~, $auth);
push @st, "errors in another conversation: $s " . ::field($b, 'field');
($s, $b) = Social::social_http('POST', '/simulate-and-generate', qq~{"user_id": $::W{id}, "conversation_id": 999999, "utterance_id": $::W{uid}, "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"}]}~, $auth);
push @st, "errors in no conversation: $s " . ::field($b, 'field');
($s, $b) = Social::social_http('POST', '/simulate-and-generate', qq~{"utterance_id": $::W{uid}, "errors": [{"errorCategory": "Grammar", "errorSubCategory": "Pronouns"}]}~, $anant);
push @st, "anant on the utterance: $s";
($s, $b) = Social::social_http('GET', "/generate-exercise?user_id=$::W{id}", undef, $anant);
push @st, "anant's view of the exercises: $s";
($s, $b) = Social::social_http('GET', "/generate-exercise?user_id=$::W{id}", undef, $auth);
push @st, "still one of each: " . join(',', $b =~ /"frequency":(\d+)/g);
Social::social_result(join("\n", @st, ""));
--- response_body
conversation for anant: 403
utterance naming anant: 403
anant in the conversation: 403
errors naming anant: 403
errors in another conversation: 422 conversation_id
errors in no conversation: 404 conversation_id
anant on the utterance: 403
anant's view of the exercises: 403
still one of each: 1,1,1
