#!/bin/bash
# A recipe sweep on a GPU machine, run from the repository root: every config in .sweep/configs at
# once, each on Vulkan, then each final model on the held-out sets (testdata/heldout). Prepare:
#   python3 tools/sweep/gen.py recipe .sweep/configs
#   go build -o .sweep/demo ./demo && xz .sweep/demo       # no Go needed on the GPU machine
# and, on a machine without a Vulkan loader, its Debian packages in .gl/ (libvulkan1 and the
# glvnd libraries; the NVIDIA driver brings the ICD). Writes $OUT/results.tgz (logs, metrics,
# evals) and the seed-1 models; 24 runs of 400 steps took 270 s on one NVIDIA H200.
# Summarise with: python3 tools/sweep/summarize.py sweep-runs
set -u
TRAIN_LIMIT=${TRAIN_LIMIT:-300}
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] && export VK_DRIVER_FILES=$ICD
cd .sweep
xz -dkf demo.xz; chmod +x demo
nvidia-smi -L; nproc
./demo devices 2>&1 | head -5
START=$(date +%s)
mkdir -p sweep-runs logs
for c in configs/*.toml; do
  n=$(basename $c .toml)
  GOMAXPROCS=2 timeout -s INT $TRAIN_LIMIT ./demo train -config $c -device vulkan > logs/$n.log 2>&1 &
done
while [ -n "$(jobs -r)" ]; do
  sleep 30
  echo "t=$(( $(date +%s)-START ))s running=$(jobs -r | wc -l) steps: $(for f in sweep-runs/*/metrics.jsonl; do tail -1 $f | grep -o '"step":[0-9]*' | cut -d: -f2; done | tr '\n' ' ')"
done
echo "training done at t=$(( $(date +%s)-START ))s"
for d in sweep-runs/*/; do
  n=$(basename $d); task=${n%%-*}
  ck=$d/model.safetensors; [ -f $ck ] || ck=$d/checkpoint.safetensors
  if [ $task = sudoku ]; then st=16,4; else st=12,3; fi
  GOMAXPROCS=2 timeout 60 ./demo eval -ckpt $ck -task $task -data ../testdata/heldout/$task.jsonl -steps $st -json -device vulkan > $d/heldout.json 2> $d/heldout.err &
done
wait
echo "held-out done at t=$(( $(date +%s)-START ))s"
grep -l -i 'error\|panic' logs/*.log | head
tail -n 3 logs/*s1.log | head -60
tar czf $OUT/results.tgz logs sweep-runs/*/metrics.jsonl sweep-runs/*/eval.json sweep-runs/*/heldout.* sweep-runs/*/config.toml 2>/dev/null
for t in sudoku countdown; do tar cf $OUT/models-$t.tar sweep-runs/$t-*-s1/model.safetensors 2>/dev/null; done
ls -la $OUT
