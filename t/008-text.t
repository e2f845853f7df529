# vim:set ft= ts=4 sw=4 et fdm=marker:

# Text, judged at the door: every JSON string of a body (values and member
# names), once unescaped, must be UTF-8 of Unicode scalar values in
# shortest form (../shared/API.md, Conventions), or the body is 400
# invalid_json before any endpoint sees it, after the token (401 first).
#
# Each "bad text" block sends one body per class of @Bad, the class right
# before the closing quote of one string of one endpoint: escaped lone or
# misplaced surrogates, raw surrogates, overlong forms, code points above
# U+10FFFF, a truncated sequence, a stray continuation byte, FE and FF.
# Then nothing may have changed in PostgreSQL nor in Redis's error points,
# and valid text (astral characters, escaped or raw, U+FFFF, U+10FFFF)
# still passes, with \u0000 still 422.
#
# Made with SQL by TEST 1: users 1 root (an admin) and 2 ann; ann's
# conversation 1 and utterance 1.

use lib 't';
use Test::Nginx::Socket;
use Social;

repeat_each(1);
no_shuffle();

# the classes of bad text, as they stand in a JSON string
our @Bad = (
    '\ud800',               # an escaped high surrogate alone
    '\udc00',               # an escaped low surrogate alone
    '\ud800\ud800',         # a high one followed by a high one
    '\ud800\u0041',         # a high one followed by a letter
    '\udc00\ud800',         # the pair the wrong way round
    "\xed\xa0\x80",         # a raw surrogate (U+D800)
    "\xed\xb0\x80",         # what yajl makes of \udc00
    "\xc0\x80",             # overlong NUL
    "\xe0\x80\x80",         # overlong, 3 bytes
    "\xf0\x80\x80\x80",     # overlong, 4 bytes
    "\xf4\x90\x80\x80",     # U+110000, above the range
    "\xf5\x80\x80\x80",     # a lead byte of nothing
    "\xe2\x82",             # truncated, right before the quote
    "\x80",                 # a stray continuation byte
    "\xfe",
    "\xff",
);

our $Invalid = '{"error":{"code":"invalid_json","message":'
               . '"The request body is not valid UTF-8 JSON."}}';

our $Json = "Content-Type: application/json";

# "METHOD /uri" and a body with %s: one request a class of @Bad
sub bad {
    my ($line, $body) = @_;
    return [map { my $b = $body; $b =~ s/%s/$_/; "$line\n$b" } @Bad];
}

sub auth_json { return Social::social_auth_json(@_) }

sub admin_json { return auth_json(1, role => 'admin') }

# what the requests may not change: the rows of PostgreSQL's tables of
# the API and the error points waiting in Redis
sub snapshot {
    my $pg = Social::social_sql(
        "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
        . " SELECT u::text AS t FROM users u"
        . " UNION ALL SELECT g::text FROM groups g"
        . " UNION ALL SELECT p::text FROM posts p"
        . " UNION ALL SELECT e::text FROM events e"
        . " UNION ALL SELECT c::text FROM conversations c"
        . " UNION ALL SELECT x::text FROM utterances x"
        . " UNION ALL SELECT 'e' || count(*) FROM utterance_errors) s");
    my $redis = join ',', sort split /\n/,
                Social::social_redis('KEYS', 'social:err:*');
    return "$pg $redis " . Social::social_redis(qw(LLEN social:err:rows));
}

our $Before;

# a "bad text" block sends @Bad requests, each 400 invalid_json
add_block_preprocessor(sub {
    my $block = shift;

    if ($block->name =~ /: bad text in /) {
        $block->set_value("error_code", [(400) x @Bad]);
        $block->set_value("response_body", [($Invalid) x @Bad]);
        $block->set_value("response_headers",
                          [("Content-Type: application/json") x @Bad]);
    }

    social_api_defaults($block);
});

# a "bad text" block is 4 tests a request, the others 4
my $bad = grep { $_->name =~ /: bad text in / } blocks();

plan tests => repeat_each() * 4 * (blocks() + $bad * (@Bad - 1));

run_tests();

__DATA__

