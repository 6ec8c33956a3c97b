#!/bin/sh
# Engine measurements (run from the repo root after `make`):
#   (a) per-token generation time with --json-schema vs without, same run length (-n 128, both end
#       by "length"), REPS alternating runs each; prints ms/token and the sampling time of each run;
#   (c) `cinfer batch` over 200 prompts with a schema, --parallel 8 vs --parallel 1: wall time,
#       finish reasons, how many validate, and whether both runs produced the same outputs.
# usage: bench/engine_bench.sh MODEL.gguf [THREADS=1] [REPS=5] [BIN=build/cinfer]
# e.g. build/cinfer synth ../shared/models/vocab/ggml-vocab-llama-spm.gguf /tmp/s135-f16.gguf --arch llama \
#        --dim 576 --layers 30 --heads 9 --kv-heads 3 --ffn 1536 -t 2
#      build/cinfer quantize /tmp/s135-f16.gguf /tmp/s135-q4_0.gguf q4_0
#      bench/engine_bench.sh /tmp/s135-q4_0.gguf 1 5
set -e
M=$1; T=${2:-1}; R=${3:-5}; B=${4:-build/cinfer}
D=$(mktemp -d /tmp/engine_bench.XXXXXX)
cat > $D/long.json <<'J'
{"type":"object","properties":{"title":{"type":"string","maxLength":40},"body":{"type":"string","minLength":600,"maxLength":2000},"n":{"type":"integer"}},"required":["title","body","n"],"additionalProperties":false}
J
echo "== (a) $B run -m $M -p 'Write a story about a cat' -n 128 -t $T [--json-schema $D/long.json --max-ws 0]"
for i in $(seq 1 $R); do
  for mode in plain schema; do
    S=""; [ $mode = schema ] && S="--json-schema $D/long.json --max-ws 0"
    $B run -m $M -p "Write a story about a cat" -n 128 -t $T $S 2>$D/err >/dev/null
    echo "$mode: $(grep -E '^generation' $D/err | sed 's/.*tokens\/s, //') | $(grep -E '^sampling' $D/err)"
  done
done
echo "== (c) $B batch -m $M --in $D/p.jsonl --out $D/rP.jsonl --json-schema tests/data/engine/item.json --max-ws 0 --parallel P -n 96 --temp 0.7 --seed 1 -t $T"
awk 'BEGIN { split("red small ancient shiny broken heavy quiet fast wooden golden", a, " ");
             split("box lamp ship book key chair clock bottle coin sword", n, " "); srand(7);
             for (i = 0; i < 200; i++) { w = ""; k = 1 + int(rand() * 12);
               for (j = 0; j < k; j++) w = w " " a[1 + int(rand() * 10)] " " n[1 + int(rand() * 10)];
               printf "{\"id\":\"p%03d\",\"prompt\":\"Describe as JSON the inventory entry for:%s.\"}\n", i, w } }' > $D/p.jsonl
for P in 8 1; do
  t0=$(date +%s.%N)
  $B batch -m $M --in $D/p.jsonl --out $D/r$P.jsonl --json-schema tests/data/engine/item.json --max-ws 0 \
     --parallel $P -n 96 --temp 0.7 --seed 1 -t $T 2>$D/err$P
  t1=$(date +%s.%N)
  echo "parallel $P: wall $(echo "$t1 - $t0" | bc) s; $(grep -E '^batch: [0-9]+ results' $D/err$P)"
done
echo "outputs identical between --parallel 8 and 1: $(sort $D/r8.jsonl | cmp -s - $(sort $D/r1.jsonl > $D/s1; echo $D/s1) && echo yes || echo no)"
rm -rf $D
