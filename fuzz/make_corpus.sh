#!/usr/bin/env bash
# Generates the fuzz seed corpora from the shared data into OUT (a build folder):
#   make_corpus.sh SHARED_DIR OUT_DIR MAKE_SEEDS [QUANTLENS_CLI]
# With QUANTLENS_CLI, two small runs are quantized from stories260k first (RTN INT4 g32
# asym weights-only, and INT8 with a few calibration windows so activations are present)
# and packed as seeds of the run harness; the .qlw files of a one-layer GPTQ and AWQ run
# become seeds of the qlw harness. Missing shared data only leaves folders empty:
# the smoke tests then report it as skipped.
set -euo pipefail
shared="$1" out="$2" make_seeds="$3" cli="${4:-}"
rm -rf "$out"
mkdir -p "$out"
runs=()
model="$shared/models/stories260k"
if [ -n "$cli" ] && [ -x "$cli" ] && [ -d "$model" ]; then
  work="$out/.runs"
  mkdir -p "$work"
  "$cli" quantize --model "$model" --recipe rtn:int4:g32:asym --include 'model.layers.0.self_attn.*' \
    --bins 16 --out "$work/stories260k-rtn-int4-g32" >/dev/null
  runs+=(--run "$work/stories260k-rtn-int4-g32")
  calib="$shared/data/stories/calib.txt"
  if [ -f "$calib" ]; then
    "$cli" quantize --model "$model" --recipe rtn:int8:channel:sym --calib "$calib" \
      --calib-windows 1 --calib-seq 16 --include 'model.layers.1.mlp.down_proj' --bins 8 \
      --out "$work/stories260k-rtn-int8-calib" >/dev/null
    runs+=(--run "$work/stories260k-rtn-int8-calib")
    # Compact weight files (weights/*.qlw) of a GPTQ and an AWQ run: seeds of the qlw harness.
    for recipe in gptq:int4:g32:asym awq:int8:channel:sym; do
      "$cli" quantize --model "$model" --recipe "$recipe" --calib "$calib" --calib-windows 1 \
        --calib-seq 16 --include 'model.layers.0.self_attn.k_proj' --bins 8 \
        --no-activations --no-gradients --out "$work/qlw-${recipe%%:*}" >/dev/null
    done
  fi
fi
"$make_seeds" --shared "$shared" --out "$out" "${runs[@]}"
mkdir -p "$out/qlw"
for f in "$out"/.runs/qlw-*/weights/*.qlw; do
  if [ -f "$f" ]; then cp "$f" "$out/qlw/$(basename "$(dirname "$(dirname "$f")")").qlw"; fi
done
rm -rf "$out/.runs"
# llama.cpp files: the smallest reference GGUFs (every legacy and k-quant type between them).
mkdir -p "$out/gguf"
for f in stories260k.Q4_K_M stories260k.Q6_K llama-256.Q2_K llama-256.Q3_K_M; do
  if [ -f "$shared/reference/gguf/$f.gguf" ]; then cp "$shared/reference/gguf/$f.gguf" "$out/gguf/$f.gguf"; fi
done
