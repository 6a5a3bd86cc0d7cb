#!/usr/bin/env bash
# One script for a GPU machine: the smoke preset end to end on the GPU, the training engine's throughput on the
# paper's instance, and one sensitivity measurement, everything written to one folder.
#
#   bash benchmarks/gpu_check.sh [--device cuda] [--out gpu_check] [--tiny] [--skip-smoke]
#
# 1. smoke:       `snakemake --config preset=smoke device=cuda gpus_per_training=1` in OUT/smoke (its own
#                 results/), wall time in OUT/smoke.time;
# 2. throughput:  benchmarks/bench_train.py on the paper instance (v = n_c = m = 10, s = L = s0 = 2, d = 36,
#                 width 512, batch 40), LCN and CNN ensembles of 1, 4, 16 and 64 members: ms/step, samples/s,
#                 model GFLOP/s, fraction of the float32 matmul rate, peak GPU memory -> OUT/throughput.txt and
#                 the table OUT/throughput.md; and VGG11 at 1, 4 and 16 members, stacked with torch.func
#                 (train.members_per_job), to see where stacking the BatchNorm nets pays;
# 3. sensitivity: a 16-member LCN of the paper instance trained for a few epochs (`srhm train`), then its
#                 S_{k,l} and D_{k,l} measured on the device (`srhm measure`), timed -> OUT/sensitivity.txt;
# plus OUT/environment.txt (torch, CUDA, GPU, nvidia-smi). --device cpu with --tiny runs the same steps at
# toy sizes (width 16, ensembles of 1 and 2, v = 4, s0 = 2), which is how the script is tested without a GPU;
# --skip-smoke leaves out step 1. Exits non-zero at the first failing step.
set -euo pipefail

device=cuda out=gpu_check tiny=0 smoke=1
while (($#)); do
    case "$1" in
        --device) device="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --tiny) tiny=1; shift ;;
        --skip-smoke) smoke=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
    esac
done
case "$device" in cpu|cuda|cuda:[0-9]*) ;; *) echo "gpu_check.sh: --device must be cpu, cuda or cuda:N, got '$device'" >&2; exit 2 ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
threads=$(python -c "import os; print(min(16, len(os.sched_getaffinity(0))))")
if ((tiny)); then
    v=4 s0=2 width=16 members=(1 2) stacked=(1 2) steps=5 warmup=2 epochs=2 n_test=200
else
    v=10 s0=2 width=512 members=(1 4 16 64) stacked=(1 4 16) steps=100 warmup=20 epochs=20 n_test=2000
fi
seconds() { date +%s.%N; }

{
    python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version()); print('devices', [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])"
    command -v nvidia-smi >/dev/null && nvidia-smi || echo "no nvidia-smi"
    echo "device $device, threads $threads, tiny $tiny"
} > "$out/environment.txt" 2>&1
if [[ "$device" == cuda* ]] && ! python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check.sh: --device $device but torch sees no CUDA device (see $out/environment.txt)" >&2
    exit 1
fi

# 1. The smoke preset end to end, training and measuring on the device.
if ((smoke)); then
    gpus=$([[ "$device" == cuda* ]] && echo 1 || echo 0)
    start=$(seconds)
    snakemake --snakefile "$repo/Snakefile" --directory "$out/smoke" --cores "$threads" --resources gpu=1 \
        --config preset=smoke device="$device" gpus_per_training="$gpus" > "$out/smoke.log" 2>&1
    echo "smoke preset: $(python -c "print(f'{$(seconds) - $start:.1f}')") s wall" | tee "$out/smoke.time"
fi

# 2. Throughput of the LCN and CNN ensembles on the paper instance.
: > "$out/throughput.txt"
bench() {  # arch, members, steps
    python "$repo/benchmarks/bench_train.py" --device "$device" --threads "$threads" --archs "$1" --v "$v" \
        --s0 "$s0" --width "$width" --members "$2" --steps "$3" --warmup "$warmup" --n-test "$n_test" >> "$out/throughput.txt"
}
for arch in lcn cnn; do
    for n in "${members[@]}"; do bench "$arch" "$n" "$steps"; done
done
for n in "${stacked[@]}"; do bench vgg11 "$n" $((steps / 4 + 1)); done
python - "$out/throughput.txt" > "$out/throughput.md" <<'PY'
import re, sys
rows = ["| arch | members | ms/step | samples/s | GFLOP/s | of matmul rate | peak GiB |", "|---|---|---|---|---|---|---|"]
for line in open(sys.argv[1]):
    m = re.match(r"(\w+): ensemble of (\d+): +([\d.]+) ms/step, +(\d+) samples/s, +([\d.]+) GFLOP/s, +([\d.]+%) of "
                 r"the matmul rate(?:, peak ([\d.]+) GiB)?", line)
    if m:
        rows.append("| " + " | ".join(g if g is not None else "-" for g in m.groups()) + " |")
print("\n".join(rows))
PY
cat "$out/throughput.md"

# 3. One sensitivity measurement: a 16-member LCN trained briefly, measured on the device.
work="$out/sensitivity"
mkdir -p "$work"
dataset="v${v}_nc${v}_m${v}_s2_L2_s0${s0}_A_seed0"
size=$((n_test + 4000))
python -m srhm dataset "$dataset" --size "$size" --out "$work/${dataset}_n${size}.npz" > "$work/dataset.log"
python - "$work" "$dataset" "$size" "$width" "$epochs" "$n_test" "$s0" "$v" > "$work/spec.json" <<'PY'
import json, sys
work, dataset, size, width, epochs, n_test, s0, v = sys.argv[1:]
members = [{"pool": f"{work}/{dataset}_n{size}.npz", "P": P, "seed": seed, "out_dir": f"{work}/runs/P{P}_seed{seed}"}
           for P in (1000, 2000, 3000, 4000) for seed in range(4)]
print(json.dumps({"arch": "lcn", "v": int(v), "n_classes": int(v), "s": 2, "s0": int(s0), "L": 2, "n_test": int(n_test),
                  "width": int(width), "max_epochs": int(epochs), "members": members}))
PY
python -m srhm train --spec "$work/spec.json" --device "$device" --threads "$threads" > "$work/train.log" 2>&1
start=$(seconds)
python -m srhm measure "$work"/runs/P* --device "$device" --threads "$threads" > "$work/measure.log" 2>&1
{
    tail -n 1 "$work/train.log"
    echo "sensitivity of 16 LCN members (probe 1000 points, 2L = 4 transformations): $(python -c "print(f'{$(seconds) - $start:.1f}')") s wall"
} | tee "$out/sensitivity.txt"
echo "gpu_check.sh: done, everything is in $out"
