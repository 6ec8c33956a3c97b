#!/bin/sh
# Runs every Check suite binary given on the command line from the repo root and summarises.
# Usage: tests/run_all.sh BUILD_DIR BIN...   (CK_RUN_SUITE / CK_RUN_CASE narrow a run, as Check documents)
build=$1; shift
fail=""
for t in "$@"; do
  echo "== $t"
  if ! "$t"; then fail="$fail $(basename "$t")"; fi
done
if [ -n "$fail" ]; then
  echo "FAILED suites:$fail"
  exit 1
fi
echo "all $# suites passed"
