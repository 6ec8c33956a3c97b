/* Tokenizers loaded from GGUF metadata (tokenizer.ggml.*), with llama.cpp's behaviour:
 *   - "llama": SentencePiece-style.  Scores drive the merging of adjacent symbol pairs; pieces
 *     that form no token fall back to <0xNN> byte tokens; a space U+2581 is prefixed to the text
 *     (tokenizer.ggml.add_space_prefix, default on) and every ' ' becomes U+2581.
 *   - "gpt2": byte-level BPE.  Merge ranks from tokenizer.ggml.merges, bytes mapped to printable
 *     code points (GPT-2's byte-to-unicode table), text split first by the pre-tokenizer named in
 *     tokenizer.ggml.pre (see model/pretok.h for the names handled).
 * Encoding reproduces llama.cpp's llama_tokenize(add_special, parse_special) id for id, including
 * its treatment of user-defined tokens (type 4: always split out of the text first, longest first).
 *
 * Token types (tokenizer.ggml.token_type): 1 normal, 2 unknown, 3 control, 4 user-defined,
 * 5 unused, 6 byte; missing array = all normal.  "Control" below (cf_tok_is_control) means a
 * token that is not text: types 0, 2, 3, 5, other values, and type 6 in a BPE vocabulary.
 *
 * Caps: vocabulary <= CF_TOK_MAX_VOCAB tokens, each token text <= CF_TOK_MAX_TOKEN bytes, merges
 * <= 4 * CF_TOK_MAX_VOCAB (CF_ELIMIT beyond), text per encode call <= CF_TOK_MAX_TEXT bytes
 * (CF_ELIMIT).  Costs: load O(vocab + merges) (under 0.15 s for 100K tokens); encode
 * O(n log n) with merge priority queues, 10-25 MB/s on ordinary text.  Any byte string
 * encodes without crash or hang: invalid UTF-8 is handled as llama.cpp does (SPM: raw bytes,
 * byte fallback; BPE: each invalid byte becomes U+FFFD; a BPE vocabulary lacking the token of a
 * byte drops that byte, e.g. falcon, starcoder).  One deviation: llama.cpp throws on a 4-byte
 * form decoding above U+10FFFF; here its lead byte becomes U+FFFD.
 *
 * Decoding is the inverse of encoding for text (no clean_up_tokenization_spaces pass), with the
 * SPM leading-space rule described at cf_tok_decode.
 *
 * Thread safety: a loaded tokenizer is read-only; encode/decode may run concurrently. */
#ifndef CF_TOKENIZER_H
#define CF_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"
#include "model/gguf.h"

#define CF_TOK_MAX_VOCAB (1 << 24)      /* tokens */
#define CF_TOK_MAX_TOKEN (1 << 16)      /* bytes in one token's text */
#define CF_TOK_MAX_TEXT  (1u << 28)     /* bytes of text per cf_tok_encode call (256 MiB) */

enum { CF_TOK_SPM = 1, CF_TOK_BPE = 2 };

/* token types as stored in tokenizer.ggml.token_type */
enum {
    CF_TOKT_UNDEFINED = 0, CF_TOKT_NORMAL = 1, CF_TOKT_UNKNOWN = 2, CF_TOKT_CONTROL = 3,
    CF_TOKT_USER = 4, CF_TOKT_UNUSED = 5, CF_TOKT_BYTE = 6
};

typedef struct cf_tokenizer cf_tokenizer;

/* Loads the tokenizer from g's metadata: tokenizer.ggml.model, .tokens, .scores (SPM),
 * .token_type, .merges (BPE), .pre, .bos_token_id / .eos_token_id / .unknown_token_id /
 * .padding_token_id, .add_bos_token / .add_eos_token, .add_space_prefix.  Everything is copied:
 * g may be closed afterwards.  Errors name the key (and element index) at fault. */
int  cf_tok_load(cf_tokenizer **out, const cf_gguf *g, cf_err *err);
void cf_tok_free(cf_tokenizer *t);

