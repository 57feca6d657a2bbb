#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 900), logging libFuzzer's output with wall-clock
# seconds so `fuzz/plateau.sh` can tell when each stopped finding coverage.
#
#   nice -n 19 fuzz/run-all.sh 900 stream sniff parse_audit ...   # logs in fuzz/logs/TARGET.log
#
# A target's corpus (fuzz/corpus/TARGET, git-ignored) starts from fuzz/seeds/TARGET when it does not exist yet;
# `stream` and `sniff`, which read all formats, take every parser's seeds when they have no seeds of their own.
# A dictionary in fuzz/dicts/TARGET.dict (tokens libFuzzer splices into inputs) is passed when there is one.
# `-timeout=300`: a hang is still caught, but a run paused for a while (SIGSTOP, to benchmark on a quiet machine)
# is not reported as one.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-900}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(stream sniff parse_audit parse_general parse_slow parse_error chunk analyze query digest)
fi
mkdir -p logs
for t in "${targets[@]}"; do
    if [ ! -d "corpus/$t" ]; then
        mkdir -p "corpus/$t"
        if [ -d "seeds/$t" ]; then
            cp "seeds/$t"/* "corpus/$t/"
        elif [ "$t" = stream ] || [ "$t" = sniff ]; then
            cp seeds/parse_*/* "corpus/$t/"
        fi
    fi
    dict=()
    if [ -f "dicts/$t.dict" ]; then dict=(-dict="dicts/$t.dict"); fi
    echo "== $t: $secs s from $(date -u +%FT%TZ) ${dict[*]:-}" >>"logs/$t.log"
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=300 "${dict[@]}" 2>&1 |
        while IFS= read -r line; do printf '%(%s)T %s\n' -1 "$line"; done >>"logs/$t.log" || true
done
