#!/usr/bin/env bash
# One GPU session in one command: train the zoo's four conditional networks (IN, BN, LN, GN) side by
# side on one CUDA device at one budget, score them on the held-out photos, and time CUDA inference
# of every norm at 512/1024/2048 px. Data: scripts/pack_gpu_data.py's folder (GPU_DATA, default .gpu).
# Results go to RUN_DIR (default runs/gpu): weights, logs, scores.json, grids, bench_cuda.json; on the
# device machine (where $OUT is the folder that comes back, at most 8 files) the weights, the two
# JSON files and one archive of the logs and grids are copied to $OUT.
#
#   scripts/gpu_session.sh                  # on the device machine: the real run (about 9 minutes)
#   DEVICE=cpu TRAIN_SECONDS=5 IMAGE_SIZE=32 BATCH=2 MIN_STEPS=50 BENCH_SIZES=64 EVAL_SIZE=48 \
#     RUN_DIR=/tmp/gpu_check scripts/gpu_session.sh
#                                           # the same steps, tiny, to check the script on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${GPU_DATA:-.gpu}; RUN=${RUN_DIR:-runs/gpu}; DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-16}; IMAGE_SIZE=${IMAGE_SIZE:-256}; TRAIN_SECONDS=${TRAIN_SECONDS:-330}
MIN_STEPS=${MIN_STEPS:-200}; BENCH_SIZES=${BENCH_SIZES:-512 1024 2048}; EVAL_SIZE=${EVAL_SIZE:-512}
# the recipe (docs/quality.md): the best one measured so far; set RECIPE to try another
RECIPE=${RECIPE:---style-loss sliced-batch --style-weight 20 --laplacian-weight 2 --laplacian-pools 4 8 16 --every-style}
NORMS="instance batch layer group"
S=$DATA/styles
PAINTINGS="$S/starry_night.jpg $S/great_wave.jpg $S/the_scream.jpg $S/composition_vii.jpg"
VGG=$DATA/vgg16_features_fp16.safetensors
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-4}
mkdir -p "$RUN"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"

train_all() {  # STEPS [--resume]: the four networks side by side, one process each
  local pids=()
  for norm in $NORMS; do
    python3 -m style_app train --style-image $PAINTINGS --content-dir "$DATA/train" --val-dir "$DATA/val" \
      --norm $norm --out "$RUN/zoo4_$norm.safetensors" --steps "$1" --batch-size "$BATCH" \
      --image-size "$IMAGE_SIZE" --device "$DEVICE" --workers 3 --checkpoint-every 100000 --quiet \
      --vgg-weights "$VGG" $RECIPE "${@:2}" >> "$RUN/train_$norm.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done  # any failure stops the script (set -e)
}

# 1. calibrate: a few steps of all four at once give the steps that fit in TRAIN_SECONDS
train_all 40
STEPS=$(python3 - "$RUN" "$BATCH" "$TRAIN_SECONDS" "$MIN_STEPS" <<'PY'
import json, sys, pathlib
out, batch, seconds, least = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
logs = [[json.loads(line) for line in p.read_text().splitlines()] for p in out.glob("zoo4_*.losses.jsonl")]
rates = [[r for r in log if "split" not in r][-1]["images_per_s"] for log in logs]  # the last window: warm
print(max(least, int(seconds * min(rates) / batch) // 100 * 100))
PY
)
echo "steps: $STEPS (slowest of the four at $BATCH images per step)"
# 2. train on from the calibration checkpoints (exact resume)
start=$(date +%s); train_all "$STEPS" --resume; echo "trained in $(( $(date +%s) - start )) s"
# 3. score and time
python3 -m style_app evaluate --weights "$RUN"/zoo4_*.safetensors --content-dir "$DATA/val" --style-dir "$S" \
  --vgg-weights "$VGG" --device "$DEVICE" --size "$EVAL_SIZE" --json "$RUN/scores.json" --grid "$RUN/grids"
python3 -m style_app bench --device "$DEVICE" --arch johnson --norm $NORMS --sizes $BENCH_SIZES --no-train \
  --json "$RUN/bench_cuda.json"
if [ -n "${OUT:-}" ]; then  # the device machine's return folder
  cp "$RUN"/zoo4_*.safetensors "$RUN/scores.json" "$RUN/bench_cuda.json" "$OUT"/
  tar czf "$OUT/logs_and_grids.tgz" -C "$RUN" grids $(cd "$RUN" && ls *.log *.jsonl)
fi
