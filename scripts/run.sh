#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and open the workbench.
#   ./scripts/run.sh [MODEL_DIR]
# Without MODEL_DIR it opens a small default model that `synth` generates on first use
# (RANDOM weights, cached in ~/.cache/quantlens). Without a display it runs the CLI's
# analysis on the model instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build="${QUANTLENS_BUILD_DIR:-$root/build}"
cli="$build/app/quantlens-cli"

model="${1:-}"
if [ -z "$model" ]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/quantlens/default-llama-tiny"
  if [ ! -f "$cache/config.json" ]; then
    echo "No model given: generating the default model (RANDOM weights) in $cache"
    mkdir -p "$(dirname "$cache")"
    "$cli" synth --preset llama-tiny --out "$cache" --dtype f32 --seed 1 --force
  fi
  model="$cache"
  echo "Using the default model with RANDOM weights: $model"
fi

gui="$build/app/gui/quantlens"
if [ -x "$gui" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  exec "$gui" "$model"
fi
echo "No display (or no GUI build): running the CLI analysis instead."
"$cli" info "$model"
out="$(mktemp -d)/run-int8"
"$cli" quantize --model "$model" --recipe rtn:int8:channel:sym --out "$out" --no-gradients
echo "Run folder: $out"
