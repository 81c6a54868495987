#!/bin/sh
# Runs one libFuzzer target for a bounded time (ctest, see the fuzz block of CMakeLists.txt).
# New inputs go to a scratch corpus in the build folder; the committed seeds stay read-only.
# usage: run_fuzzer.sh BINARY SEED_DIR WORK_DIR SECONDS
set -eu
rm -rf "$3" && mkdir -p "$3"
# A fixed seed makes a CI run reproducible: a finding fails every run of the same tree, not one by chance.
exec "$1" -seed=1 -max_total_time="$4" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$3" "$2"
