#!/usr/bin/env bash
# fer against the PyTorch reference on this machine, side by side in one run: for each stage, the
# `fer bench step` timing and the same step in benchmarks/reference/fer_reference.py (Debian's
# python3-torch at /usr/bin/python3), with the same thread count (OMP_NUM_THREADS,
# OPENBLAS_NUM_THREADS, torch.set_num_threads). Writes step_fer_s<N>_r<R>.json, step_torch_s<N>_r<R>.json,
# comparison.json and comparison.md (ratios fer/PyTorch) into the output folder.
# --repeat R runs the pair R times, alternating fer and PyTorch, and reports the median of each
# measure over the repeats, with the range of the R paired ratios (on a shared VM one process
# can run up to 20% slower than the next; the range shows how much).
#
#   benchmarks/run_cpu.sh [--build DIR] [--threads T] [--batch B] [--steps N] [--warmup N]
#                         [--repeat R] [--out DIR] [--kernels]
# --kernels also writes kernels_cpu.json (`fer bench kernels --json`, every family; slow).
# FER_COMMIT names the commit `fer` was built from (default: the checkout's HEAD).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FER_BUILD_DIR:-build} threads=$(nproc) batch=32 steps=5 warmup=1 repeat=1 out=${TMPDIR:-/tmp}/fer_bench_cpu kernels=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --kernels) kernels=1; shift ;;
    *) echo "run_cpu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3
mkdir -p "$out"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

for ((r = 1; r <= repeat; ++r)); do
  for stage in 1 2; do
    "$build/fer" bench step --stage "$stage" --batch "$batch" --steps "$steps" --warmup "$warmup" --json \
      >"$out/step_fer_s${stage}_r$r.json"
    "$python" benchmarks/reference/fer_reference.py --stage "$stage" --batch "$batch" --steps "$steps" \
      --warmup "$warmup" --threads "$threads" >"$out/step_torch_s${stage}_r$r.json"
  done
done
if [[ $kernels -eq 1 ]]; then
  "$build/fer" bench kernels --device cpu --json >"$out/kernels_cpu.json"
fi

"$python" - "$out" "$repeat" <<'PY'
import json, os, statistics, subprocess, sys, time
out, repeat = sys.argv[1], int(sys.argv[2])
rows = []
for stage in (1, 2):
    runs = [(json.load(open(f"{out}/step_fer_s{stage}_r{r}.json")), json.load(open(f"{out}/step_torch_s{stage}_r{r}.json")))
            for r in range(1, repeat + 1)]
    paired = [a["median_cpu_ms"] / b["median_cpu_ms"] for a, b in runs]
    # The median over the repeats of every measure (a single run: its own values).
    ours = {k: statistics.median_high(a[k] for a, _ in runs) for k in ("median_ms", "median_cpu_ms", "images_per_s", "peak_memory_bytes")}
    ref = {k: statistics.median_high(b[k] for _, b in runs) for k in ("median_ms", "median_cpu_ms", "images_per_s", "peak_memory_bytes")}
    ours.update(batch=runs[0][0]["batch"], threads=runs[0][0]["threads"])
    ref.update(torch=runs[0][1]["torch"])
    rows.append({"stage": stage, "batch": ours["batch"], "threads": ours["threads"], "repeats": repeat,
                 "paired_cpu_time_ratios": paired,
                 "fer_median_ms": ours["median_ms"], "torch_median_ms": ref["median_ms"],
                 "wall_ratio": ours["median_ms"] / ref["median_ms"],
                 "fer_cpu_ms": ours["median_cpu_ms"], "torch_cpu_ms": ref["median_cpu_ms"],
                 "cpu_time_ratio": ours["median_cpu_ms"] / ref["median_cpu_ms"],
                 "fer_images_per_s": ours["images_per_s"], "torch_images_per_s": ref["images_per_s"],
                 "fer_peak_mib": ours["peak_memory_bytes"] / 2**20, "torch_peak_mib": ref["peak_memory_bytes"] / 2**20,
                 "memory_ratio": ours["peak_memory_bytes"] / max(ref["peak_memory_bytes"], 1),
                 "torch": ref["torch"]})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = os.environ.get("FER_COMMIT") or subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                                                         capture_output=True, text=True).stdout.strip()
meta = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": commit, "nproc": os.cpu_count(), "cpu": cpu,
        "loadavg": open("/proc/loadavg").read().split()[:3]}
json.dump({"machine": meta, "steps": rows}, open(f"{out}/comparison.json", "w"), indent=1)
with open(f"{out}/comparison.md", "w") as f:
    f.write(f"{meta['date']}, commit {commit}, {meta['nproc']} CPUs ({cpu}), load average {' '.join(meta['loadavg'])}\n\n")
    f.write("| stage | batch | threads | fer ms | PyTorch ms | fer/PyTorch (wall) | fer CPU ms | PyTorch CPU ms "
            "| fer/PyTorch (CPU time) | paired range | fer peak MiB | PyTorch peak MiB | memory ratio |\n")
    f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        spread = f"{min(r['paired_cpu_time_ratios']):.2f}-{max(r['paired_cpu_time_ratios']):.2f} ({r['repeats']})"
        f.write(f"| {r['stage']} | {r['batch']} | {r['threads']} | {r['fer_median_ms']:.0f} | {r['torch_median_ms']:.0f} "
                f"| {r['wall_ratio']:.2f} | {r['fer_cpu_ms']:.0f} | {r['torch_cpu_ms']:.0f} | {r['cpu_time_ratio']:.2f} "
                f"| {spread} | {r['fer_peak_mib']:.0f} | {r['torch_peak_mib']:.0f} | {r['memory_ratio']:.2f} |\n")
print(open(f"{out}/comparison.md").read())
PY
