# Recipes for the longer work. Get `just` with `npm install --ignore-scripts` (the rust-just package in
# package.json), then run `npx just <recipe>` or `node_modules/.bin/just <recipe>`.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# The README's test command.
test:
    go test ./...

# What CI runs: tests, strict checks, both CPU code paths, short fuzzing.
ci:
    .ci/run

# Benchmarks: GEMM against gonum and the FMA peak, the demo-size model, PyTorch side by side.
bench:
    go test -run XXX -bench . -benchtime 2s ./core/cpu/gemm/
    go test -run XXX -bench . -benchtime 20x ./core/model/
    /usr/bin/python3 tools/reference/bench_torch.py --threads 2

# Our `demo bench` and PyTorch's, interleaved round by round, with the ratios (docs/bench.md).
bench-pair:
    go build -o /tmp/agrpo-bench-demo ./demo
    /usr/bin/python3 tools/reference/bench_pair.py --demo /tmp/agrpo-bench-demo --rounds 3

# Regenerate the PyTorch parity fixtures in testdata/parity and the test-sized LLaDA folders with
# theirs in testdata/hf (needs Debian python3-torch), the test tokenizer and its goldens (node,
# npm install --ignore-scripts) and the reward goldens.
fixtures:
    go run ./tools/reference/mkparity -out testdata/parity
    /usr/bin/python3 tools/reference/parity.py testdata/parity
    /usr/bin/python3 tools/reference/llada_hf.py --selftest
    /usr/bin/python3 tools/reference/llada_hf.py make testdata/hf/llada-tiny-bf16 --dtype bf16 --shards 2
    /usr/bin/python3 tools/reference/llada_hf.py make testdata/hf/llada-tiny-f32 --dtype f32 --shards 1
    /usr/bin/python3 tools/reference/llada_hf.py make testdata/hf/llada-bpe-tiny --dtype bf16 --shards 2 --vocab-size 3877 --embedding-size 3880 --d-model 16 --n-layers 2 --n-heads 2 --n-kv-heads 1 --mlp 32 --max-seq 1024 --mask-id 3867 --eos-id 3860 --seed 5
    /usr/bin/python3 tools/reference/llada_hf.py parity testdata/hf/llada-tiny-bf16 testdata/hf/parity-bf16
    /usr/bin/python3 tools/reference/llada_hf.py parity testdata/hf/llada-tiny-f32 testdata/hf/parity-f32
    node tools/reference/mktokenizer.mjs testdata/tokenizer/llada-bpe
    node tools/reference/golden.mjs testdata/tokenizer/llada-bpe > testdata/tokenizer/golden.json
    cp testdata/tokenizer/llada-bpe/tokenizer.json testdata/tokenizer/llada-bpe/tokenizer_config.json testdata/hf/llada-bpe-tiny/
    python3 tools/reference/agrpo_rewards.py > testdata/agrpo-rewards.json

# Fuzz the untrusted-input parsers for a while each.
fuzz time="60s":
    for f in FuzzParse FuzzParseIndex; do go test -run XXX -fuzz "^$f\$" -fuzztime {{time}} ./core/safetensors/; done
    go test -run XXX -fuzz "^FuzzParseHFConfig$" -fuzztime {{time}} ./core/model/
    go test -run XXX -fuzz "^FuzzDecodeConfig$" -fuzztime {{time}} ./rl/
    for f in FuzzParseExpr FuzzReward FuzzEncode FuzzParseNumber FuzzParseJSONLCountdown FuzzParseJSONLSudoku FuzzParseJSONLArithmetic FuzzParseJSONLGSM8K; do go test -run XXX -fuzz "^$f\$" -fuzztime {{time}} ./rl/task/; done
    for f in FuzzRoundTrip FuzzParse FuzzChatTemplate; do go test -run XXX -fuzz "^$f\$" -fuzztime {{time}} ./core/tokenizer/hf/; done

# Build the browser demo's WebAssembly (page and wasip1 command) into wasm/out/; print sizes.
wasm:
    mkdir -p wasm/out
    GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o wasm/out/main.wasm ./wasm/cmd/js
    GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w" -o wasm/out/wasip1.wasm ./wasm/cmd/wasip1
    for f in wasm/out/*.wasm; do echo "$f: $(stat -c %s "$f") bytes, $(gzip -9 -c "$f" | wc -c) gzip -9"; done

# Serve the browser demo (127.0.0.1 only by default); Ctrl-C stops it.
serve addr="127.0.0.1:8080":
    go run ./demo serve -addr {{addr}}

# Recompile the GLSL compute shaders (shaders/*.comp) into the committed SPIR-V (needs glslc).
shaders:
    go test ./shaders/ -run TestSPIRVUpToDate -count=1 -args -update

# The Vulkan backend's tests on the device Vulkan finds (lavapipe with mesa-vulkan-drivers),
# under validation layers, failing instead of skipping when there is no device.
vulkan-test:
    AGRPO_REQUIRE_VULKAN=1 AGRPO_REQUIRE_GLSLC=1 nice -n 10 go test -count=1 ./vk/ ./shaders/ ./core/vulkan/