int  cf_tok_type(const cf_tokenizer *t);                 /* CF_TOK_SPM or CF_TOK_BPE */
const char *cf_tok_pre_name(const cf_tokenizer *t);     /* pre-tokenizer in use ("" for SPM) */
int  cf_tok_n_vocab(const cf_tokenizer *t);
int32_t cf_tok_bos(const cf_tokenizer *t);              /* -1 if none */
int32_t cf_tok_eos(const cf_tokenizer *t);              /* -1 if none */
int32_t cf_tok_unk(const cf_tokenizer *t);              /* -1 if none */
int32_t cf_tok_pad(const cf_tokenizer *t);              /* -1 if none */
int  cf_tok_add_bos(const cf_tokenizer *t);              /* 1: encode prepends BOS by default */
int  cf_tok_add_eos(const cf_tokenizer *t);              /* 1: encode appends EOS by default */
int  cf_tok_add_space_prefix(const cf_tokenizer *t);     /* SPM leading-space rule in effect */

/* 1 if id is not text (control / unknown / unused ...), 0 otherwise or if id is out of range. */
int  cf_tok_is_control(const cf_tokenizer *t, int32_t id);
/* 1 if id ends generation: EOS, plus tokens whose text is one of llama.cpp's end-of-generation
 * markers (<|endoftext|>, <|im_end|>, <|eot_id|>, <|end|>, <end_of_turn>, <|eom_id|>, <EOT>). */
int  cf_tok_is_eog(const cf_tokenizer *t, int32_t id);
int  cf_tok_token_type(const cf_tokenizer *t, int32_t id);   /* CF_TOKT_*, -1 if out of range */
float cf_tok_score(const cf_tokenizer *t, int32_t id);        /* 0 if none / out of range */

/* The exact bytes a token contributes to the output text: SPM normal tokens with U+2581 -> ' ',
 * <0xNN> byte tokens -> that byte; BPE normal tokens mapped back through byte-to-unicode (code
 * points outside that table are kept as their UTF-8); user-defined tokens -> their text as is;
 * control tokens -> length 0.  Precomputed, O(1); id out of range -> NULL with *len = 0.
 * The bytes need not be valid UTF-8 (byte tokens, partial BPE pieces). */
const uint8_t *cf_tok_bytes(const cf_tokenizer *t, int32_t id, size_t *len);
size_t cf_tok_max_bytes(const cf_tokenizer *t);    /* max over the vocabulary of cf_tok_bytes len */
/* The token's text as stored in the vocabulary (U+2581 / byte-level form); NULL if out of range. */
const char *cf_tok_text(const cf_tokenizer *t, int32_t id, size_t *len);
/* Id of the token whose stored text is exactly s[0..n), or -1. */
int32_t cf_tok_find(const cf_tokenizer *t, const char *s, size_t n);

/* Encode flags (OR-able) for cf_tok_encode_ex. */
enum {
    CF_TOK_PARSE_SPECIAL = 1,   /* also split control/unknown token texts out of the text */
};

/* Encodes text[0..len) (any bytes).  add_bos: 1/0, or -1 = per metadata (EOS is appended when
 * tokenizer.ggml.add_eos_token says so and add_bos != 0).  Writes at most cap ids to out (out may
 * be NULL when cap == 0) and returns the number of ids (may exceed cap: call again with a bigger
 * buffer), or -1 with err (only CF_ELIMIT for an over-long text, CF_ENOMEM, CF_EINVAL for a NULL
 * text with len > 0 or cap < 0).  No special-token parsing unless asked (cf_tok_encode_ex). */
int cf_tok_encode(const cf_tokenizer *t, const char *text, size_t len, int add_bos, int32_t *out, int cap,
                  cf_err *err);
int cf_tok_encode_ex(const cf_tokenizer *t, const char *text, size_t len, int add_bos, int flags, int32_t *out,
                     int cap, cf_err *err);

/* Whole decode: the concatenated cf_tok_bytes of ids, with the SPM leading-space rule (the first
 * text token's leading ' ' is dropped when the space prefix is in effect; control tokens before
 * it, e.g. BOS, are skipped and do not cancel the rule).  Raw bytes, not validated.  Writes at
 * most cap bytes plus a NUL when cap > 0; returns the full length, or -1 with err if an id is out
 * of range (CF_EINVAL naming its index). */
long cf_tok_decode(const cf_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap, cf_err *err);

/* Incremental, streaming-safe decode.  Emits only complete, valid UTF-8: a sequence split across
 * tokens is held back until complete; bytes that cannot become valid UTF-8 are replaced by U+FFFD
 * (EF BF BD), one per byte (a truncated multi-byte sequence counts as one).  For token streams
 * whose whole decode is valid UTF-8, the concatenated output equals cf_tok_decode.  Ids out of
 * range and control tokens emit nothing.  `out` needs room for cf_detok_max_out(t) bytes per push
 * and per flush; with less, output beyond cap is dropped (never overflowed). */
