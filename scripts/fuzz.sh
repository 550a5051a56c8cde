#!/usr/bin/env bash
# Runs one libFuzzer target for as long as you like (docs/FUZZING.md):
#   scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags...]
# TARGET is a name from tests/fuzz/fuzz_<name>.c (proto, jdoc, dataset_line, dataset_csv, prompt_render, config,
# openai_chat, anthropic_chat, embeddings, retry_after); SECONDS defaults to 600, 0 runs until
# stopped. Builds the fuzz tree (build-fuzz, clang) first. New corpus entries go to
# fuzz-out/TARGET/corpus (the tree's seeds are only read); crashes, leaks and slow inputs are
# written to fuzz-out/TARGET/crashes/. Set RS_FUZZ_OUT for another directory, RS_FUZZ_JOBS to
# run several processes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
what=$1
secs=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
src=tests/fuzz/fuzz_$what.c
if [ ! -f "$src" ]; then
  echo "fuzz.sh: no target '$what' (tests/fuzz/fuzz_$what.c); targets:" \
       "$(cd tests/fuzz && ls fuzz_*.c | sed 's/^fuzz_//; s/\.c$//' | tr '\n' ' ')" >&2
  exit 2
fi
scripts/build.sh build-fuzz -DRS_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
out=${RS_FUZZ_OUT:-fuzz-out}/$what
mkdir -p "$out/corpus" "$out/crashes"
opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
      "-max_total_time=$secs" "-artifact_prefix=$out/crashes/")
[ -f "tests/fuzz/$what.dict" ] && opts+=("-dict=tests/fuzz/$what.dict")
[ -n "${RS_FUZZ_JOBS:-}" ] && opts+=("-jobs=$RS_FUZZ_JOBS" "-workers=$RS_FUZZ_JOBS")
seeds=("tests/fuzz/corpus/$what")
[ -d "tests/fuzz/regressions/$what" ] && seeds+=("tests/fuzz/regressions/$what")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "fuzz.sh: $what for ${secs}s; new inputs in $out/corpus, crashes in $out/crashes"
set +e
"build-fuzz/tests/fuzz/fuzz_$what" "${opts[@]}" "$@" "$out/corpus" "${seeds[@]}"
rc=$?
set -e
n=$(find "$out/crashes" -type f | wc -l)
echo "fuzz.sh: $what exited $rc; $n file(s) in $out/crashes"
exit $rc
