# Shared by the benchmarks (util/bench, util/bench-cache): wrk, the
# references, tokens.  Sourced after lib.sh, with B (the base URL), CONNS,
# SECS, REDIS_N, PG_PORT and REDIS_PORT set.

# wrk --latency: "rps p50 p99", the latencies in ms; an optional Lua
# script shapes the requests
wrk_dist() {
    wrk -t1 -c"$CONNS" -d"${SECS}s" --latency ${2:+-s "$2"} \
        ${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$B$1" \
    | awk 'function ms(v, u) {
               u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
               return u == "us" ? v / 1000 : u == "s" ? v * 1000 : v }
           /Requests\/sec/ { r = int($2) }
           /^ +50%/ { p50 = ms($2) }
           /^ +99%/ { p99 = ms($2) }
           END { printf "%d %.2f %.2f\n", r, p50, p99 }'
}

# requests per second alone
wrk_rps() { wrk_dist "$@" | cut -d' ' -f1; }

# redis-benchmark's requests per second for one test (get, incr), at the
# same concurrency, REDIS_N requests, no pipelining
redis_rps() {
    redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -c "$CONNS" -n "$REDIS_N" \
        -t "$1" -q 2>/dev/null | tr '\r' '\n' \
        | awk '/requests per second/ { print int($2) }'
}

# the mean latency in microseconds, one request at a time
wrk_latency() {
    wrk -t1 -c1 -d"${SECS}s" -s "$1" "$B$2" \
        | awk '/^    Latency/ {
                   v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
                   f = (u == "ms") ? 1000 : (u == "s") ? 1000000 : 1
                   print int(v * f) }'
}

pgbench_tps() {
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U social -S -n \
        -c "$CONNS" -j 1 -T "$SECS" bench 2>/dev/null \
        | awk '/^tps/ { print int($3) }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b ? a / b : 0) }'; }
row() { printf '%-40s %10s\n' "$1" "$2"; }

# a token of user $1, written byte for byte as the module writes them (no
# spaces: the tokens of /signin) and signed with its key
token_for() {
    python3 - "$STATE/jwt.key" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
key = open(sys.argv[1], 'rb').read()
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()
now = int(time.time())
h = b(b'{"alg":"HS256","typ":"JWT"}')
p = b(json.dumps({"sub": sys.argv[2], "role": "user", "iat": now,
                  "exp": now + 3600, "gen": 0},
                 separators=(",", ":")).encode())
s = b(hmac.new(key, (h + '.' + p).encode(), hashlib.sha256).digest())
print(h + '.' + p + '.' + s)
PY
}

