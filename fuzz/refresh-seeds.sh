#!/usr/bin/env bash
# Replaces fuzz/seeds/TARGET with a small input set that reaches every code edge the local corpus reaches
# (fuzz/corpus/TARGET, git-ignored): libFuzzer's set-cover merge on edges only (hit counts and value profiles
# left out, which would keep ten times as many files), preferring small inputs. Prints, per target, the edge
# coverage of the corpus and of the new seeds, so a shrink that lost coverage is seen.
#
#   fuzz/refresh-seeds.sh [TARGET ...]      (default: every target with a local corpus)
set -euo pipefail
cd "$(dirname "$0")"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for d in corpus/*/; do targets+=("$(basename "$d")"); done
fi
RUSTC_BOOTSTRAP=1 cargo fuzz build >/dev/null 2>&1
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
# The coverage libFuzzer reports after loading a folder, without fuzzing.
cov() { "$bin/$1" -runs=0 -rss_limit_mb=2048 "$2" 2>&1 | awk '/INITED|DONE/ { for (i = 1; i <= NF; i++) if ($i == "cov:") c = $(i + 1) } END { print c + 0 }'; }
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || { echo "$t: no local corpus, skipped"; continue; }
    tmp=$(mktemp -d)
    "$bin/$t" -set_cover_merge=1 -use_counters=0 -use_value_profile=0 -rss_limit_mb=2048 "$tmp" "corpus/$t" >/dev/null 2>&1
    before=$(cov "$t" "corpus/$t")
    after=$(cov "$t" "$tmp")
    rm -rf "seeds/$t"
    mkdir -p "seeds/$t"
    cp "$tmp"/* "seeds/$t/"
    rm -rf "$tmp"
    printf '%-14s corpus %6d files cov %6s | seeds %4d files %7d bytes cov %6s\n' "$t" \
        "$(ls "corpus/$t" | wc -l)" "$before" "$(ls "seeds/$t" | wc -l)" "$(cat "seeds/$t"/* | wc -c)" "$after"
done
