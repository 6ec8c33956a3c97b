#!/bin/sh
# Runs the CLI under valgrind memcheck: the main job (README), a schema-constrained run with
# sampling, and a GBNF-constrained run with --parallel (the batching engine), each with
# --error-exitcode=1 and definite leaks counted as errors.  Fails on the first error.
# valgrind does not emulate AVX-512: cinfer's CPU detection sees AVX2 and runs those kernels.
# tests/valgrind.supp holds suppressions for libgomp's thread pool (its threads and their TLS
# outlive main by design: "possibly lost" blocks in gomp_thread_start / pthread_create); it is
# passed even when nothing matches.  Takes about a minute (2 cores).
# Usage: tests/valgrind.sh [BUILD_DIR]   (default build; builds BUILD_DIR/cinfer if missing)
build=${1:-build}
shared=${CINFER_SHARED:-../shared}
model="$shared/models/stories260K.gguf"
command -v valgrind > /dev/null 2>&1 || { echo "valgrind.sh: valgrind not installed (apt-get install valgrind)" >&2; exit 2; }
[ -f "$model" ] || { echo "valgrind.sh: $model not found" >&2; exit 2; }
[ -x "$build/cinfer" ] || make BUILD="$build" "$build/cinfer" > /dev/null || exit 1
tmp=${TMPDIR:-/tmp}/cinfer-valgrind.$$
mkdir -p "$tmp" && trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/schema.json" << 'JSON'
{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer","minimum":0,"maximum":120},
 "tags":{"type":"array","items":{"type":"string","pattern":"^[a-z]{1,8}$"},"maxItems":3}},"required":["name","age"],
 "additionalProperties":false}
JSON
printf 'root ::= "The " [a-z]+ (" " [a-z]+){0,6} "."\n' > "$tmp/g.gbnf"
vg() {
  echo "== valgrind $*"
  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --suppressions=tests/valgrind.supp "$build/cinfer" "$@" > "$tmp/out" 2> "$tmp/err"
  rc=$?
  grep -E "^==[0-9]+==" "$tmp/err" | head -40
  [ $rc = 0 ] || { echo "valgrind.sh: FAILED (exit $rc): cinfer $*"; tail -20 "$tmp/err"; exit 1; }
}
vg run -m "$model" -p "Once upon a time" -n 32 -t 2
vg run -m "$model" -p "Once upon a time" -n 48 -t 2 --temp 0.8 --top-k 40 --seed 7 --max-ws 0 --json-schema "$tmp/schema.json"
vg run -m "$model" -p "Once upon a time" -n 24 -t 3 --temp 0.9 --parallel 3 --grammar "$tmp/g.gbnf"
echo "valgrind.sh: clean (3 runs)"
