#!/usr/bin/env bash
# One GPU session in one command: train the zoo (the four conditional networks, IN, BN, LN, GN, in
# train's default architecture, the zoo's) on one CUDA device at one budget of STEPS, in SNAPSHOTS equal
# stages with a copy of every network after each, score each snapshot on the held-out photos, and
# time CUDA inference of every norm at 512/1024/2048 px and a training step (AMP against fp32). The
# networks train one after another: a GPU time-slices between processes, so side by side buys
# nothing (docs/performance.md). On an H200 a four-painting network trains at about 5 steps/s at
# batch 16 (--every-style), so the default 350 steps take about 5 minutes for the zoo. Data:
# scripts/pack_gpu_data.py's folder (GPU_DATA, default .gpu). Results go to RUN_DIR (default
# runs/gpu): step_<N>/ (weights, scores.json, grids), logs, bench_cuda.json. On the device machine
# ($OUT: the folder that comes back) each snapshot's weights come back as one tar and the logs,
# scores and grids as one archive, named after RUN_DIR's last part; they are sent back after a
# failure or a time limit's SIGTERM too.
#
#   scripts/gpu_session.sh                  # on the device machine: the real run
#   NORMS="layer group" BENCH_SIZES= scripts/gpu_session.sh   # part of the zoo, no timings
#   NORMS= BENCH_SIZES= BASE_PAINTINGS="starry_night great_wave the_scream composition_vii \
#     shipwreck_minotaur sunday_afternoon the_kiss woman_with_hat" scripts/gpu_session.sh  # add-style's base
#   NORMS=instance STEPS=2000 SNAPSHOTS=4 RECIPE=candidate scripts/gpu_session.sh  # the candidate, long
#   DEVICE=cpu STEPS=4 IMAGE_SIZE=48 BATCH=2 BENCH_SIZES=64 EVAL_SIZE=48 RUN_DIR=/tmp/gpu_check \
#     scripts/gpu_session.sh                # the same steps, tiny, to check the script on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${GPU_DATA:-.gpu}; RUN=${RUN_DIR:-runs/gpu}; DEVICE=${DEVICE:-cuda}; NAME=$(basename "$RUN")
BATCH=${BATCH:-16}; IMAGE_SIZE=${IMAGE_SIZE:-256}; STEPS=${STEPS:-350}; SNAPSHOTS=${SNAPSHOTS:-1}
BENCH_SIZES=${BENCH_SIZES-512 1024 2048}; EVAL_SIZE=${EVAL_SIZE:-512}
# the recipe is `style-app train`'s defaults (style_app/training/config.py); set RECIPE to flags
# that try another
RECIPE=${RECIPE-}
# the recipe under blind test (docs/quality.md, "The acceptance test"): the Johnson width, the plain
# Gram loss without relu1_2's colour statistics, no extra terms, crops of photos enlarged up to 2x
CANDIDATE="--arch johnson --style-loss gram --style-layers relu2_2 relu3_3 relu4_3 --style-weight 3 \
  --laplacian-weight 0 --contrast-weight 0 --mean-colour-weight 0 --tone-weight 0 --palette-weight 0 --zoom 2"
[ "$RECIPE" != candidate ] || RECIPE=$CANDIDATE
NORMS=${NORMS-instance batch layer group}  # a call may train part of the zoo
# a base for add-style (docs/add_style.md): a conditional IN network on these paintings (file stems),
# none of those whose adding is measured; empty: none
BASE_PAINTINGS=${BASE_PAINTINGS-}
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

train() {  # NAME STEPS FLAGS...: one network
  local name=$1 steps=$2; shift 2
  python3 -m style_app train --content-dir "$DATA/train" --val-dir "$DATA/val" --out "$RUN/$name.safetensors" \
    --steps "$steps" --batch-size "$BATCH" --image-size "$IMAGE_SIZE" --device "$DEVICE" --workers 4 \
    --checkpoint-every 100000 --quiet --vgg-weights "$VGG" $RECIPE "$@" >> "$RUN/train_$name.log" 2>&1 \
    || { tail -n 5 "$RUN/train_$name.log"; exit 1; }
}

train_zoo() {  # STEPS [--resume]: every network to STEPS, one after another
  for norm in $NORMS; do
    train "zoo4_$norm" "$@" --style-image $PAINTINGS --norm $norm
  done
  [ -z "$BASE_PAINTINGS" ] || train base_instance "$@" --style-image $(printf "$S/%s.jpg " $BASE_PAINTINGS) --norm instance
}

# 1. train: a snapshot of the whole zoo after each stage (the later stages resume exactly)
start=$(date +%s)
for stage in $(seq 1 "$SNAPSHOTS"); do
  steps=$(( STEPS * stage / SNAPSHOTS ))
  train_zoo "$steps" $([ "$stage" -gt 1 ] && echo --resume)
  mkdir -p "$RUN/step_$steps"; cp "$RUN"/*.safetensors "$RUN/step_$steps/"
  echo "step $steps after $(( $(date +%s) - start )) s"
done
# 2. score every snapshot
for snapshot in "$RUN"/step_*; do
  python3 -m style_app evaluate --weights "$snapshot"/*.safetensors --content-dir "$DATA/val" --style-dir "$S" \
    --vgg-weights "$VGG" --device "$DEVICE" --size "$EVAL_SIZE" --json "$snapshot/scores.json" \
    --grid "$snapshot/grids" | tee "$snapshot/evaluate.log"
done
# 3. time
if [ -n "$BENCH_SIZES" ]; then
  python3 -m style_app bench --device "$DEVICE" --arch slim-noise slim johnson ${NORMS:+--norm $NORMS} --sizes $BENCH_SIZES \
    --json "$RUN/bench_cuda.json"
fi
