/* Pre-tokenizer passes as hand-written scanners (see pretok.h).  Each pass is a matcher: given a
 * position inside a piece it returns the length of the regex match starting there (0 = none);
 * the driver scans left to right like a regex iterator, keeping the unmatched stretches between
 * matches as pieces of their own.  None of the patterns can match the empty string. */
#include "model/pretok.h"

#include <stdlib.h>
#include <string.h>

#include "model/unicode.h"

/* ---------------------------------------------------------------- names */

static const struct {
    const char *name;
    cf_pre_info info;
} k_names[] = {
    {"default", {CF_PRE_DEFAULT, 0, 0, 1, 0}},
    {"gpt-2", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"phi-2", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"mpt", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"olmo", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jais", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"trillion", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-es", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-de", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-v1-en", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-v2-es", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-v2-de", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"jina-v2-code", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"roberta-bpe", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"gigachat", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"a.x-4.0", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"mellum", {CF_PRE_GPT2, 0, 0, 1, 0}},
    {"llama3", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"llama-v3", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"llama-bpe", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"falcon3", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"falcon-h1", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"pixtral", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"midm-2.0", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"lfm2", {CF_PRE_LLAMA3, 1, 1, 1, 0}},
    {"dbrx", {CF_PRE_LLAMA3, 0, 0, 1, 0}},
    {"smaug-bpe", {CF_PRE_LLAMA3, 0, 0, 1, 0}},
    {"chatglm-bpe", {CF_PRE_LLAMA3, 0, 0, 1, 1}},
    {"qwen2", {CF_PRE_QWEN2, 0, 0, 0, 0}},
    {"qwen2.5", {CF_PRE_QWEN2, 0, 0, 0, 0}},
    {"deepseek-r1-qwen", {CF_PRE_QWEN2, 0, 0, 0, 0}},
    {"stablelm2", {CF_PRE_QWEN2, 0, 0, 1, 0}},
    {"megrez", {CF_PRE_QWEN2, 0, 0, 1, 0}},
    {"hunyuan", {CF_PRE_QWEN2, 0, 0, 1, 0}},
    {"starcoder", {CF_PRE_STARCODER, 0, 0, 1, 0}},
    {"refact", {CF_PRE_STARCODER, 0, 0, 1, 0}},
    {"command-r", {CF_PRE_STARCODER, 0, 0, 0, 0}},
    {"smollm", {CF_PRE_STARCODER, 0, 0, 0, 0}},
    {"codeshell", {CF_PRE_STARCODER, 0, 0, 1, 0}},
    {"exaone", {CF_PRE_STARCODER, 0, 0, 1, 0}},
    {"minerva-7b", {CF_PRE_STARCODER, 0, 0, 1, 0}},
    {"deepseek-llm", {CF_PRE_DEEPSEEK_LLM, 0, 0, 0, 0}},
    {"deepseek-coder", {CF_PRE_DEEPSEEK_CODER, 0, 0, 0, 0}},
    {"falcon", {CF_PRE_FALCON, 0, 0, 1, 0}},
    {"poro-chat", {CF_PRE_PORO, 0, 0, 0, 0}},
    {"bloom", {CF_PRE_PORO, 0, 0, 1, 0}},
    {"gpt3-finnish", {CF_PRE_PORO, 0, 0, 1, 0}},
    {"viking", {CF_PRE_VIKING, 0, 0, 0, 0}},
};

int cf_pre_lookup(const char *name, size_t n, cf_pre_info *out) {
    for (size_t i = 0; i < sizeof k_names / sizeof k_names[0]; i++)
        if (strlen(k_names[i].name) == n && !memcmp(k_names[i].name, name, n)) {
            *out = k_names[i].info;
            return 0;
        }
    return -1;
}

const char *cf_pre_type_name(cf_pre_type t) {
    static const char *const k[CF_PRE_COUNT] = {"default",        "gpt2",   "llama3", "qwen2", "starcoder",
                                                "deepseek-llm",   "deepseek-coder", "falcon", "poro", "viking"};
    return (unsigned)t < CF_PRE_COUNT ? k[t] : "?";
}

