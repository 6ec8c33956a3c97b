#!/bin/sh
# Runs every fuzz target for SECONDS each on its seed corpus (built from ../shared by seeds.sh)
# in a scratch corpus directory; fails if any target finds a crash, leak or timeout.
# Usage: tests/fuzz/run.sh BIN_DIR SECONDS
bindir=$1; secs=${2:-30}
work=build/fuzz/run
mkdir -p "$work"
sh tests/fuzz/seeds.sh "$work/seeds" || exit 1
fail=""
for bin in "$bindir"/fuzz_*; do
  name=$(basename "$bin")
  corpus="$work/corpus-$name"
  mkdir -p "$corpus"
  seeds="$work/seeds/$name"
  [ -d "$seeds" ] || seeds=""
  dict=""
  [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
  echo "== $name (${secs}s)"
  if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -artifact_prefix="$work/$name-" $dict "$corpus" $seeds > "$work/$name.log" 2>&1; then
    fail="$fail $name"
    tail -30 "$work/$name.log"
  else
    grep -E "^#[0-9]+.*(DONE|pulse)" "$work/$name.log" | tail -1
  fi
done
[ -z "$fail" ] || { echo "fuzz-smoke FAILED:$fail"; exit 1; }
echo "fuzz-smoke: all targets clean"
