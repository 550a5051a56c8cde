#!/usr/bin/env bash
# One fuzz target under ctest: run.sh BINARY FUZZ_DIR WHAT SCRATCH_DIR RUNS MAX_SECONDS
# Replays every input in FUZZ_DIR/regressions/WHAT/ once (each one crashed the code once), then fuzzes
# for RUNS executions (at most MAX_SECONDS) from the seeds in FUZZ_DIR/corpus/WHAT/ and the
# regressions, with a fixed seed. New inputs go to SCRATCH_DIR (emptied first), never into the tree;
# a crash is written to SCRATCH_DIR/crash-* and fails the test. Mutated inputs are at most 8 KiB (a longer
# seed or regression is cut to that while fuzzing; the replay has no -max_len, which would cut it too).
set -euo pipefail
bin=$1 dir=$2 what=$3 scratch=$4 runs=$5 secs=$6
rm -rf "$scratch"
mkdir -p "$scratch/corpus"
opts=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
      "-artifact_prefix=$scratch/")
[ -f "$dir/$what.dict" ] && opts+=("-dict=$dir/$what.dict")
regs=()
if [ -d "$dir/regressions/$what" ]; then
  while IFS= read -r -d '' f; do regs+=("$f"); done \
    < <(find "$dir/regressions/$what" -type f ! -name '*.md' -print0 | sort -z)
fi
if [ ${#regs[@]} -gt 0 ]; then
  echo "== replaying ${#regs[@]} regression input(s)"
  "$bin" "${opts[@]}" "${regs[@]}"
fi
seeds=("$dir/corpus/$what")
[ -d "$dir/regressions/$what" ] && seeds+=("$dir/regressions/$what")
echo "== fuzzing: $runs executions, at most $secs s"
exec "$bin" "${opts[@]}" -max_len=8192 -seed=1 "-runs=$runs" "-max_total_time=$secs" "$scratch/corpus" "${seeds[@]}"