=== TEST 1: the users, a conversation and an utterance; a valid body passes
--- init
Social::social_reset();
Social::social_sql("TRUNCATE error_batches");
Social::social_sql(q{INSERT INTO users (username, email, role, password_hash) VALUES ('root', 'root@example.com', 'admin', 'hmac$x'), ('ann', 'ann@example.com', 'user', 'hmac$x')});
Social::social_sql("INSERT INTO conversations (user_id) VALUES (2)");
Social::social_sql("INSERT INTO utterances (conversation_id, user_id, content) VALUES (1, 2, 'I goes home.')");
--- request
POST /signin
{"username": "nobody", "password": "wrong password"}
--- more_headers eval: $::Json
--- error_code: 401
--- response_body_like chomp
"invalid_credentials"
--- no_error_log
[error]



=== TEST 2: signup: bad text in an attribute
--- init
$::Before = ::snapshot();
--- request eval
::bad("POST /signup", '{"attributes": ["Software", "Engin%s"]}')
--- more_headers eval: $::Json



=== TEST 3: signup: bad text in username
--- request eval
::bad("POST /signup", '{"username": "carol%s"}')
--- more_headers eval: $::Json



=== TEST 4: signup: bad text in email
--- request eval
::bad("POST /signup", '{"email": "carol@example.com%s"}')
--- more_headers eval: $::Json



=== TEST 5: signup: bad text in password
--- request eval
::bad("POST /signup", '{"username": "carol", "password": "long enough%s"}')
--- more_headers eval: $::Json



=== TEST 6: signup through POST /users/: bad text in an attribute
--- request eval
::bad("POST /users/", '{"attributes": ["Engin%s"], "username": "carol"}')
--- more_headers eval: $::Json



=== TEST 7: signin: bad text in username
--- request eval
::bad("POST /signin", '{"username": "ann%s", "password": "long enough"}')
--- more_headers eval: $::Json



=== TEST 8: signin: bad text in email
--- request eval
::bad("POST /signin", '{"email": "ann@example.com%s", "password": "long enough"}')
--- more_headers eval: $::Json



=== TEST 9: signin: bad text in password
--- request eval
::bad("POST /signin", '{"user_id": 2, "password": "long enough%s"}')
--- more_headers eval: $::Json



=== TEST 10: PUT /user: bad text in an attribute
--- request eval
::bad("PUT /user/2", '{"attributes": ["Software", "Engin%s"]}')
--- more_headers eval: ::auth_json(2)



