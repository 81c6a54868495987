#!/usr/bin/env bash
# Installs the Debian packages fer builds with. Idempotent and non-interactive: packages already
# present are not fetched again. The CUDA toolkit (nvcc, cuDNN, cuBLAS) is expected where a CUDA
# build is wanted; without it fer builds the cpu and cuda-sim devices only.
set -euo pipefail
packages=(cmake ninja-build g++ pkg-config libopenblas-openmp-dev libstb-dev nlohmann-json3-dev catch2)
# clang and its runtime: the libFuzzer targets (tests/fuzz) built by the test command.
packages+=(clang libclang-rt-14-dev)
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
