#!/bin/sh
# Builds seed corpora for the fuzz targets from ../shared (never copied into the repo), plus a few
# hand-written GBNF grammars.  One directory per target under OUT_DIR; rebuilt on every call
# (a few seconds).  JSON-derived seeds need jq; without it those targets get whole files only.
# Usage: tests/fuzz/seeds.sh OUT_DIR
out=$1
shared=${CINFER_SHARED:-../shared}
[ -n "$out" ] || { echo "usage: $0 OUT_DIR" >&2; exit 2; }
mkdir -p "$out"
mb="$shared/schemas/maskbench-dev"
sts="$shared/schemas/json-schema-test-suite-draft2020-12"
# Sampling keeps each target's seed pass well inside a 30 s smoke run under ASan.
MB_EVERY=${SEED_MB_EVERY:-8}        # every Nth MaskBench file (sorted by name)
SEED_MAX=${SEED_MAX:-65536}         # bytes per seed (run.sh passes the same -max_len)

fresh() { rm -rf "$out/$1"; mkdir -p "$out/$1"; }
# cap DIR N: keeps N evenly spaced files of DIR (sorted by name); SEED_CAP=0 keeps everything.
# The caps keep the first pass over the seeds short under ASan (a smoke run is 30 s per target).
cap() {
  [ "${SEED_CAP:-1}" = 0 ] && return
  total=$(ls "$1" | wc -l)
  [ "$total" -le "$2" ] && return
  ls "$1" | awk -v t="$total" -v n="$2" '{ k = int((NR - 1) * n / t); if (k == last) print; last = k } BEGIN { last = -1 }' |
    sed "s|^|$1/|" | xargs rm -f
}
mb_files() { [ -d "$mb" ] && ls "$mb" | awk -v e="$1" 'NR % e == 0' | sed "s|^|$mb/|"; }
sts_files() { [ -d "$sts" ] && find "$sts" -name '*.json' | sort; }
have_jq() { command -v jq > /dev/null 2>&1; }

