#!/bin/sh
# Builds seed corpora for the fuzz targets from ../shared (never copied into the repo).
# Usage: tests/fuzz/seeds.sh OUT_DIR
out=$1
shared=${CINFER_SHARED:-../shared}
mkdir -p "$out"
# GGUF: small real files, and their first 64 KiB (header + metadata) for the big ones.
mkdir -p "$out/fuzz_gguf"
for f in "$shared"/models/*.gguf "$shared"/models/vocab/*.gguf; do
  [ -f "$f" ] || continue
  head -c 65536 "$f" > "$out/fuzz_gguf/$(basename "$f").head"
done
exit 0
