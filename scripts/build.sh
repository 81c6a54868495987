#!/usr/bin/env bash
# Configures and builds fer into build/ (or $FER_BUILD_DIR). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FER_BUILD_DIR:-build}
jobs=${FER_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFER_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$jobs"
