#!/usr/bin/env bash
# The GPU check: one command for a machine with an NVIDIA GPU (CUDA 13, no network needed).
#
#   benchmarks/gpu_check.sh            build for the GPU present, run the [cuda] tests, a tiny
#                                      `fer train --device cuda` of all three stages, run
#                                      compute-sanitizer (memcheck, racecheck) over the kernel
#                                      tests, run the benchmarks if the `fer` command has them;
#                                      logs and report.md go to $OUT (or ./gpu_check_out).
#   benchmarks/gpu_check.sh --fetch-deps
#                                      on a Debian/Ubuntu machine with apt: unpack the build's
#                                      non-CUDA dependencies (OpenBLAS, Catch2, nlohmann-json, stb)
#                                      into .gpu_deps/, for a GPU machine that lacks them and has
#                                      no package manager: copy the folder along with the checkout.
#
# Every phase runs under `timeout`, so that one slow phase cannot eat the others: the whole check
# stays under 9 minutes. A phase that fails is reported and the next one still runs.
# Environment: OUT (output folder), FER_BUILD_DIR (default build-gpu), FER_DEPS (default
# .gpu_deps), FER_COMMIT (the commit to name, where the copy has no .git), FER_CUDA_ARCHS (default: the compute capability of GPU 0, else 90).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
deps=${FER_DEPS:-$root/.gpu_deps}

