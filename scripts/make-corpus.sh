#!/usr/bin/env bash
# Produce the real-log test corpus in corpus/ from a PRIVATE MariaDB instance.
#
# Debian 12, run as root. Installs mariadb-server/mariadb-client (and python3, a C
# compiler) if missing, starts a throw-away mariadbd on 127.0.0.1:33061 with its own
# datadir and socket under a temp dir (a system MariaDB, if any, is not touched),
# runs scripts/corpus/scenario.py, stops the server, copies the logs into
# corpus/mariadb/ and derives the other dialects with scripts/corpus/derive.py.
#
# Env: TRICKLE_GAP (seconds between the phase-d failed logins, default 20),
#      PORT (default 33061).
set -euo pipefail
export TZ=UTC LC_ALL=C.UTF-8

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPERS=$ROOT/scripts/corpus
CORPUS=$ROOT/corpus
PORT=${PORT:-33061}
TRICKLE_GAP=${TRICKLE_GAP:-20}

log() { printf '[make-corpus] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, runs mariadbd --user=root)"

# --- 1. packages --------------------------------------------------------------
missing=()
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server mariadb-client "${missing[@]}"
fi
PLUGIN_DIR=$(mariadbd --no-defaults --help --verbose 2>/dev/null | awk '$1=="plugin-dir"{print $2}')
[ -f "$PLUGIN_DIR/server_audit.so" ] || die "server_audit.so not found in '$PLUGIN_DIR'"

# refuse to run if something already listens on our port
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "port $PORT already in use on 127.0.0.1"
fi

# --- 2. private instance -------------------------------------------------------
WORK=$(mktemp -d /tmp/auditlog-corpus.XXXXXX)
DATADIR=$WORK/data
LOGDIR=$WORK/logs
SOCK=$WORK/mariadb.sock
SERVER_PID=

cleanup() {
    rc=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        log "stopping private server (pid $SERVER_PID)"
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATADIR" "$LOGDIR"
log "building the bind-address shim (the mariadb client has no --bind-address)"
cc -shared -fPIC -O2 -o "$WORK/bindshim.so" "$HELPERS/bindshim.c" -ldl

log "initialising datadir $DATADIR"
mariadb-install-db --no-defaults --user=root --datadir="$DATADIR" \
    --auth-root-authentication-method=normal --skip-test-db >"$WORK/install-db.log" 2>&1 \
    || { cat "$WORK/install-db.log" >&2; die "mariadb-install-db failed"; }

SERVER_ARGS=(
    --no-defaults --user=root
    --datadir="$DATADIR" --socket="$SOCK" --pid-file="$WORK/mariadbd.pid"
    --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve
    --default-time-zone=+00:00 --skip-log-bin --innodb-buffer-pool-size=32M
    --log-error="$LOGDIR/error.log" --log-warnings=4
    --plugin-load-add=server_audit
    --server-audit-logging=ON --server-audit-events=CONNECT,QUERY,TABLE
    --server-audit-file-path="$LOGDIR/server_audit.log"
    --general-log --general-log-file="$LOGDIR/general.log"
    --slow-query-log --long-query-time=0 --slow-query-log-file="$LOGDIR/slow.log"
)
log "starting mariadbd on 127.0.0.1:$PORT"
mariadbd "${SERVER_ARGS[@]}" >"$WORK/mariadbd.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
    grep -q 'ready for connections' "$LOGDIR/error.log" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOGDIR/error.log" "$WORK/mariadbd.out" >&2 || true; die "mariadbd exited"; }
    sleep 0.5
done
grep -q 'ready for connections' "$LOGDIR/error.log" || die "mariadbd not ready after 60 s"

SERVER_VERSION=$(mariadbd --version)
STARTED_UTC=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# --- 3. scenario -----------------------------------------------------------------
log "running scenario (about $((2 * TRICKLE_GAP + 15)) s)"
python3 "$HELPERS/scenario.py" --client mariadb --port "$PORT" --socket "$SOCK" \
    --shim "$WORK/bindshim.so" --trickle-gap "$TRICKLE_GAP" --out "$WORK/scenario.json"

# --- 4. clean stop ---------------------------------------------------------------
log "stopping mariadbd (SIGTERM = normal shutdown)"
kill -TERM "$SERVER_PID"
for _ in $(seq 1 120); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$SERVER_PID" 2>/dev/null; then die "mariadbd did not stop"; fi
wait "$SERVER_PID" || die "mariadbd exited with status $?"
SERVER_PID=

# --- 5. copy + derive -----------------------------------------------------------
for f in server_audit.log general.log slow.log error.log; do
    [ -s "$LOGDIR/$f" ] || die "log $f missing or empty"
done
for d in mariadb aurora rds-mysql8 mysql8 mysql57 download malformed; do
    rm -rf "${CORPUS:?}/$d"
done
mkdir -p "$CORPUS/mariadb"
cp "$LOGDIR/server_audit.log" "$LOGDIR/general.log" "$LOGDIR/slow.log" "$LOGDIR/error.log" "$CORPUS/mariadb/"
cp "$WORK/scenario.json" "$CORPUS/mariadb/scenario.json"
chmod 644 "$CORPUS"/mariadb/*
{
    echo "server_version: $SERVER_VERSION"
    echo "debian: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "package: $(dpkg-query -W -f='${Package} ${Version}' mariadb-server 2>/dev/null || echo unknown)"
    echo "server_started_utc: $STARTED_UTC"
    echo "generated_utc: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "command: scripts/make-corpus.sh (TRICKLE_GAP=$TRICKLE_GAP PORT=$PORT)"
    echo "temp_dir: $WORK (deleted afterwards; appears in the logs' paths)"
    echo "mariadbd arguments:"
    printf '  %s\n' "${SERVER_ARGS[@]}"
} >"$CORPUS/mariadb/provenance.txt"

log "deriving other dialects"
python3 "$HELPERS/derive.py" --src "$CORPUS/mariadb" --out "$CORPUS"

# --- 6. sanity checks on the real logs --------------------------------------------
A=$CORPUS/mariadb/server_audit.log
check_count() { # description expected actual
    if [ "$2" != "$3" ]; then die "check failed: $1: expected $2, got $3"; fi
    log "ok: $1 = $3"
}
check_count "FAILED_CONNECT admin@127.0.0.20" 8 "$(grep -c ',admin,127\.0\.0\.20,[0-9]*,0,FAILED_CONNECT,' "$A" || true)"
check_count "CONNECT admin@127.0.0.20" 1 "$(grep -c ',admin,127\.0\.0\.20,[0-9]*,0,CONNECT,' "$A" || true)"
check_count "FAILED_CONNECT from 127.0.0.21" 6 "$(grep -c ',127\.0\.0\.21,[0-9]*,0,FAILED_CONNECT,' "$A" || true)"
check_count "FAILED_CONNECT report@127.0.0.22" 3 "$(grep -c ',report,127\.0\.0\.22,[0-9]*,0,FAILED_CONNECT,' "$A" || true)"
check_count "CONNECT report@127.0.0.99" 1 "$(grep -c ',report,127\.0\.0\.99,[0-9]*,0,CONNECT,' "$A" || true)"
check_count "Access denied (1045) lines in error.log" 17 "$(grep -c "Access denied for user '.*'@'.*' (using password" "$CORPUS/mariadb/error.log" || true)"
log "done; corpus in $CORPUS"
du -ab "$CORPUS" | sort -k2 >&2
