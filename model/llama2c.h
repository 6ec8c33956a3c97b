/* llama2.c checkpoints (Karpathy's "legacy" export) and their tokenizer.bin, and conversion of
 * the pair to a llama GGUF with a SentencePiece-style vocab.
 *
 * Checkpoint: 7 x i32 header {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
 * seq_len} (vocab_size < 0: the classifier is not shared with the embedding and is stored last),
 * then float32 tensors, row-major [out][in]:
 *   token_embedding [vocab][dim], rms_att [L][dim], wq [L][dim][dim], wk [L][kv_dim][dim],
 *   wv [L][kv_dim][dim], wo [L][dim][dim], rms_ffn [L][dim], w1 [L][hidden][dim],
 *   w2 [L][dim][hidden], w3 [L][hidden][dim], rms_final [dim], freq_cis_real/imag
 *   [seq_len][head_dim/2] each (unused), then wcls [vocab][dim] if not shared.
 * The file size must match the header exactly.  (The newer "ak42" exports are refused.)
 *
 * tokenizer.bin: i32 max_token_length, then per token: f32 score, i32 len, len bytes.
 *
 * The GGUF written is what llama.cpp's convert-llama2c-to-ggml writes: the same keys in the same
 * order and the weights as stored (no permutation: llama2.c already uses GGUF's interleaved
 * RoPE layout), output.weight always present (a copy of the embedding when shared).  Tokens 0, 1,
 * 2 become "<unk>" (unknown), "<s>", "</s>" (control); empty tokens are control, "<0xNN>" bytes,
 * the rest normal; spaces become U+2581.  Two deliberate differences: rope.dimension_count is the
 * head size (llama.cpp caps it at 64) and context_length is the checkpoint's seq_len unless the
 * caller sets it (llama.cpp writes a default of its own, not the checkpoint's). */
#ifndef CF_LLAMA2C_H
#define CF_LLAMA2C_H
#include <stddef.h>
#include <stdint.h>

#include "kernels/err.h"

/* Caps on header values (CF_ELIMIT). */
#define CF_L2C_MAX_DIM     65536
#define CF_L2C_MAX_HIDDEN  (1 << 20)
#define CF_L2C_MAX_LAYERS  4096
#define CF_L2C_MAX_HEADS   4096
#define CF_L2C_MAX_VOCAB   (1 << 24)
#define CF_L2C_MAX_SEQ     (1 << 24)
#define CF_L2C_MAX_TOKEN   65536     /* bytes in one token of tokenizer.bin */

typedef struct {
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    int shared;              /* 1: classifier = embedding */
    int head_dim, kv_dim;
    /* views into the map (float32, row-major [out][in]) */
    const float *tok_embd, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final, *wcls;
    const void *map;
    size_t size;
} cf_l2c_model;

typedef struct {
    int n;
    int max_token_length;
    char **text;             /* GGUF form (spaces as U+2581), NUL-terminated */
    float *score;
    int32_t *type;           /* 1 normal, 2 unknown, 3 control, 6 byte */
} cf_l2c_vocab;

/* Maps and validates a checkpoint. */
int cf_l2c_open(cf_l2c_model *m, const char *path, cf_err *err);
void cf_l2c_close(cf_l2c_model *m);

/* Reads n_vocab tokens from a tokenizer.bin (trailing bytes are an error). */
int cf_l2c_vocab_load(cf_l2c_vocab *v, const char *path, int n_vocab, cf_err *err);
void cf_l2c_vocab_free(cf_l2c_vocab *v);

typedef struct {
    int64_t ctx;             /* llama.context_length; 0: the checkpoint's seq_len */
    int type;                /* CF_T_F32 (default when 0) or CF_T_F16 for the 2-D weights */
} cf_l2c_opts;

/* Writes the GGUF (via PATH.tmp, see gguf_write.h). */
int cf_l2c_write_gguf(const cf_l2c_model *m, const cf_l2c_vocab *v, const cf_l2c_opts *o, const char *path,
                      cf_err *err);

#endif
