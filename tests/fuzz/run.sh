#!/bin/sh
# Runs fuzz targets for SECONDS each on their seed corpus (built from ../shared by seeds.sh) and
# their regression inputs (tests/fuzz/regress/<target>/, replayed first), in a scratch corpus
# directory that persists between runs; fails if any target finds a crash, leak or timeout.
# Prints, per target, the executions, coverage (edges) and features reached.
# Usage: tests/fuzz/run.sh BIN_DIR SECONDS [TARGET...]     (default: every fuzz_* in BIN_DIR)
# Environment: FUZZ_WORK (scratch dir, default BIN_DIR/../run), FUZZ_TIMEOUT (s per input, 10),
#              FUZZ_RSS_MB (2048), FUZZ_FLAGS (extra libFuzzer flags), SEEDS=0 (reuse seeds).
bindir=$1; secs=${2:-30}
[ -d "$bindir" ] || { echo "usage: $0 BIN_DIR SECONDS [TARGET...]" >&2; exit 2; }
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
work=${FUZZ_WORK:-$(dirname "$bindir")/run}
mkdir -p "$work"
if [ "${SEEDS:-1}" != 0 ] || [ ! -d "$work/seeds" ]; then
  sh tests/fuzz/seeds.sh "$work/seeds" || exit 1
fi
targets=$*
[ -n "$targets" ] || targets=$(cd "$bindir" && ls fuzz_* 2> /dev/null)
[ -n "$targets" ] || { echo "run.sh: no fuzz targets in $bindir" >&2; exit 1; }
fail=""
for name in $targets; do
  bin="$bindir/$name"
  [ -x "$bin" ] || { echo "run.sh: no target $bin" >&2; fail="$fail $name"; continue; }
  corpus="$work/corpus-$name"
  mkdir -p "$corpus"
  dirs=""
  [ -d "tests/fuzz/regress/$name" ] && dirs="tests/fuzz/regress/$name"
  [ -d "$work/seeds/$name" ] && dirs="$dirs $work/seeds/$name"
  dict=""
  [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
  echo "== $name (${secs}s)"
  # shellcheck disable=SC2086
  if ! "$bin" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/$name-" $dict ${FUZZ_FLAGS:-} \
       "$corpus" $dirs > "$work/$name.log" 2>&1; then
    fail="$fail $name"
    grep -E "ERROR|SUMMARY|Test unit written|==[0-9]+==" "$work/$name.log" | head -20
    tail -30 "$work/$name.log"
  else
    last=$(grep -E "^#[0-9]+" "$work/$name.log" | tail -1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
    echo "   $name: ${secs} s, ${runs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    echo "   last status: $last"
  fi
done
[ -z "$fail" ] || { echo "fuzz-smoke FAILED:$fail (logs and crashing inputs in $work)"; exit 1; }
echo "fuzz-smoke: all targets clean"