=== TEST 11: PUT /user: bad text in username
--- request eval
::bad("PUT /user/2", '{"username": "anne%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 12: PUT /user: bad text in email
--- request eval
::bad("PUT /user/2", '{"email": "anne@example.com%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 13: PUT /user: bad text in password
--- request eval
::bad("PUT /user/2", '{"password": "new password%s", "current_password": "old password"}')
--- more_headers eval: ::auth_json(2)



=== TEST 14: PUT /user: bad text in current_password
--- request eval
::bad("PUT /user/2", '{"password": "new password", "current_password": "old password%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 15: PUT /user/{id}/role: bad text in role
--- request eval
::bad("PUT /user/2/role", '{"role": "admin%s"}')
--- more_headers eval: ::admin_json()



=== TEST 16: POST /posts: bad text in content
--- request eval
::bad("POST /posts", '{"content": "hello%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 17: POST /utterances: bad text in content
--- request eval
::bad("POST /utterances", '{"conversation_id": 1, "content": "I goes%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 18: POST /errors: bad text in category
--- request eval
::bad("POST /errors", '{"utterance_id": 1, "errors": [{"category": "Grammar%s", "subcategory": "Pronouns"}]}')
--- more_headers eval: ::auth_json(2)



=== TEST 19: POST /errors: bad text in subcategory
--- request eval
::bad("POST /errors", '{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "x%s"}]}')
--- more_headers eval: ::auth_json(2)



=== TEST 20: POST /simulate-and-generate: bad text in errorCategory
--- request eval
::bad("POST /simulate-and-generate", '{"utterance_id": 1, "errors": [{"errorCategory": "Grammar%s", "errorSubCategory": "Pronouns"}]}')
--- more_headers eval: ::auth_json(2)



=== TEST 21: POST /errors: bad text in errorSubCategory, the second item
--- request eval
::bad("POST /errors", '{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "Tense"}, {"errorCategory": "Grammar", "errorSubCategory": "Pronouns%s"}]}')
--- more_headers eval: ::auth_json(2)



=== TEST 22: POST /admin/cache/evict: bad text in scope
--- request eval
::bad("POST /admin/cache/evict", '{"scope": "all%s"}')
--- more_headers eval: ::admin_json()



=== TEST 23: POST /conversations: bad text in a member the endpoint ignores
--- request eval
::bad("POST /conversations", '{"user_id": 2, "title": "Monday%s"}')
--- more_headers eval: ::auth_json(2)



=== TEST 24: POST /posts: bad text in a member name
--- request eval
::bad("POST /posts", '{"content": "hello", "note%s": 1}')
--- more_headers eval: ::auth_json(2)



=== TEST 25: POST /errors: bad text in a member name inside an item
--- request eval
::bad("POST /errors", '{"utterance_id": 1, "errors": [{"category": "Grammar", "subcategory": "Pronouns", "x%s": "y"}]}')
--- more_headers eval: ::auth_json(2)



=== TEST 26: nothing of the refused requests changed PostgreSQL or the error points in Redis
--- init
Social::social_result(::snapshot() eq $::Before ? "same\n" : "changed: $::Before -> " . ::snapshot() . "\n");
--- response_body
same



=== TEST 27: a bad token and bad text: 401 comes first
--- request eval
"POST /posts\n{\"content\": \"hello\xed\xa0\x80\"}"
--- more_headers
Authorization: Bearer not.a.token
Content-Type: application/json
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 28: no token and bad text: 401
--- request eval
"POST /posts\n{\"content\": \"hello\\udc00\"}"
--- more_headers eval: $::Json
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 29: a token whose payload holds a lone surrogate is refused
--- request
POST /posts
{"content": "hello"}
--- more_headers eval
"Authorization: Bearer " . Social::social_token(2, payload => '{"sub":"2","role":"user","iat":' . time . ',"exp":' . (time + 3600) . ',"gen":0,"x":"\udc00"}') . "\n$::Json"
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"A valid token is required."}}



=== TEST 30: valid text passes: an escaped astral pair
--- request
POST /posts
{"content": "smile \ud83d\ude00"}
--- more_headers eval: ::auth_json(2)
--- error_code: 201
--- response_body_like chomp
"content":"smile \x{f0}\x{9f}\x{98}\x{80}"



=== TEST 31: valid text passes: the same raw, U+FFFF and U+10FFFF raw and escaped
--- request eval
"POST /posts\n{\"content\": \"\xf0\x9f\x98\x80 \xef\xbf\xbf \\uffff \xf4\x8f\xbf\xbf \\udbff\\udfff\"}"
--- more_headers eval: ::auth_json(2)
--- error_code: 201
--- response_body_like chomp
"content":"\x{f0}\x{9f}\x{98}\x{80} \x{ef}\x{bf}\x{bf} \x{ef}\x{bf}\x{bf} \x{f4}\x{8f}\x{bf}\x{bf} \x{f4}\x{8f}\x{bf}\x{bf}"



=== TEST 32: valid text passes: U+0080, U+07FF, U+0800, U+D7FF, U+E000 at the edges of the ranges
--- request eval
"POST /utterances\n{\"conversation_id\": 1, \"content\": \"\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \\u00e9\\u20AC\"}"
--- more_headers eval: ::auth_json(2)
--- error_code: 201
--- response_body_like chomp
"content":"\x{c2}\x{80} \x{df}\x{bf} \x{e0}\x{a0}\x{80} \x{ed}\x{9f}\x{bf} \x{ee}\x{80}\x{80} \x{c3}\x{a9}\x{e2}\x{82}\x{ac}"



=== TEST 33: valid text passes: an astral category, and a member name that is not ASCII
--- request eval
"POST /errors\n{\"utterance_id\": 1, \"errors\": [{\"category\": \"Grammar \\ud83d\\ude00\", \"subcategory\": \"Pronouns\", \"caf\xc3\xa9\": 1}]}"
--- more_headers eval: ::auth_json(2)
--- error_code: 202
--- response_body chomp
{"utterance_id":1,"recorded":1}



=== TEST 34: \u0000 is a scalar value: still 422, not 400
--- request
POST /posts
{"content": "a\u0000b"}
--- more_headers eval: ::auth_json(2)
--- error_code: 422
--- response_body_like chomp
"field":"content"



=== TEST 35: signup with valid text beyond ASCII
--- request eval
"POST /signup\n{\"attributes\": [\"Caf\\u00e9\", \"\xf0\x9f\x98\x80\"]}"
--- more_headers eval: $::Json
--- error_code: 201
--- response_body_like chomp
"attributes":\["caf\x{c3}\x{a9}","\x{f0}\x{9f}\x{98}\x{80}"\]
