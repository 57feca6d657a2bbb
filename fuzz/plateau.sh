#!/usr/bin/env bash
# Summarises the runs logged by `fuzz/run-all.sh`: per run, the coverage at start and end, the edges gained in
# its last 10 and 30 minutes, executions, how long before the end coverage last grew, the longest stretch of the run
# without growth and the minute of the run it began at (a plateau, by this project's measure: 600 s or more), and
# crashes (libFuzzer errors: panics, timeouts, out-of-memory; "slowest unit" notes are not crashes).
#
#   fuzz/plateau.sh [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/logs"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then files=(*.log); else files=("${files[@]/%/.log}"); fi
printf '%-14s %-21s %5s %13s %6s %6s %10s %9s %13s %s\n' target started min cov +10min +30min execs "last gain" \
    "max quiet@min" crashes
for f in "${files[@]}"; do
    awk -v t="${f%.log}" '
        # Edges gained since `secs` before the end of the run ("-" for a shorter run).
        function since(secs,   k, before) {
            if (last - t0 < secs) return "-"
            before = c0
            for (k = 1; k <= n_pts; k++) if (pt_t[k] <= last - secs) before = pt_c[k]
            return "+" (cov - before)
        }
        # Keeps the stretch from the last gain to `t` when it is the longest without growth so far.
        function quiet_until(t) { if (t - gain > quiet) { quiet = t - gain; quiet_at = gain } }
        function flush() {
            if (start == "") return
            quiet_until(last)
            printf "%-14s %-21s %5d %13s %6s %6s %10s %8ds %7ds@%-3d %s\n", t, start, (last - t0) / 60, c0 "->" cov,
                since(600), since(1800), execs, last - gain, quiet, (quiet_at - t0) / 60, crash + 0
        }
        /^== / { flush(); start = $6; t0 = 0; cov = ""; c0 = ""; execs = ""; crash = 0; n_pts = 0; quiet = 0; next }
        / cov: / {
            if (t0 == 0) t0 = $1
            for (i = 1; i <= NF; i++) if ($i == "cov:") c = $(i + 1) + 0
            n = $2; sub(/^#/, "", n)
            if (c0 == "") { c0 = c; gain = $1; quiet_at = $1 }
            if (c > cov + 0) {
                quiet_until($1)
                cov = c; gain = $1; n_pts++; pt_t[n_pts] = $1; pt_c[n_pts] = c
            }
            execs = n; last = $1
        }
        /ERROR: libFuzzer|deadly signal/ { crash++ }
        END { flush() }
    ' "$f"
done
