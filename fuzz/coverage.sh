#!/usr/bin/env bash
# Where a target's coverage lies: runs the local corpus (fuzz/corpus/TARGET) once through the built fuzz binary and
# sums the covered edges by crate (our `auditlog-core`, the harness, the standard library, each dependency), from
# libFuzzer's `-print_coverage=1`. With MINUTES, the same for the inputs written that many minutes or more before
# the newest one, so the difference shows in which code the last minutes of fuzzing found their edges: a target
# whose growth is all in a dependency (the `regex` crate compiling ever new patterns, say) has plateaued in ours.
#
#   CARGO_TARGET_DIR=/path/to/fuzz/target fuzz/coverage.sh query 10 30
#
# With FUNCS=1, also lists the functions of `auditlog-core` whose covered edges differ between all inputs and those of
# the last MINUTES given, so the new edges can be read: real new paths, or ones that depend on thread timing.
#
# Inputs reduced during the run count as new, so growth is overstated, never hidden. Needs llvm-symbolizer.
set -euo pipefail
cd "$(dirname "$0")"
t=${1:?usage: fuzz/coverage.sh TARGET [MINUTES ...]}
shift
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/$t
[ -x "$bin" ] || { echo "no $bin: build it with RUSTC_BOOTSTRAP=1 cargo fuzz build $t" >&2; exit 2; }
[ -d "corpus/$t" ] || { echo "no corpus/$t" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Edges by crate of the inputs in folder $1, as "crate edges" lines, plus "(total) N"; the covered edges of each
# function of ours go to file $2 as "edges file:line name".
by_crate() {
    "$bin" -runs=0 -print_coverage=1 -rss_limit_mb=2048 -timeout=300 "$1" 2>&1 | awk -v funcs="$2" '
        /^COVERED_FUNC/ {
            split($5, e, "/"); file = $NF
            if (file ~ /^\/rustc\//) c = "std"
            else if (match(file, /\/registry\/src\/[^\/]+\/[^\/]+\//)) {
                c = substr(file, RSTART, RLENGTH); sub(/\/$/, "", c); sub(/.*\//, "", c)
                sub(/-[0-9]+\.[0-9]+\.[0-9]+.*$/, "", c)
            } else if (file ~ /\/auditlog-core\//) {
                c = "auditlog-core"
                name = $6; for (i = 7; i < NF; i++) name = name " " $i
                print e[1], file, name >funcs
            }
            else if (file ~ /\/fuzz\//) c = "harness"
            else c = "other"
            sum[c] += e[1]; total += e[1]
        }
        END { for (c in sum) print c, sum[c]; print "(total)", total }'
}

newest=$(find "corpus/$t" -type f -printf '%T@\n' | sort -n | tail -n 1)
by_crate "corpus/$t" "$work/now.funcs" | sort >"$work/now"
header="crate now"
thens=()
for m in "$@"; do
    d="$work/older-$m"
    mkdir "$d"
    find "$PWD/corpus/$t" -type f ! -newermt "@$(awk -v n="$newest" -v m="$m" 'BEGIN { printf "%.0f", n - m * 60 }')" \
        -exec ln -s -t "$d" {} +
    by_crate "$d" "$work/then-$m.funcs" | sort >"$work/then-$m"
    header="$header ${m}min-before +new"
    thens+=("$work/then-$m")
done
echo "$t: $(find "corpus/$t" -type f | wc -l) inputs; edges by crate (then: inputs older than that before the newest)"
{
    echo "$header"
    while read -r c now; do
        line="$c $now"
        for f in ${thens[@]+"${thens[@]}"}; do
            then=$(awk -v c="$c" '$1 == c { print $2 }' "$f")
            line="$line ${then:-0} +$((now - ${then:-0}))"
        done
        echo "$line"
    done <"$work/now" | sort -k2,2nr
} | column -t
if [ "${FUNCS:-0}" = 1 ] && [ ${#thens[@]} -gt 0 ]; then
    last=${thens[${#thens[@]}-1]}
    echo
    echo "functions of auditlog-core whose edges changed since ${m}min before the newest input (edges then -> now):"
    awk '{ k = substr($0, index($0, " ") + 1) } NR == FNR { then[k] = $1; next }
        $1 != then[k] + 0 { $1 = (then[k] + 0) " -> " $1; print }' \
        "$last.funcs" "$work/now.funcs" | sort -k4
fi