if [[ ${1:-} == --fetch-deps ]]; then
  set -e
  mkdir -p "$deps/debs"
  (cd "$deps/debs" && apt-get download libopenblas0-openmp libopenblas-openmp-dev libgfortran5 \
    libquadmath0 catch2 nlohmann-json3-dev libstb-dev)
  for deb in "$deps"/debs/*.deb; do dpkg -x "$deb" "$deps"; done
  # Static archives, LAPACK and docs are not needed: they would only weigh on the copy.
  rm -rf "$deps/debs" "$deps/usr/share/doc" "$deps/usr/share/man"
  find "$deps" \( -name 'libopenblas*.a' -o -name 'liblapack*' \) -delete
  echo "dependencies unpacked into $deps"
  exit 0
fi

out=${OUT:-$root/gpu_check_out}
build=${FER_BUILD_DIR:-build-gpu}
mkdir -p "$out"
report=$out/report.md
started=$(date +%s)

# Seconds per phase (sum 545 s, under the 10-minute limit with room for the start).
t_build=240 t_tests=75 t_train=30 t_memcheck=45 t_racecheck=45 t_bench=110

note() { echo "$*" | tee -a "$report"; }
elapsed() { echo $(($(date +%s) - started)); }

# ---- the machine ---------------------------------------------------------------------------
{
  echo "# GPU check"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), commit ${FER_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi failed')"
  echo "- nvcc: $(nvcc --version 2>/dev/null | tail -1)"
  echo "- compute-sanitizer: $(command -v compute-sanitizer || echo 'not found')"
} >"$report"
archs=${FER_CUDA_ARCHS:-$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')}
archs=${archs:-90}

# ---- configure and build -------------------------------------------------------------------
# Dependencies the machine lacks come from the unpacked .gpu_deps (see --fetch-deps).
# No -Werror: the lent machine's host compiler may warn where this project's g++ does not, and a
# warning must not cost the run.
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DFER_WERROR=OFF -DFER_WITH_CUDA=ON
            -DFER_WITH_CUDA_SIM=OFF "-DFER_CUDA_ARCHS=$archs")
ld_path=${LD_LIBRARY_PATH:-}
if [[ -d $deps/usr ]]; then
  openblas=$deps/usr/lib/x86_64-linux-gnu/openblas-openmp
  cmake_args+=("-DCMAKE_PREFIX_PATH=$deps/usr" "-DFER_OPENBLAS_LIB=$openblas/libopenblas.so"
               "-DFER_CBLAS_INCLUDE=$deps/usr/include/x86_64-linux-gnu/openblas-openmp"
               "-DFER_STB_INCLUDE=$deps/usr/include/stb" "-DFER_JSON_INCLUDE=$deps/usr/include"
               "-DCatch2_DIR=$deps/usr/lib/cmake/Catch2")
  ld_path=$openblas:$deps/usr/lib/x86_64-linux-gnu${ld_path:+:$ld_path}
fi
# cuDNN from the toolkit, else from PyTorch's pip package nvidia-cudnn-cu13.
if ! ls "$(dirname "$(command -v nvcc)")"/../include/cudnn.h >/dev/null 2>&1; then
  cudnn_root=$(python3 -c 'import nvidia.cudnn as m; print(m.__path__[0])' 2>/dev/null || true)
  if [[ -n $cudnn_root ]]; then
    cmake_args+=("-DFER_CUDNN_ROOT=$cudnn_root")
    ld_path=$cudnn_root/lib${ld_path:+:$ld_path}
  fi
fi
export LD_LIBRARY_PATH=$ld_path

note ""
note "## Build (FER_CUDA_ARCHS=$archs, limit ${t_build} s)"
if timeout -k 5 "$t_build" bash -c "cmake -S . -B '$build' ${cmake_args[*]@Q} && cmake --build '$build' -j $(nproc) -- -k 0" \
  >"$out/build.log" 2>&1; then
  note "- build: ok ($(elapsed) s since start)"
else
  note "- build: FAILED (exit $?), see build.log; its last lines:"
  tail -25 "$out/build.log" | sed 's/^/    /' >>"$report"
fi

# Test binaries with at least one test tagged [cuda].
cuda_tests=()
for binary in "$build"/test_*; do
  [[ -x $binary ]] || continue
  count=$("$binary" --list-test-names-only "[cuda]" 2>/dev/null | grep -c . || true)
  if [[ $count -gt 0 ]]; then cuda_tests+=("$binary"); fi
done

# run_phase NAME SECONDS PREFIX...: runs each [cuda] test binary, prefixed by PREFIX (a tool),
# within one time budget for the whole phase; logs to NAME.log.
run_phase() {
  local name=$1 budget=$2
  shift 2
  local deadline=$(($(date +%s) + budget)) passed=0 failed=0 skipped=0
  note ""
  note "## $name (limit ${budget} s)"
  if [[ ${#cuda_tests[@]} -eq 0 ]]; then
    note "- no test binary has tests tagged [cuda]"
    return
  fi
  : >"$out/$name.log"
  for binary in "${cuda_tests[@]}"; do
    local left=$((deadline - $(date +%s)))
    if [[ $left -le 2 ]]; then
      skipped=$((skipped + 1))
      note "- $(basename "$binary"): not run (phase out of time)"
      continue
    fi
    echo "==== $* $binary [cuda]" >>"$out/$name.log"
    timeout -k 5 "$left" "$@" "$binary" "[cuda]" >>"$out/$name.log" 2>&1
    local status=$?
    local summary
    summary=$(grep -E "^(All tests passed|test cases:)|ERROR SUMMARY|RACECHECK SUMMARY" "$out/$name.log" | tail -1)
    if [[ $status -eq 0 ]]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      [[ $status -eq 124 ]] && summary="timed out; $summary"
    fi
    note "- $(basename "$binary"): exit $status; $summary"
  done
  note "- $name: $passed binaries passed, $failed failed, $skipped not run"
}

run_phase cuda_tests "$t_tests"

# ---- fer train end to end on the GPU: all three stages of the full method, tiny sizes ----------
note ""
note "## fer train --device cuda (limit ${t_train} s)"
if [[ -x $build/fer ]]; then
  train_dir=$(mktemp -d)
  if timeout -k 5 "$t_train" bash -c "'$build/fer' synth-data --out '$train_dir/faces' --subjects 6 --per-class 2 --size 32 &&
      '$build/fer' train --data '$train_dir/faces' --mode joint-rdbp --folds 3 --fold 0 --device cuda \
        --out '$train_dir/run' --quiet --set model.image_size=32 --set model.width=0.25 \
        --set stage0.epochs=1 --set stage1.epochs=2 --set stage2.epochs=2" >"$out/train.log" 2>&1; then
    note "- joint-rdbp, 3 stages: ok; $(grep -o '"mean_accuracy": *[0-9.]*' "$train_dir/run/summary.json" 2>/dev/null)"
  else
    note "- joint-rdbp, 3 stages: FAILED (exit $?), see train.log; its last lines:"
    tail -15 "$out/train.log" | sed 's/^/    /' >>"$report"
  fi
  rm -rf "$train_dir"
else
  note "- skipped: no $build/fer"
fi
if command -v compute-sanitizer >/dev/null; then
  # The allocator's cache off: exact block sizes, so memcheck sees a write past a tensor that the
  # cache's rounding would hide (kernels/runtime/device_memory.h).
  run_phase memcheck "$t_memcheck" env FER_ALLOC_NO_CACHE=1 compute-sanitizer --tool memcheck --error-exitcode 1 \
    --print-limit 20
  run_phase racecheck "$t_racecheck" compute-sanitizer --tool racecheck --racecheck-report analysis \
    --error-exitcode 1 --print-limit 20
else
  note ""
  note "## compute-sanitizer: not found on this machine, memcheck and racecheck skipped"
fi

# ---- benchmarks (when the fer command has them) ---------------------------------------------
note ""
note "## Benchmarks (limit ${t_bench} s)"
fer=$build/fer
if [[ -x $fer ]] && "$fer" bench --help >/dev/null 2>&1; then
  bench_deadline=$(($(date +%s) + t_bench))
  # name|command: fer's training steps and the PyTorch reference's (TF32 off), then fer's kernels
  # (20 ms of timed runs per version; last, as the longest). Their JSON is merged into
  # bench.json, their logs into bench.log (few files: the device tool returns at most 8).
  reference=benchmarks/reference/fer_reference.py
  bench_runs=("step_s1|$fer bench step --stage 1 --device cuda --json"
              "step_s2|$fer bench step --stage 2 --device cuda --json"
              "torch_s1|python3 $reference --stage 1 --device cuda"
              "torch_s2|python3 $reference --stage 2 --device cuda"
              "kernels|$fer bench kernels --device cuda --budget-ms 20 --json")
  mkdir -p "$out/bench_parts"
  for run in "${bench_runs[@]}"; do
    what=${run%%|*} command=${run#*|}
    left=$((bench_deadline - $(date +%s)))
    if [[ $left -le 2 ]]; then
      note "- bench $what: not run (phase out of time)"
      continue
    fi
    echo "==== $command" >>"$out/bench.log"
    timeout -k 5 "$left" $command >"$out/bench_parts/$what.json" 2>>"$out/bench.log"
    note "- bench $what: exit $?"
  done
  python3 - "$out" <<'PY' | tee -a "$report"
import json, os, sys
out = sys.argv[1]
parts = {}
for name in sorted(os.listdir(f"{out}/bench_parts")):
    try:
        parts[name[:-5]] = json.load(open(f"{out}/bench_parts/{name}"))
    except ValueError:
        parts[name[:-5]] = None
json.dump(parts, open(f"{out}/bench.json", "w"), indent=1)
print("\n| stage | fer ms | PyTorch ms | fer/PyTorch | fer peak MiB | PyTorch peak MiB |\n|---|---|---|---|---|---|")
for s in (1, 2):
    ours, ref = parts.get(f"step_s{s}"), parts.get(f"torch_s{s}")
    if ours and ref:
        print(f"| {s} | {ours['median_ms']:.2f} | {ref['median_ms']:.2f} | {ours['median_ms'] / ref['median_ms']:.2f} "
              f"| {ours['peak_memory_bytes'] / 2**20:.0f} | {ref['peak_memory_bytes'] / 2**20:.0f} |")
PY
  rm -rf "$out/bench_parts"
else
  note "- skipped: $fer has no 'bench' command in this build"
fi

note ""
note "Total: $(elapsed) s. Logs: $(ls "$out" | tr '\n' ' ')"
