/* Pre-tokenizers for byte-level BPE: split a code point sequence into pieces ("words") that BPE
 * merges never cross.  Each pre-tokenizer is the sequence of regex passes llama.cpp applies for a
 * tokenizer.ggml.pre name (every pass re-splits each piece of the previous one; the text between
 * matches is kept as pieces too), implemented as hand-written scanners over code points with the
 * Unicode tables of model/unicode.h -- no regex engine.  Semantics follow llama.cpp exactly,
 * including its quirks: in passes written with \p{..} classes, ASCII characters are classified
 * by the fixed ASCII sets (so '~' is neither \p{P} nor \p{S}); non-ASCII White_Space code points
 * count only as \s; and "\s" is ASCII [\t\n\v\f\r ] plus non-ASCII White_Space.
 *
 * Names handled (tokenizer.ggml.pre):
 *   default (also: key missing)                        CF_PRE_DEFAULT
 *   gpt-2 phi-2 mpt olmo jais roberta-bpe jina-* gigachat ...   CF_PRE_GPT2
 *   llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral ...      CF_PRE_LLAMA3 (ignore_merges, add BOS)
 *   dbrx smaug-bpe chatglm-bpe                          CF_PRE_LLAMA3 regex, merges used
 *   qwen2 qwen2.5 deepseek-r1-qwen stablelm2 megrez hunyuan      CF_PRE_QWEN2
 *   starcoder refact command-r smollm codeshell exaone minerva-7b  CF_PRE_STARCODER
 *   deepseek-llm                                        CF_PRE_DEEPSEEK_LLM
 *   deepseek-coder                                      CF_PRE_DEEPSEEK_CODER
 *   falcon                                              CF_PRE_FALCON
 *   poro-chat bloom gpt3-finnish                        CF_PRE_PORO
 *   viking                                              CF_PRE_VIKING */
#ifndef CF_PRETOK_H
#define CF_PRETOK_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CF_PRE_DEFAULT = 0,
    CF_PRE_GPT2,
    CF_PRE_LLAMA3,
    CF_PRE_QWEN2,
    CF_PRE_STARCODER,
    CF_PRE_DEEPSEEK_LLM,
    CF_PRE_DEEPSEEK_CODER,
    CF_PRE_FALCON,
    CF_PRE_PORO,
    CF_PRE_VIKING,
    CF_PRE_COUNT
} cf_pre_type;

/* Per-name settings besides the split itself (llama.cpp's vocab flags for that name). */
typedef struct {
    cf_pre_type type;
    int ignore_merges;   /* a piece that is already a token is emitted whole */
    int add_bos;         /* default for add_bos_token when the key is absent */
    int clean_spaces;    /* llama.cpp's clean_up_tokenization_spaces (informational) */
    int no_bos;          /* the name disables BOS (chatglm-bpe) */
} cf_pre_info;

/* Looks up a tokenizer.ggml.pre name (n bytes); 0 = found, -1 = unknown name. */
int cf_pre_lookup(const char *name, size_t n, cf_pre_info *out);
const char *cf_pre_type_name(cf_pre_type t);

/* Splits cps[0..n) into pieces: writes piece lengths (code points, each >= 1, summing to n) to
 * *lens (a malloc'ed array grown as needed; *cap its capacity) and returns their count, or -1 on
 * allocation failure.  Linear time in n. */
long cf_pretok_split(cf_pre_type type, const uint32_t *cps, size_t n, uint32_t **lens, size_t *cap);

#endif