/* ---------------------------------------------------------------- classes */

static inline int ws(uint32_t c) { return cf_uni_is_whitespace(c); }
static inline int is_l(uint32_t c) { return cf_uni_is_letter(c); }
static inline int is_n(uint32_t c) { return cf_uni_is_number(c); }
static inline int is_lnw(uint32_t c) {
    uint8_t r = cf_uni_raw(c);
    cf_ucat k = (cf_ucat)(r & 0x7f);
    return (r & 0x80) || (k >= CF_UC_Lu && k <= CF_UC_Lo) || (k >= CF_UC_Nd && k <= CF_UC_No);
}
/* passes written without \p{..} see non-ASCII White_Space as U+000B */
static inline uint32_t wmap(uint32_t c) { return (c > 0x7F && ws(c)) ? 0x0B : c; }

static int in_ranges(uint32_t c, const uint32_t (*r)[2], int n) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < r[mid][0]) hi = mid - 1;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

/* [\p{P}\$\+<=>\^~\|] (default) and [\p{P}\$\+<=>\^~\|`] (falcon) */
static int punct_default(uint32_t c) { return cf_uni_is_punct(c) || (c < 128 && strchr("$+<=>^~|", (int)c) && c); }
static int punct_falcon(uint32_t c) { return cf_uni_is_punct(c) || (c < 128 && strchr("$+<=>^~|`", (int)c) && c); }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

