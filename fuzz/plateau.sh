#!/usr/bin/env bash
# Summarises the runs logged by `fuzz/run-all.sh`: per run, the coverage at start and end, executions, and how
# long before the end coverage last grew (a plateau is a long stretch without growth), and crashes (libFuzzer
# errors: panics, timeouts, out-of-memory; "slowest unit" notes are not crashes).
#
#   fuzz/plateau.sh [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/logs"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then files=(*.log); else files=("${files[@]/%/.log}"); fi
printf '%-14s %-21s %8s %8s %10s %9s %s\n' target started min cov execs "last gain" crashes
for f in "${files[@]}"; do
    awk -v t="${f%.log}" '
        function flush() {
            if (start == "") return
            printf "%-14s %-21s %8d %8s %10s %8ds %s\n", t, start, (last - t0) / 60, c0 "->" cov, execs,
                last - gain, crash + 0
        }
        /^== / { flush(); start = $6; t0 = 0; cov = ""; c0 = ""; execs = ""; crash = 0; next }
        / cov: / {
            if (t0 == 0) t0 = $1
            for (i = 1; i <= NF; i++) if ($i == "cov:") c = $(i + 1) + 0
            n = $2; sub(/^#/, "", n)
            if (c0 == "") { c0 = c; gain = $1 }
            if (c > cov + 0) { cov = c; gain = $1 }
            execs = n; last = $1
        }
        /ERROR: libFuzzer|deadly signal/ { crash++ }
        END { flush() }
    ' "$f"
done
