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
# Tokenizer: the vocab test texts, one file per text and vocab selector byte.
mkdir -p "$out/fuzz_tokenizer"
i=0
for f in "$shared"/models/vocab/*.inp; do
  [ -f "$f" ] || continue
  awk -v dir="$out/fuzz_tokenizer" -v base="$i" 'BEGIN{RS="\n__ggml_vocab_test__\n"} {printf "%c%s", (base+NR)%6 + 32, $0 > (dir "/t" base "_" NR); close(dir "/t" base "_" NR)}' "$f"
  i=$((i+1))
done
exit 0
