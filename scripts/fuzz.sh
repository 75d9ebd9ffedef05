#!/usr/bin/env bash
# Long libFuzzer runs of one parser harness (see fuzz/README.md and fuzz/RELIABILITY.md):
#   scripts/fuzz.sh NAME [SECONDS]     NAME: safetensors config tokenizer_json tokenizer_model run qlw gguf
# Builds the clang/libFuzzer/ASan/UBSan harnesses in build-fuzz/ (no GUI, no libtorch),
# generates the seed corpus from ../shared (and, when build/ has quantlens-cli, small runs
# of stories260k), then fuzzes one process for SECONDS (default 600) in fork mode so a
# finding is saved and the run goes on. The growing corpus is kept in
# build-fuzz/fuzz/work/NAME, findings in build-fuzz/fuzz/findings/NAME, the log in
# build-fuzz/fuzz/NAME.log. Extra libFuzzer flags: FUZZ_ARGS="-max_len=4096 ...".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="${1:?usage: scripts/fuzz.sh NAME [SECONDS]  (safetensors config tokenizer_json tokenizer_model run qlw gguf)}"
seconds="${2:-600}"
case "$name" in
  safetensors|config|tokenizer_json|tokenizer_model|run|qlw|gguf) ;;
  *) echo "unknown harness '$name' (safetensors config tokenizer_json tokenizer_model run qlw gguf)" >&2; exit 2 ;;
esac
build="${QUANTLENS_FUZZ_BUILD_DIR:-$root/build-fuzz}"
shared="${QUANTLENS_TEST_DATA:-$(dirname "$root")/shared}"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$root")}"

"$root/scripts/install-deps.sh" --fuzz
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DQUANTLENS_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQUANTLENS_BUILD_GUI=OFF >/dev/null
fi
cmake --build "$build" -j 2 --target "fuzz_$name" fuzz_make_seeds

seeds="$build/fuzz/seeds"
if [ ! -d "$seeds/$name" ]; then
  cli="${QUANTLENS_CLI:-$root/build/app/quantlens-cli}"
  [ -x "$cli" ] || echo "note: no $cli: the run harness gets only the repository's seeds" >&2
  "$root/fuzz/make_corpus.sh" "$shared" "$seeds" "$build/fuzz/fuzz_make_seeds" "$cli" >/dev/null
fi
work="$build/fuzz/work/$name"
findings="$build/fuzz/findings/$name"
mkdir -p "$work" "$findings"
dict=()
case "$name" in
  config|tokenizer_json|run) dict=(-dict="$root/fuzz/json.dict") ;;
esac
log="$build/fuzz/$name.log"
# shellcheck disable=SC2086
"$build/fuzz/fuzz_$name" "$work" "$seeds/$name" "$root/fuzz/corpus/$name" \
  -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$findings/" "${dict[@]}" ${FUZZ_ARGS:-} 2>&1 | tee "$log" | grep -E '^#|ERROR|INFO: (fuzzed|exiting)|Done' || true
echo "corpus: $(find "$work" -type f | wc -l) files; findings: $(find "$findings" -type f | wc -l) in $findings; log: $log"
