#!/usr/bin/env bash
# Screenshot of the workbench under Xvfb: opens MODEL, runs INT8 and INT4 RTN with small
# calibration/evaluation settings, selects a layer and saves the main window as PNG.
#   scripts/screenshot.sh [MODEL_DIR] [OUT.png] [light|dark] [extra quantlens options...]
# e.g. ... light --preview rtn:int4:g32:asym --tab sqnr   (the live preview, no run)
#      ... light --sweep --tab sweep                     (the weight sweep tab, no run)
# Environment: QUANTLENS_BUILD_DIR (default ./build), QUANTLENS_TEST_DATA (default ../shared).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QUANTLENS_BUILD_DIR:-$root/build}"
shared="${QUANTLENS_TEST_DATA:-$root/../shared}"
model="${1:-$shared/models/stories260k}"
out="${2:-$PWD/quantlens-screenshot.png}"
theme="${3:-light}"
shift $(( $# > 3 ? 3 : $# ))

bin="$build/app/gui/quantlens"
if [ ! -x "$bin" ]; then
  echo "screenshot.sh: $bin not built (cmake --build \"$build\" --target quantlens)" >&2
  exit 1
fi
command -v xvfb-run >/dev/null || { echo "screenshot.sh: xvfb-run missing (scripts/install-deps.sh)" >&2; exit 1; }

calib=()
[ -f "$shared/data/stories/calib.txt" ] && calib=(--calib "$shared/data/stories/calib.txt" --calib-windows 4 --calib-seq 64)
evalargs=()
[ -f "$shared/data/stories/stories.txt" ] && evalargs=(--eval "$shared/data/stories/stories.txt" --eval-seq 256 --eval-windows 4)

# A shot of the live preview (--preview RECIPE) or of a sweep (--sweep) runs nothing: the
# preview is what the workbench shows before the first run.
runs=(--run-recipe rtn:int8:channel:sym --run-recipe rtn:int4:g32:asym)
case " $* " in
  *" --preview "* | *" --sweep "*) runs=() calib=() evalargs=() ;;
esac

# A separate settings file so the screenshot does not touch the user's recent list.
export XDG_CONFIG_HOME="${TMPDIR:-/tmp}/quantlens-screenshot-config"
xvfb-run -a -s "-screen 0 1600x1000x24" \
  "$bin" "$model" "${runs[@]}" "${calib[@]}" "${evalargs[@]}" --theme "$theme" --size 1400x900 \
  --layer model.layers.1.mlp.down_proj --screenshot "$out" "$@"
echo "$out"