typedef struct {
    const cf_tokenizer *tok;
    uint8_t pend[4];    /* bytes of an incomplete UTF-8 sequence */
    int npend;
    int strip;          /* 1: the next text token loses one leading ' ' (SPM space prefix) */
} cf_detok;
void   cf_detok_init(cf_detok *d, const cf_tokenizer *t);   /* at the start of a text */
void   cf_detok_init_mid(cf_detok *d, const cf_tokenizer *t); /* continuing a text: no space strip */
size_t cf_detok_push(cf_detok *d, int32_t id, char *out, size_t cap);   /* returns bytes written */
size_t cf_detok_flush(cf_detok *d, char *out, size_t cap);              /* emits held bytes (as U+FFFD) */
size_t cf_detok_max_out(const cf_tokenizer *t);

#ifdef CF_TOK_INTERNAL
/* ---- internal: shared by tokenizer.c, tok_spm.c, tok_bpe.c (not API) ---- */
typedef struct {
    int32_t *v;
    size_t n, cap;
} cf_ivec;
int cf_ivec_push(cf_ivec *a, int32_t x);

/* token attribute bits */
enum { CF_TA_CONTROL = 1, CF_TA_EOG = 2, CF_TA_RSTRIP = 4, CF_TA_LSTRIP = 8 };

struct cf_tokenizer {
    int type;                 /* CF_TOK_SPM / CF_TOK_BPE */
    int pre;                  /* cf_pre_type (BPE) */
    int n_vocab;
    char *pool;               /* all token texts, each NUL-terminated */
    uint64_t *off;            /* [n_vocab] offset of token i's text in pool */
    uint32_t *len;            /* [n_vocab] its length */
    float *score;             /* [n_vocab] */
    uint8_t *ttype;           /* [n_vocab] CF_TOKT_* (unknown values stored as 0) */
    uint8_t *attr;            /* [n_vocab] CF_TA_* */
    uint8_t *bpool;           /* output bytes of every token */
    uint64_t *boff;           /* [n_vocab] */
    uint32_t *blen;           /* [n_vocab] */
    size_t max_bytes;
    uint32_t *hslot;          /* text -> id hash: id + 1, 0 = empty */
    uint64_t hmask;
    /* BPE merges: (left, right) -> rank */
    char *mpool;              /* merge strings "left right" copied */
    uint64_t *moff;           /* [n_merges] */
    uint32_t *mleft, *mright; /* lengths of the two halves */
    int64_t n_merges;
    uint32_t *mslot;          /* rank + 1, 0 = empty */
    uint64_t mmask;
    /* the same merges keyed by token ids, for pairs whose halves are both tokens */
    int32_t *pair_l, *pair_r; /* [n_merges] ids of the halves (-1: not a token) */
    int32_t *pair_m;          /* [n_merges] id of the merged text (-1: not a token) */
    uint32_t *pslot;          /* rank + 1, 0 = empty */
    uint64_t pmask;
    int32_t bos, eos, unk, pad;
    int add_bos, add_eos, add_space_prefix, ignore_merges;
    int32_t spm_byte[256];    /* SPM: <0xNN> token (or the byte as text), -1 if none */
    int spm_word_split;       /* SPM: no token has U+2581 after a non-U+2581 character, so merges
                                 never cross the start of a "▁word": words merge independently */
    int32_t bpe_byte[256];    /* BPE: token whose text is the single byte, -1 if none */
    int32_t *special;         /* ids split out of text before tokenizing, longest text first */
    int n_special;
    char pre_name[32];
};

uint64_t cf_tok_hash(const void *p, size_t n, uint64_t seed);
int32_t cf_tok_lookup(const cf_tokenizer *t, const char *s, size_t n);
int cf_tok_bpe_rank(const cf_tokenizer *t, const char *a, size_t na, const char *b, size_t nb);
/* Same as cf_tok_bpe_rank for two tokens (ids a, b); *merged = id of their concatenation or -1. */
int cf_tok_bpe_rank_ids(const cf_tokenizer *t, int32_t a, int32_t b, int32_t *merged);
/* Tokenizes one raw-text fragment (no special tokens inside), appending ids to out. */
int cf_spm_encode_fragment(const cf_tokenizer *t, const char *s, size_t n, int space_prefix, cf_ivec *out,
                           cf_err *err);
int cf_bpe_encode_fragment(const cf_tokenizer *t, const char *s, size_t n, cf_ivec *out, cf_err *err);
#endif

#endif
