# Shared by the util/ scripts: where things live and small helpers.
# Sourced, never run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${SOCIAL_STATE:-$ROOT/.state}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
NGINX=${NGINX:-/usr/sbin/nginx}
# the module of a build variant (util/build): production, test or asan
social_module_so() {
    printf '%s\n' "$STATE/modules/$1/ngx_http_social_module.so"
}
MODULE_SO=$(social_module_so production)
# the nginx that runs a variant's module: the asan variant builds its own
# (util/build), the others load into the stock one
social_nginx() {
    if [ "$1" = asan ]; then
        printf '%s\n' "$STATE/modules/asan/nginx"
    else
        printf '%s\n' "$NGINX"
    fi
}

say() { printf 'social: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# nginx_stop PREFIX: the nginx of PREFIX/logs/nginx.pid stopped gracefully
# (QUIT) and waited for.  A master deletes the pid file as it exits,
# whatever it then holds: one still exiting when the next starts would
# delete the next one's, which no stop could then find.  A master passes
# QUIT to its processes through their channel, which nginx's cache loader
# does not read while it walks the cache (from a minute after a start, as
# long as the cache is large), and waits for them: so after 3 s its
# processes are sent QUIT themselves, which ends the walk.  TERM after
# 30 s, KILL after 5 more.
nginx_alive() {
    local state=
    [ -r "/proc/$1/stat" ] || return 1
    # the third field: Z once it has exited (a child not yet waited for)
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

nginx_stop() {
    local pidfile=$1/logs/nginx.pid pid= sig i
    [ -f "$pidfile" ] && pid=$(cat "$pidfile" 2>/dev/null)
    [ -n "$pid" ] && nginx_alive "$pid" || return 0
    for sig in QUIT TERM KILL; do
        kill -"$sig" "$pid" 2>/dev/null || return 0
        for i in $(seq 1 $([ $sig = QUIT ] && echo 300 || echo 50)); do
            nginx_alive "$pid" || return 0
            if [ $sig = QUIT ] && [ "$i" = 30 ]; then
                # shellcheck disable=SC2046
                kill -QUIT $(cat "/proc/$pid/task/$pid/children" \
                                 2>/dev/null) 2>/dev/null || true
            fi
            sleep 0.1
        done
        say "nginx $pid still running after $sig"
    done
}

# The instance ("run" for make run, "test" for make test) decides the ports and
# the directory of its PostgreSQL and Redis.  The data lives outside the
# checkout when we are root, because the checkout may sit in a directory that
# the postgres user cannot enter (/root is 0700).
social_instance() {
    INSTANCE=$1
    # private ports below the ephemeral range (32768-60999), where an
    # outgoing connection could hold them
    case $INSTANCE in
    run)
        PG_PORT=${PG_PORT:-15432}
        REDIS_PORT=${REDIS_PORT:-16379}
        ;;
    test)
        PG_PORT=${TEST_PG_PORT:-25432}
        REDIS_PORT=${TEST_REDIS_PORT:-26379}
        ;;
    asan)
        # make test-asan's own, so that it can run beside make test
        PG_PORT=${ASAN_PG_PORT:-25532}
        REDIS_PORT=${ASAN_REDIS_PORT:-26479}
        ;;
    bench)
        PG_PORT=${BENCH_PG_PORT:-27432}
        REDIS_PORT=${BENCH_REDIS_PORT:-27379}
        ;;
    faults)
        PG_PORT=${FAULTS_PG_PORT:-28432}
        REDIS_PORT=${FAULTS_REDIS_PORT:-28379}
        ;;
    flood)
        PG_PORT=${FLOOD_PG_PORT:-29432}
        REDIS_PORT=${FLOOD_REDIS_PORT:-29379}
        ;;
    *)
        die "unknown instance '$INSTANCE'"
        ;;
    esac

    if [ "$(id -u)" = 0 ]; then
        local tag
        tag=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
        RUNDIR=/tmp/ngx_social-$tag-$INSTANCE
        if id postgres >/dev/null 2>&1; then
            PG_USER=postgres
        else
            PG_USER=nobody
        fi
    else
        RUNDIR=$STATE/$INSTANCE
        PG_USER=$(id -un)
    fi

    PGDATA=$RUNDIR/pg/data
    PG_SOCKDIR=$RUNDIR/pg
    REDIS_DIR=$RUNDIR/redis
    # another database of the same server: t/009-migrate.t's, never an
    # operator's
    PG_DB=${SOCIAL_PG_DB:-social}
    PG_ROLE=social
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=$PG_DB user=$PG_ROLE"
}

as_pg_user() {
    if [ "$(id -u)" = 0 ] && [ "$PG_USER" != root ]; then
        # from /: the checkout may sit where that user cannot enter
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        "$@"
    fi
}

psql_social() {
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
        -U "$PG_ROLE" -d "$PG_DB" "$@"
}

# social_production_conf PREFIX PORT: the shipped production configuration
# (conf/production.conf and conf/social/) as PREFIX/conf/nginx.conf, with
# this instance's ports (social_instance), PORT to listen on, and the
# internal server's socket in PREFIX/sockets (mode 0700: nginx's user
# alone).  What make run, the benchmarks of the cache and t/04x load.
social_production_conf() {
    local p=$1 port=$2
    mkdir -p "$p/conf/social" "$p/logs" "$p/modules"
    install -d -m 0700 "$p/sockets"
    rm -f "$p/sockets/internal.sock"
    ln -sf "$MODULE_SO" "$p/modules/ngx_http_social_module.so"
    ln -sf "$STATE/jwt.key" "$p/conf/jwt.key"
    cp "$ROOT"/conf/social/*.conf "$p/conf/social/"
    sed -e "s/port=5432/port=$PG_PORT/" \
        -e "s/127\.0\.0\.1:6379/127.0.0.1:$REDIS_PORT/" \
        -e "s/listen  127\.0\.0\.1:8080/listen  127.0.0.1:$port/" \
        -e "s|/run/ngx_social/internal.sock|$p/sockets/internal.sock|g" \
        "$ROOT/conf/production.conf" > "$p/conf/nginx.conf"
    if [ "$(id -u)" = 0 ]; then
        # the workers run as the invoking user: the checkout may be
        # unreachable for nobody (/root is 0700)
        sed -i "1i user root;" "$p/conf/nginx.conf"
    fi
}
