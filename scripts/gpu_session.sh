#!/usr/bin/env bash
# One GPU session in one command: train the zoo (the four conditional networks, IN, BN, LN, GN, and
# the slim Starry Night IN network) side by side on one CUDA device at one budget, keep a snapshot of
# every network after each of SNAPSHOTS equal stages, score each snapshot on the held-out photos, and
# time CUDA inference of every norm at 512/1024/2048 px. Data: scripts/pack_gpu_data.py's folder
# (GPU_DATA, default .gpu). Results go to RUN_DIR (default runs/gpu): step_<N>/ (weights, scores.json,
# grids), logs, bench_cuda.json. On the device machine ($OUT: the folder that comes back) each
# snapshot's weights come back as one tar and the logs, scores and grids as one archive, named after
# RUN_DIR's last part, so that two recipes can share one session (BENCH_SIZES= on the second).
#
#   scripts/gpu_session.sh                  # on the device machine: the real run (about 8 minutes)
#   DEVICE=cpu TRAIN_SECONDS=5 IMAGE_SIZE=48 BATCH=2 MIN_STEPS=100 BENCH_SIZES=64 EVAL_SIZE=48 \
#     RUN_DIR=/tmp/gpu_check scripts/gpu_session.sh
#                                           # the same steps, tiny, to check the script on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${GPU_DATA:-.gpu}; RUN=${RUN_DIR:-runs/gpu}; DEVICE=${DEVICE:-cuda}; NAME=$(basename "$RUN")
BATCH=${BATCH:-16}; IMAGE_SIZE=${IMAGE_SIZE:-256}; TRAIN_SECONDS=${TRAIN_SECONDS:-300}; SNAPSHOTS=${SNAPSHOTS:-2}
MIN_STEPS=${MIN_STEPS:-200}; BENCH_SIZES=${BENCH_SIZES-512 1024 2048}; EVAL_SIZE=${EVAL_SIZE:-512}
# the recipe (docs/quality.md): the best one measured so far; set RECIPE to try another
RECIPE=${RECIPE:---style-loss sliced-batch --style-weight 20 --laplacian-weight 2 --laplacian-pools 4 8 16 --every-style}
NORMS="instance batch layer group"
S=$DATA/styles
PAINTINGS="$S/starry_night.jpg $S/great_wave.jpg $S/the_scream.jpg $S/composition_vii.jpg"
VGG=$DATA/vgg16_features_fp16.safetensors
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p "$RUN"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA')"

send_back() {  # on the device machine, also after a failure: whatever exists so far
  [ -n "${OUT:-}" ] || return 0
  (cd "$RUN" && tar czf "$OUT/${NAME}_reports.tgz" --exclude='*.safetensors' --exclude='*.ckpt' ./*.log ./*.jsonl \
     $(ls -d step_* 2>/dev/null) $(ls bench_cuda.json 2>/dev/null)) || true
  for snapshot in "$RUN"/step_*; do
    [ -d "$snapshot" ] && (cd "$snapshot" && tar cf "$OUT/${NAME}_weights_$(basename "$snapshot").tar" ./*.safetensors)
  done
  return 0
}
trap send_back EXIT
trap 'exit 143' TERM INT  # a time limit's SIGTERM still sends back what is done

train() {  # NAME STEPS FLAGS...: one network, in the background
  local name=$1 steps=$2; shift 2
  python3 -m style_app train --content-dir "$DATA/train" --val-dir "$DATA/val" --out "$RUN/$name.safetensors" \
    --steps "$steps" --batch-size "$BATCH" --image-size "$IMAGE_SIZE" --device "$DEVICE" --workers 2 \
    --checkpoint-every 100000 --quiet --vgg-weights "$VGG" $RECIPE "$@" >> "$RUN/train_$name.log" 2>&1 &
}

train_all() {  # STEPS [--resume]: the whole zoo side by side, one process each
  local pids=()
  for norm in $NORMS; do
    train "zoo4_$norm" "$@" --style-image $PAINTINGS --norm $norm; pids+=($!)
  done
  train starry_night_instance_slim "$@" --style-image "$S/starry_night.jpg" --norm instance --arch slim; pids+=($!)
  for pid in "${pids[@]}"; do
    wait "$pid" || { tail -n 5 "$RUN"/train_*.log; exit 1; }
  done
}

score() {  # SNAPSHOT_DIR: the held-out scores and grids of every network in it
  python3 -m style_app evaluate --weights "$1"/*.safetensors --content-dir "$DATA/val" --style-dir "$S" \
    --vgg-weights "$VGG" --device "$DEVICE" --size "$EVAL_SIZE" --json "$1/scores.json" --grid "$1/grids" \
    > "$1/evaluate.log" 2>&1
}

# 1. calibrate: a few steps of all of them at once give the steps that fit in TRAIN_SECONDS
train_all 40
STEPS=$(python3 - "$RUN" "$BATCH" "$TRAIN_SECONDS" "$MIN_STEPS" "$SNAPSHOTS" <<'PY'
import json, sys, pathlib
out, batch, seconds, least, stages = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
logs = [[json.loads(line) for line in p.read_text().splitlines()] for p in out.glob("zoo4_*.losses.jsonl")]
rates = [[r for r in log if "split" not in r][-1]["images_per_s"] for log in logs]  # the last window: warm
print(max(least, int(seconds * min(rates) / batch) // (100 * stages) * 100 * stages))
PY
)
echo "steps: $STEPS in $SNAPSHOTS stages (slowest of the zoo at $BATCH images per step)"
# 2. train on from the calibration checkpoints (exact resume), a snapshot after each stage, scored
#    in the background while the next stage trains
start=$(date +%s); scorers=()
for stage in $(seq 1 "$SNAPSHOTS"); do
  steps=$(( STEPS * stage / SNAPSHOTS ))
  train_all "$steps" --resume
  mkdir -p "$RUN/step_$steps"; cp "$RUN"/*.safetensors "$RUN/step_$steps/"
  echo "step $steps after $(( $(date +%s) - start )) s"
  score "$RUN/step_$steps" & scorers+=($!)
done
for pid in "${scorers[@]}"; do wait "$pid" || { cat "$RUN"/step_*/evaluate.log; exit 1; }; done
cat "$RUN/step_$STEPS/evaluate.log"
# 3. time
if [ -n "$BENCH_SIZES" ]; then
  python3 -m style_app bench --device "$DEVICE" --arch johnson --norm $NORMS --sizes $BENCH_SIZES --no-train \
    --json "$RUN/bench_cuda.json"
fi
