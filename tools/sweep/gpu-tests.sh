#!/bin/bash
# The Vulkan backend's tests and `demo bench` on a lent GPU machine, from the repository root, with
# prebuilt binaries (no Go needed there). Prepare on the build machine:
#   mkdir -p .sweep && go build -ldflags='-s -w' -o .sweep/demo ./demo
#   for p in core/vulkan core/model core/pg; do go test -c -ldflags='-s -w' -o .sweep/$(basename $p).test ./$p; done
#   xz .sweep/demo .sweep/*.test
# and in .gl/ the Vulkan loader's Debian packages (see run.sh) and vulkan-validationlayers (the
# tests turn validation on; `apt-get download vulkan-validationlayers`). Writes $OUT/gpu-tests.log and
# $OUT/bench.json. Each package's tests run in its folder (their testdata paths are relative).
set -u
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] && export VK_DRIVER_FILES=$ICD
ROOT=$(pwd)
cd .sweep && xz -dkf demo.xz vulkan.test.xz model.test.xz pg.test.xz && chmod +x demo *.test && cd "$ROOT"
{
  nvidia-smi -L; .sweep/demo devices 2>&1 | head -5
  for t in "core/vulkan vulkan ." "core/model model Vulkan|16|LoRA" "core/pg pg Vulkan|MatchesCPU"; do
    set -- $t
    echo "== $1 (-test.run '$3')"
    (cd $1 && AGRPO_REQUIRE_VULKAN=1 timeout 120 "$ROOT/.sweep/$2.test" -test.run "$3" -test.count 1 2>&1 | tail -25)
  done
} > $OUT/gpu-tests.log 2>&1
GOMAXPROCS=4 timeout 120 .sweep/demo bench -device vulkan -json > $OUT/bench.json 2> $OUT/bench.err
tail -40 $OUT/gpu-tests.log; cat $OUT/bench.json | head -c 3000
