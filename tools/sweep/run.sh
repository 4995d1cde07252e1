#!/bin/bash
# The recipe sweep on a GPU machine: every config in .sweep/configs at once, each on Vulkan, then
# each final model on the held-out sets (testdata/heldout, copied to .sweep/heldout). Expects,
# beside the repository: .sweep/demo.xz (go build -o .sweep/demo ./demo; xz .sweep/demo) and, on
# a machine without a Vulkan loader, the Debian packages in .gl/ (see docs/results.md). Writes
# $OUT/results.tgz (logs, metrics, evals) and the seed-1 models; on 24 runs of 400 steps an
# NVIDIA H200 took 270 s. Summarise with tools/sweep/summarize.py.
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
  GOMAXPROCS=2 timeout 60 ./demo eval -ckpt $ck -task $task -data heldout/$task.jsonl -steps $st -json -device vulkan > $d/heldout.json 2> $d/heldout.err &
done
wait
echo "held-out done at t=$(( $(date +%s)-START ))s"
grep -l -i 'error\|panic' logs/*.log | head
tail -n 3 logs/*s1.log | head -60
tar czf $OUT/results.tgz logs sweep-runs/*/metrics.jsonl sweep-runs/*/eval.json sweep-runs/*/heldout.* sweep-runs/*/config.toml 2>/dev/null
for t in sudoku countdown; do tar cf $OUT/models-$t.tar sweep-runs/$t-*-s1/model.safetensors 2>/dev/null; done
ls -la $OUT
