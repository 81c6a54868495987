#!/usr/bin/env bash
# Installs the Debian packages fer builds with (`--demo`: only those of the demo's build). Idempotent and non-interactive: packages already
# present are not fetched again. The CUDA toolkit (nvcc, cuDNN, cuBLAS) is expected where a CUDA
# build is wanted; without it fer builds the cpu and cuda-sim devices only.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libopenblas-openmp-dev libstb-dev nlohmann-json3-dev catch2)
# clang and its runtime: the libFuzzer targets (tests/fuzz) of the test command; `--demo` (the
# demo's lean build, which has no tests) leaves them out.
if [ "${1:-}" != "--demo" ]; then
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "install_deps: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