# GGUF: small real files, and their first 64 KiB (header + metadata) for the big ones.
fresh fuzz_gguf
for f in "$shared"/models/*.gguf "$shared"/models/vocab/*.gguf; do
  [ -f "$f" ] || continue
  head -c 65536 "$f" > "$out/fuzz_gguf/$(basename "$f").head"
done

# Tokenizer: the vocab test texts, one file per text and vocab selector byte.
fresh fuzz_tokenizer
i=0
for f in "$shared"/models/vocab/*.inp; do
  [ -f "$f" ] || continue
  awk -v dir="$out/fuzz_tokenizer" -v base="$i" 'BEGIN{RS="\n__ggml_vocab_test__\n"} {printf "%c%s", (base+NR)%6 + 32, $0 > (dir "/t" base "_" NR); close(dir "/t" base "_" NR)}' "$f"
  i=$((i+1))
done

# JSON parser: whole test-suite files and sampled MaskBench files (schemas + documents).
fresh fuzz_json
for f in $(sts_files) $(mb_files "$MB_EVERY"); do
  [ "$(wc -c < "$f")" -le "$SEED_MAX" ] && cp "$f" "$out/fuzz_json/$(basename "$f")"
done

cap "$out/fuzz_json" 400

# Splits "A<TAB>B" lines (compact JSON never holds a raw tab or newline) into files
# PREFIX<n> = BYTE A NUL B (BYTE omitted when empty), skipping seeds over SEED_MAX.
split_pairs() {
  awk -F '\t' -v dir="$1" -v pre="$2" -v byte="$3" -v max="$SEED_MAX" '
    length($1) + length($2) + 2 <= max {
      f = dir "/" pre NR
      if (byte != "") printf "%c", byte + 0 > f
      printf "%s%c%s", $1, 0, $2 > f
      close(f)
    }'
}

if have_jq; then
  # Validator: schema NUL instance, every test of the suite, two documents per MaskBench schema.
  fresh fuzz_validate
  sts_files | xargs jq -r '.[] | (.schema | tojson) as $s | .tests[] | "\($s)\t\(.data | tojson)"' 2> /dev/null |
    split_pairs "$out/fuzz_validate" s ""
  mb_files "$MB_EVERY" | xargs jq -r '(.schema | tojson) as $s | .tests[:2][] | "\($s)\t\(.data | tojson)"' 2> /dev/null |
    split_pairs "$out/fuzz_validate" m ""

  cap "$out/fuzz_validate" 1000

  # Schema compiler: option byte, schema NUL instance; the first tests of each suite group and
  # one document per sampled MaskBench schema (compiling is the slow part: fewer seeds).
  fresh fuzz_schema
  sts_files | xargs jq -r '.[] | (.schema | tojson) as $s | .tests[:2][] | "\($s)\t\(.data | tojson)"' 2> /dev/null |
    split_pairs "$out/fuzz_schema" s 0
  mb_files $((MB_EVERY * 2)) | xargs jq -r '(.schema | tojson) as $s | .tests[:1][] | "\($s)\t\(.data | tojson)"' 2> /dev/null |
    split_pairs "$out/fuzz_schema" m 0

  cap "$out/fuzz_schema" 400

  # Regex: every distinct `pattern` / patternProperties key in the suite and the sampled MaskBench
  # files, in both option bytes, against a subject from a small fixed list.
  fresh fuzz_regex
  { sts_files; mb_files "$MB_EVERY"; } | xargs jq -r '.. | objects |
        ((.pattern | strings), (.patternProperties | objects | keys[]))' 2> /dev/null |
    awk '!seen[$0]++' | awk -v dir="$out/fuzz_regex" '
      BEGIN { n = split("2024-01-31|12:34:56|user@example.com|abc_123|Hello, World|x|\xc3\xa9t\xc3\xa9||aaaaaaaaaaaaaaaa|+1 (555) 010-9999", subj, "|") }
      { f = dir "/p" NR; printf "%c%s%c%s", NR % 2, $0, 0, subj[NR % n + 1] > f; close(f) }'
else
  fresh fuzz_validate; fresh fuzz_schema; fresh fuzz_regex
  echo "seeds.sh: jq not found: fuzz_validate / fuzz_schema / fuzz_regex start from an empty corpus" >&2
fi

# GBNF: hand-written grammars in the llama.cpp dialect, each followed by NUL and a sample input.
fresh fuzz_gbnf
g=0
gbnf() {   # gbnf SAMPLE < grammar
  g=$((g+1))
  { cat; printf '\0%s' "$1"; } > "$out/fuzz_gbnf/g$g"
}
gbnf '{"a": [1, 2.5e3, "x\u00e9"], "b": null}' << 'EOF'
root   ::= ws value ws
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ( ws "," ws string ws ":" ws value )* )? ws "}"
array  ::= "[" ws ( value ( ws "," ws value )* )? ws "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n]{0,8}
EOF
gbnf '(1+2)*3-4/5' << 'EOF'
root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= [0-9]+ | "(" expr ")"
EOF
gbnf 'apple, banana, cherry' << 'EOF'
# a comma-separated list of lowercase words
root ::= item ("," " "? item){0,9}
item ::= [a-z]{1,12}
EOF
gbnf '2024-02-29T23:59:60Z' << 'EOF'
root ::= date "T" time
date ::= [0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" [0-3] [0-9]
time ::= [0-2] [0-9] ":" [0-5] [0-9] ":" [0-6] [0-9] ( "." [0-9]+ )? ( "Z" | [+-] [0-9]{2} ":" [0-9]{2} )
EOF
gbnf 'yes' << 'EOF'
root ::= answer
answer ::= "yes" | "no" | "maybe" |
  "\x41\u00e9\U0001F600"
EOF
gbnf '<b>x</b>' << 'EOF'
root ::= el+
el ::= "<" tag ">" ( el | [^<>]* ) "</" tag ">"
tag ::= "b" | "i" | "em"
EOF
gbnf 'a' << 'EOF'
root ::= . [^\n]? ("x"? "y"*)+ | "a"
EOF

# Constraint walker: byte 0 schema, byte 1 vocabulary, then choice pairs (see fuzz_constraint.c):
# "first allowed token" walks, "some allowed token" walks, and EOS attempts.
fresh fuzz_constraint
s=0
while [ $s -lt 34 ]; do
  for v in 0 1; do
    awk -v s=$s -v v=$v -v dir="$out/fuzz_constraint" 'BEGIN {
      f = dir "/c" s "_" v; printf "%c%c", s, v > f
      for (i = 0; i < 120; i++) printf "%c%c", (i * 37 + s) % 192, (i * 11) % 256 > f
      printf "%c%c", 255, 255 > f; close(f)
      f = dir "/z" s "_" v; printf "%c%c", s, v > f
      for (i = 0; i < 120; i++) printf "%c%c", (i % 5 == 4) ? 255 : 0, 0 > f
      close(f) }'
  done
  s=$((s+1))
done
exit 0
