#!/usr/bin/env bash
# Times auditlog against the floor set by `wc -l` and `rg -c` on the same warm file, and `digest` against
# pt-query-digest on a slow log; prints seconds, throughput, ratio to `wc -l` and peak memory (/usr/bin/time).
#
#   benches/compare.sh [AUDIT_SIZE] [SLOW_SIZE]      (defaults: 1G and 64M; files are generated once under $WORK)
#   STDIN_4G=1 benches/compare.sh                    (also: generated 4 and 8 GiB logs through `analyze -` from a pipe)
#
# Needs: /usr/bin/time (Debian `time`), ripgrep (`rg`), percona-toolkit (`pt-query-digest`) for the digest row.
set -euo pipefail
cd "$(dirname "$0")/.."
AUDIT_SIZE=${1:-1G}
SLOW_SIZE=${2:-64M}
WORK=${WORK:-${TMPDIR:-/tmp}/auditlog-bench}
RUNS=${RUNS:-3}
mkdir -p "$WORK"

cargo build --release -q -p auditlog-cli -p auditlog-benches
BIN=target/release/auditlog
GEN=target/release/gen

audit="$WORK/audit-$AUDIT_SIZE.log"
slow="$WORK/slow-$SLOW_SIZE.log"
[ -s "$audit" ] || "$GEN" audit "$AUDIT_SIZE" > "$audit"
[ -s "$slow" ] || "$GEN" slow "$SLOW_SIZE" > "$slow"
cat "$audit" "$slow" > /dev/null # warm the page cache

bytes_of() { stat -c %s "$1"; }
abytes=$(bytes_of "$audit")
sbytes=$(bytes_of "$slow")

# best-of-$RUNS wall time and the peak RSS of that run: "seconds kib". The time is taken by the shell in
# microseconds (/usr/bin/time's %e has 10 ms steps, coarse for a run of 0.15 s); it includes starting
# /usr/bin/time, about a millisecond.
measure() {
    local best="" mem=""
    for _ in $(seq "$RUNS"); do
        local out start end
        start=$EPOCHREALTIME
        /usr/bin/time -o "$WORK/time.out" -f "%M" "$@" > /dev/null 2>/dev/null || true
        end=$EPOCHREALTIME
        out=$(tail -n 1 "$WORK/time.out")
        local t m=$out
        t=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.4f", b - a}')
        if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; mem=$m; fi
    done
    echo "$best $mem"
}

printf '%-44s %9s %10s %9s %10s\n' "command (on $(basename "$audit"))" "seconds" "MiB/s" "x wc -l" "peak MiB"
floor=""
declare -A secs
row() {
    local name=$1 bytes=$2; shift 2
    local r; r=$(measure "$@")
    local t=${r% *} m=${r#* }
    [ -n "$floor" ] || floor=$t
    secs[$name]=$t
    awk -v n="$name" -v t="$t" -v b="$bytes" -v f="$floor" -v m="$m" 'BEGIN{
        s = (t > 0) ? b / 1048576 / t : 0; printf "%-44s %9.3f %10.0f %9.1f %10.1f\n", n, t, s, t / f, m / 1024 }'
}

row "wc -l" "$abytes" wc -l "$audit"
row "rg -c FAILED_CONNECT" "$abytes" rg -c FAILED_CONNECT "$audit"
row "auditlog analyze --threads 1" "$abytes" "$BIN" analyze -q --fail-on never --threads 1 -o json "$audit"
row "auditlog analyze --threads 2" "$abytes" sh -c "'$BIN' analyze -q --fail-on never --threads 2 -o json '$audit' > '$WORK/analyze.json'"
awk -v a="${secs[auditlog analyze --threads 1]}" -v b="${secs[auditlog analyze --threads 2]}" \
    'BEGIN{printf "  (2 threads: %.2fx one thread)\n", a / b}'
row "auditlog analyze - (stdin, 2 threads)" "$abytes" sh -c "cat '$audit' | '$BIN' analyze -q --fail-on never -o json -"
row "auditlog query (filter + stats, 2 threads)" "$abytes" "$BIN" query -q 'filter kind = "failed_connect" | stats count(*) by host, bin(5m)' "$audit"
row "auditlog events -o jsonl (1 thread)" "$abytes" sh -c "'$BIN' events -q -o jsonl '$audit' > '$WORK/events.jsonl'"
# The generator writes account changes with passwords `Gen-Secret-N`: none may reach any output.
echo "generated secrets: $(grep -c Gen-Secret "$audit") lines of the log hold one; in the events output: \
$(grep -c Gen-Secret "$WORK/events.jsonl"), in the analysis: $(grep -c Gen-Secret "$WORK/analyze.json")"
if [ "${STDIN_4G:-0}" = 1 ]; then
    # Memory from a pipe whatever the size: generated logs of 4 and 8 GiB (once each; the time includes `gen`).
    for g in 4 8; do
        RUNS=1 row "gen ${g}G | auditlog analyze - (memory)" $((g << 30)) \
            sh -c "'$GEN' audit ${g}G | '$BIN' analyze -q --fail-on never -o json -"
    done
fi

echo
floor=""
printf '%-44s %9s %10s %9s %10s\n' "command (on $(basename "$slow"))" "seconds" "MiB/s" "x first" "peak MiB"
row "auditlog digest (2 threads)" "$sbytes" sh -c "'$BIN' digest -q --limit 0 -o json '$slow' > '$WORK/digest.json'"
if command -v pt-query-digest > /dev/null; then
    RUNS=1 row "pt-query-digest --output json" "$sbytes" sh -c "pt-query-digest --output json --limit 100% '$slow' > '$WORK/pt.json'"
    # Same classes and counts? pt writes `x + 1` as `x ? ?` (a deliberate difference, see README), so ours is
    # compared with its `+ ?` written that way.
    python3 - "$WORK/digest.json" "$WORK/pt.json" <<'PY'
import json, sys
ours = {c["fingerprint"].replace(" + ?", " ? ?"): c["count"] for c in json.load(open(sys.argv[1]))["classes"]}
pt = {c["fingerprint"]: c["query_count"] for c in json.load(open(sys.argv[2]))["classes"]}
same = sum(1 for k, n in ours.items() if pt.get(k) == n)
print(f"digest classes: {len(ours)} ours, {len(pt)} pt-query-digest, {same} with the same fingerprint and count")
PY
else
    echo "pt-query-digest not installed (apt-get install percona-toolkit): row skipped"
fi
echo
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