/* deepseek-llm letters: the explicit ranges of its tokenizer.json (sorted here) */
static const uint32_t k_dsl_letters[][2] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},       {0xD8, 0xF6},
    {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},     {0x295, 0x2AF},     {0x370, 0x373},
    {0x376, 0x377},     {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
    {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
    {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
static int dsl_letter(uint32_t c) {
    return in_ranges(wmap(c), k_dsl_letters, (int)(sizeof k_dsl_letters / sizeof k_dsl_letters[0]));
}
/* [!-/:-~！-／：-～‘-‟　-。] */
static int dsl_punct(uint32_t c) {
    c = wmap(c);
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}
/* [一-龥ࠀ-一가-퟿] */
static int cjk(uint32_t c) {
    c = wmap(c);
    return (c >= 0x800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF);
}
/* [^(\s|.,!?…。，、।۔،)] */
static int poro_word(uint32_t c) {
    c = wmap(c);
    if (ws(c)) return 0;
    switch (c) {
    case '(': case '|': case ')': case '.': case ',': case '!': case '?':
    case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return 0;
    default:
        return 1;
    }
}

/* ---------------------------------------------------------------- matchers */

typedef int (*cls_fn)(uint32_t);
typedef struct pass pass;
typedef size_t (*match_fn)(const pass *ps, const uint32_t *c, size_t pos, size_t end);
struct pass {
    match_fn match;
    cls_fn cls;
    int arg;
};

/* cls+ */
static size_t m_run(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    size_t p = pos;
    while (p < end && ps->cls(c[p])) p++;
    return p - pos;
}
/* cls */
static size_t m_one(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    (void)end;
    return ps->cls(c[pos]) ? 1 : 0;
}
/* \s?cls+ */
static size_t m_ws_run(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    size_t p = pos;
    if (ws(c[p]) && p + 1 < end && ps->cls(c[p + 1])) p++;
    size_t q = p;
    while (q < end && ps->cls(c[q])) q++;
    return q > p ? q - pos : 0;
}
/* " ?cls+" */
static size_t m_sp_run(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    size_t p = pos;
    if (c[p] == ' ' && p + 1 < end && ps->cls(c[p + 1])) p++;
    size_t q = p;
    while (q < end && ps->cls(c[q])) q++;
    return q > p ? q - pos : 0;
}
/* [0-9][0-9][0-9] */
static size_t m_digit3(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    (void)ps;
    if (pos + 3 > end) return 0;
    for (int i = 0; i < 3; i++)
        if (c[pos + i] < '0' || c[pos + i] > '9') return 0;
    return 3;
}
/* \s+$ : handled in run_pass (needs a look at the whole rest of the piece) */
static size_t m_trail_ws(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    (void)ps;
    (void)c;
    (void)pos;
    (void)end;
    return 0;
}

/* 's|'t|'re|'ve|'m|'ll|'d (case-insensitive when ci) */
static size_t contraction(const uint32_t *c, size_t pos, size_t end, int ci) {
    if (c[pos] != '\'' || pos + 1 >= end) return 0;
    uint32_t a = c[pos + 1];
    if (ci && a >= 'A' && a <= 'Z') a += 32;
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if (pos + 2 >= end) return 0;
    uint32_t b = c[pos + 2];
    if (ci && b >= 'A' && b <= 'Z') b += 32;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
static size_t m_gpt2(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    (void)ps;
    size_t k = contraction(c, pos, end, 0);
    if (k) return k;
    size_t p = pos + (c[pos] == ' ');
    if (p < end) {
        uint32_t x = c[p];
        if (is_l(x)) {
            while (p < end && is_l(c[p])) p++;
            return p - pos;
        }
        if (is_n(x)) {
            while (p < end && is_n(c[p])) p++;
            return p - pos;
        }
        if (!is_lnw(x)) {
            while (p < end && !is_lnw(c[p])) p++;
            return p - pos;
        }
    }
    size_t w = 0;
    while (pos + w < end && ws(c[pos + w])) w++;
    if (w > 1 && pos + w < end) return w - 1; /* \s+(?!\S): leave the last space to the next word */
    return w; /* all of it (at the end), or one space before a non-space: unmatched in the regex, a
                 1-character gap either way since every non-space starts a match */
}

/* (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}|
 *  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+        (llama3: D = 3, qwen2: D = 1) */
static size_t m_llama3(const pass *ps, const uint32_t *c, size_t pos, size_t end) {
    size_t k = contraction(c, pos, end, 1);
    if (k) return k;
    uint32_t x = c[pos];
    if (!is_crlf(x) && !is_n(x) && (is_l(x) || (pos + 1 < end && is_l(c[pos + 1])))) {
        size_t p = pos + 1;
        while (p < end && is_l(c[p])) p++;
        return p - pos;
    }
    if (is_n(x)) {
        size_t p = pos;
        while (p < end && is_n(c[p]) && p - pos < (size_t)ps->arg) p++;
        return p - pos;
    }
    size_t p = pos + (x == ' ');
    if (p < end && !is_lnw(c[p])) {
        while (p < end && !is_lnw(c[p])) p++;
        while (p < end && is_crlf(c[p])) p++;
        return p - pos;
    }
    size_t w = 0, last_nl = 0;
    while (pos + w < end && ws(c[pos + w])) {
        if (is_crlf(c[pos + w])) last_nl = w + 1;
        w++;
    }
    if (last_nl) return last_nl;
    if (w > 1 && pos + w < end) return w - 1;
    return w; /* \s+ (0: cannot happen, x is then matched above) */
}

/* ---------------------------------------------------------------- pre-tokenizer definitions */

#define MAXPASS 6
static int pass_list(cf_pre_type type, pass *p) {
    switch (type) {
    case CF_PRE_DEFAULT:
        p[0] = (pass){m_run, punct_default, 0};
        p[1] = (pass){m_gpt2, NULL, 0};
        p[2] = (pass){m_run, is_n, 0};
        p[3] = (pass){m_digit3, NULL, 0};
        return 4;
    case CF_PRE_GPT2:
        p[0] = (pass){m_gpt2, NULL, 0};
        return 1;
    case CF_PRE_LLAMA3:
        p[0] = (pass){m_llama3, NULL, 3};
        return 1;
    case CF_PRE_QWEN2:
        p[0] = (pass){m_llama3, NULL, 1};
        return 1;
    case CF_PRE_STARCODER:
        p[0] = (pass){m_one, is_n, 0};
        p[1] = (pass){m_gpt2, NULL, 0};
        return 2;
    case CF_PRE_DEEPSEEK_LLM:
        p[0] = (pass){m_one, is_crlf, 0};
        p[1] = (pass){m_ws_run, dsl_letter, 0};
        p[2] = (pass){m_ws_run, dsl_punct, 0};
        p[3] = (pass){m_trail_ws, NULL, 0};
        p[4] = (pass){m_run, cjk, 0};
        p[5] = (pass){m_run, is_n, 0};
        return 6;
    case CF_PRE_DEEPSEEK_CODER:
        p[0] = (pass){m_one, is_crlf, 0};
        p[1] = (pass){m_ws_run, is_l, 0};
        p[2] = (pass){m_ws_run, cf_uni_is_punct, 0};
        p[3] = (pass){m_run, cjk, 0};
        p[4] = (pass){m_one, is_n, 0};
        return 5;
    case CF_PRE_FALCON:
        p[0] = (pass){m_run, punct_falcon, 0};
        p[1] = (pass){m_gpt2, NULL, 0};
        p[2] = (pass){m_digit3, NULL, 0};
        return 3;
    case CF_PRE_PORO:
        p[0] = (pass){m_sp_run, poro_word, 0};
        return 1;
    case CF_PRE_VIKING:
        p[0] = (pass){m_sp_run, poro_word, 0};
        p[1] = (pass){m_one, is_n, 0};
        return 2;
    default:
        return 0;
    }
}

typedef struct {
    uint32_t *v;
    size_t n, cap;
} lvec;

static int lpush(lvec *a, size_t x) {
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 256;
        uint32_t *nv = realloc(a->v, nc * sizeof *nv);
        if (!nv) return -1;
        a->v = nv;
        a->cap = nc;
    }
    a->v[a->n++] = (uint32_t)x;
    return 0;
}

/* one pass over every piece of `in`, appending the sub-pieces to `out` */
static int run_pass(const pass *ps, const uint32_t *c, const lvec *in, lvec *out) {
    size_t start = 0;
    for (size_t k = 0; k < in->n; k++) {
        size_t end = start + in->v[k], gap = start;
        if (ps->match == m_trail_ws) { /* the trailing whitespace run, if any, is the one match */
            size_t p = end;
            while (p > start && ws(c[p - 1])) p--;
            if (p > start && lpush(out, p - start)) return -1;
            if (p < end && lpush(out, end - p)) return -1;
            start = end;
            continue;
        }
        for (size_t pos = start; pos < end;) {
            size_t m = ps->match(ps, c, pos, end);
            if (!m) {
                pos++;
                continue;
            }
            if (pos > gap && lpush(out, pos - gap)) return -1;
            if (lpush(out, m)) return -1;
            pos += m;
            gap = pos;
        }
        if (end > gap && lpush(out, end - gap)) return -1;
        start = end;
    }
    return 0;
}

long cf_pretok_split(cf_pre_type type, const uint32_t *cps, size_t n, uint32_t **lens, size_t *cap) {
    pass ps[MAXPASS];
    int np = pass_list(type, ps);
    lvec a = {*lens, 0, *cap}, b = {0};
    if (n == 0) return 0;
    if (n > UINT32_MAX) return -1;
    if (lpush(&a, n)) goto oom;
    for (int i = 0; i < np; i++) {
        b.n = 0;
        if (run_pass(&ps[i], cps, &a, &b)) goto oom;
        lvec t = a;
        a = b;
        b = t;
    }
    free(b.v);
    *lens = a.v;
    *cap = a.cap;
    return (long)a.n;
oom:
    free(b.v);
    *lens = a.v;
    *cap = a.cap;
    return -1;
}
