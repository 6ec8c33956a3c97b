/* JSON (RFC 8259) parser, serializer, pointers and equality (see json.h). */
#include "sampler/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ------------------------------------------------------------------------------- */

#define ARENA_BLOCK (64u << 10)

typedef struct ablock {
    struct ablock *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} ablock;

struct cf_json_doc {
    ablock *blocks;
    cf_json *root;
};

static void *arena_alloc(cf_json_doc *d, size_t n) {
    n = (n + 15) & ~(size_t)15;
    ablock *b = d->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        ablock *nb = malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->cap = cap;
        nb->used = 0;
        if (b && cap != ARENA_BLOCK) {   /* big one-off: keep the current block current */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            return nb->data;
        }
        nb->next = b;
        d->blocks = nb;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void cf_json_free(cf_json_doc *d) {
    if (!d) return;
    ablock *b = d->blocks;
    while (b) {
        ablock *n = b->next;
        free(b);
        b = n;
    }
    free(d);
}

const cf_json *cf_json_root(const cf_json_doc *d) { return d ? d->root : NULL; }

/* ---- positions --------------------------------------------------------------------------- */

void cf_json_linecol(const char *text, size_t len, size_t off, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    if (off > len) off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;   /* count code points, not continuation bytes */
        }
    }
    if (line) *line = l;
    if (col) *col = c;
}

/* ---- parser ------------------------------------------------------------------------------ */

typedef struct {
    const char *s;
    size_t n, pos;
    cf_json_doc *doc;
    cf_err *err;
    int depth;
    /* scratch stacks shared by all containers (children are pushed, then copied to the arena) */
    cf_json **vals;
    size_t nvals, capvals;
    char **keys;
    size_t *klens;
    size_t nkeys, capkeys;
} parser;

static int perr(parser *p, size_t off, int code, const char *fmt, const char *a) {
    size_t line, col;
    cf_json_linecol(p->s, p->n, off, &line, &col);
    char what[256];
    snprintf(what, sizeof what, fmt, a ? a : "");
    return cf_errf(p->err, code, "line %zu column %zu (offset %zu): %s", line, col, off, what);
}
static int nomem(parser *p) { return cf_errf(p->err, CF_ENOMEM, "out of memory while parsing JSON"); }

static void skip_ws(parser *p) {
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Describes the byte at pos for messages ("end of input", "'x'", "byte 0x01"). */
static const char *found(parser *p, char *buf, size_t cap) {
    if (p->pos >= p->n) return "end of input";
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c >= 0x21 && c < 0x7F) snprintf(buf, cap, "'%c'", c);
    else snprintf(buf, cap, "byte 0x%02X", c);
    return buf;
}

static int expect_err(parser *p, const char *what) {
    char b[32], msg[200];
    snprintf(msg, sizeof msg, "expected %s, found %s", what, found(p, b, sizeof b));
    return perr(p, p->pos, CF_EFORMAT, "%s", msg);
}

static cf_json *new_node(parser *p, cf_json_type t, size_t off) {
    cf_json *v = arena_alloc(p->doc, sizeof *v);
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->type = t;
    v->offset = off;
    return v;
}

/* Length in bytes of a valid UTF-8 sequence at s[0..n), or 0 if invalid (overlong, surrogate,
 * > U+10FFFF, truncated).  *cp gets the code point. */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t k;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) k = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (n < k) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k;
}

static size_t utf8_enc(uint32_t cp, char *o) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const char *s, uint32_t *v) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        r <<= 4;
        if (c >= '0' && c <= '9') r |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') r |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') r |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *v = r;
    return 0;
}

/* Parses a string literal at p->pos (which is '"'); returns the decoded bytes in the arena. */
static int parse_string(parser *p, char **out, size_t *out_len) {
    size_t start = p->pos++;
    /* find the closing quote to size the buffer (decoded length <= raw length) */
    size_t q = p->pos;
    while (q < p->n && p->s[q] != '"') q += (p->s[q] == '\\') ? 2 : 1;
    if (q >= p->n) return perr(p, start, CF_EFORMAT, "unterminated string%s", "");
    char *buf = arena_alloc(p->doc, q - p->pos + 1);
    if (!buf) return nomem(p);
    size_t o = 0;
    const unsigned char *u = (const unsigned char *)p->s;
    while (p->pos < q) {
        unsigned char c = u[p->pos];
        if (c == '\\') {
            size_t at = p->pos;
            char e = p->s[p->pos + 1];
            p->pos += 2;
            switch (e) {
            case '"': buf[o++] = '"'; break;
            case '\\': buf[o++] = '\\'; break;
            case '/': buf[o++] = '/'; break;
            case 'b': buf[o++] = '\b'; break;
            case 'f': buf[o++] = '\f'; break;
            case 'n': buf[o++] = '\n'; break;
            case 'r': buf[o++] = '\r'; break;
            case 't': buf[o++] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (q - p->pos < 4 || hex4(p->s + p->pos, &cp))
                    return perr(p, at, CF_EFORMAT, "bad \\u escape: expected 4 hex digits%s", "");
                p->pos += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return perr(p, at, CF_EFORMAT, "lone low surrogate in \\u escape%s", "");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (q - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                        hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return perr(p, at, CF_EFORMAT,
                                    "high surrogate \\u escape not followed by a low surrogate%s", "");
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                o += utf8_enc(cp, buf + o);
                break;
            }
            default:
                p->pos = at + 1;
                return perr(p, at, CF_EFORMAT, "bad escape sequence in string%s", "");
            }
        } else if (c < 0x20) {
            return perr(p, p->pos, CF_EFORMAT,
                        "control character in string (must be escaped)%s", "");
        } else if (c < 0x80) {
            buf[o++] = (char)c;
            p->pos++;
        } else {
            uint32_t cp;
            size_t k = utf8_dec(u + p->pos, q - p->pos, &cp);
            if (!k) return perr(p, p->pos, CF_EFORMAT, "invalid UTF-8 in string%s", "");
            memcpy(buf + o, u + p->pos, k);
            o += k;
            p->pos += k;
        }
    }
    buf[o] = 0;
    p->pos = q + 1;
    *out = buf;
    *out_len = o;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, cf_json **out) {
    size_t start = p->pos, i = p->pos;
    int is_int = 1;
    if (i < p->n && p->s[i] == '-') i++;
    if (i >= p->n || !is_digit(p->s[i])) {
        p->pos = i;
        return expect_err(p, "a digit");
    }
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && is_digit(p->s[i]))
            return perr(p, start, CF_EFORMAT, "leading zeros are not allowed in numbers%s", "");
    } else {
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    if (i < p->n && p->s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= p->n || !is_digit(p->s[i])) {
            p->pos = i;
            return expect_err(p, "a digit after the decimal point");
        }
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->n || !is_digit(p->s[i])) {
            p->pos = i;
            return expect_err(p, "a digit in the exponent");
        }
        while (i < p->n && is_digit(p->s[i])) i++;
    }
    size_t len = i - start;
    cf_json *v = new_node(p, CF_JSON_NUMBER, start);
    char *t = v ? arena_alloc(p->doc, len + 1) : NULL;
    if (!t) return nomem(p);
    memcpy(t, p->s + start, len);
    t[len] = 0;
    v->num_text = t;
    v->num = strtod(t, NULL);
    if (is_int) {
        /* exact int64 when it fits */
        const char *d = t + (t[0] == '-');
        uint64_t acc = 0;
        int ok = 1;
        for (; *d; d++) {
            uint64_t dg = (uint64_t)(*d - '0');
            if (acc > (UINT64_MAX - dg) / 10) {
                ok = 0;
                break;
            }
            acc = acc * 10 + dg;
        }
        if (ok && t[0] == '-' && acc <= (uint64_t)INT64_MAX + 1) {
            v->is_int = 1;
            v->i = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
        } else if (ok && t[0] != '-' && acc <= (uint64_t)INT64_MAX) {
            v->is_int = 1;
            v->i = (int64_t)acc;
        }
    }
    p->pos = i;
    *out = v;
    return 0;
}

static int lit(parser *p, const char *word, size_t wl) {
    return p->n - p->pos >= wl && memcmp(p->s + p->pos, word, wl) == 0;
}

static int push_val(parser *p, cf_json *v) {
    if (p->nvals == p->capvals) {
        size_t nc = p->capvals ? p->capvals * 2 : 64;
        cf_json **nv = realloc(p->vals, nc * sizeof *nv);
        if (!nv) return nomem(p);
        p->vals = nv;
        p->capvals = nc;
    }
    p->vals[p->nvals++] = v;
    return 0;
}
static int push_key(parser *p, char *k, size_t kl) {
    if (p->nkeys == p->capkeys) {
        size_t nc = p->capkeys ? p->capkeys * 2 : 64;
        char **nk = realloc(p->keys, nc * sizeof *nk);
        if (!nk) return nomem(p);
        p->keys = nk;
        size_t *nl = realloc(p->klens, nc * sizeof *nl);
        if (!nl) return nomem(p);
        p->klens = nl;
        p->capkeys = nc;
    }
    p->keys[p->nkeys] = k;
    p->klens[p->nkeys++] = kl;
    return 0;
}

static uint32_t key_hash(const char *k, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 16777619u;
    return h;
}

#define HASH_MIN_MEMBERS 12

/* Builds the key hash index of an object (open addressing; slot = member index + 1; a later
 * duplicate key replaces the earlier one, so lookups return the last). */
static int build_index(parser *p, cf_json *o) {
    size_t cap = 16;
    while (cap < o->len * 2) cap *= 2;
    uint32_t *ix = arena_alloc(p->doc, (cap + 1) * sizeof *ix);
    if (!ix) return nomem(p);
    memset(ix, 0, (cap + 1) * sizeof *ix);
    ix[0] = (uint32_t)(cap - 1);
    uint32_t *slot = ix + 1;
    for (size_t m = 0; m < o->len; m++) {
        uint32_t h = key_hash(o->keys[m], o->key_lens[m]) & (uint32_t)(cap - 1);
        for (;; h = (h + 1) & (uint32_t)(cap - 1)) {
            if (!slot[h]) {
                slot[h] = (uint32_t)m + 1;
                break;
            }
            size_t e = slot[h] - 1;
            if (o->key_lens[e] == o->key_lens[m] && memcmp(o->keys[e], o->keys[m], o->key_lens[m]) == 0) {
                slot[h] = (uint32_t)m + 1;
                break;
            }
        }
    }
    o->index = ix;
    return 0;
}

static int parse_value(parser *p, cf_json **out);

static int parse_array(parser *p, cf_json **out) {
    size_t start = p->pos++;
    size_t base = p->nvals;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ']') {
        p->pos++;
    } else {
        for (;;) {
            cf_json *v;
            int rc = parse_value(p, &v);
            if (rc) return rc;
            if ((rc = push_val(p, v))) return rc;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                skip_ws(p);
                if (p->pos < p->n && p->s[p->pos] == ']')
                    return perr(p, p->pos, CF_EFORMAT, "trailing comma before ']'%s", "");
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == ']') {
                p->pos++;
                break;
            }
            return expect_err(p, "',' or ']' after array element");
        }
    }
    cf_json *a = new_node(p, CF_JSON_ARRAY, start);
    if (!a) return nomem(p);
    a->len = p->nvals - base;
    if (a->len) {
        a->items = arena_alloc(p->doc, a->len * sizeof *a->items);
        if (!a->items) return nomem(p);
        memcpy(a->items, p->vals + base, a->len * sizeof *a->items);
    }
    p->nvals = base;
    *out = a;
    return 0;
}

static int parse_object(parser *p, cf_json **out) {
    size_t start = p->pos++;
    size_t vbase = p->nvals, kbase = p->nkeys;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return expect_err(p, p->nkeys == kbase ? "a string key or '}'" : "a string key after ','");
            char *k;
            size_t kl;
            int rc = parse_string(p, &k, &kl);
            if (rc) return rc;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':') return expect_err(p, "':' after object key");
            p->pos++;
            cf_json *v;
            if ((rc = parse_value(p, &v))) return rc;
            if ((rc = push_key(p, k, kl)) || (rc = push_val(p, v))) return rc;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == ',') {
                p->pos++;
                skip_ws(p);
                if (p->pos < p->n && p->s[p->pos] == '}')
                    return perr(p, p->pos, CF_EFORMAT, "trailing comma before '}'%s", "");
                continue;
            }
            if (p->pos < p->n && p->s[p->pos] == '}') {
                p->pos++;
                break;
            }
            return expect_err(p, "',' or '}' after object member");
        }
    }
    cf_json *o = new_node(p, CF_JSON_OBJECT, start);
    if (!o) return nomem(p);
    o->len = p->nvals - vbase;
    if (o->len) {
        o->items = arena_alloc(p->doc, o->len * sizeof *o->items);
        o->keys = arena_alloc(p->doc, o->len * sizeof *o->keys);
        o->key_lens = arena_alloc(p->doc, o->len * sizeof *o->key_lens);
        if (!o->items || !o->keys || !o->key_lens) return nomem(p);
        memcpy(o->items, p->vals + vbase, o->len * sizeof *o->items);
        memcpy(o->keys, p->keys + kbase, o->len * sizeof *o->keys);
        memcpy(o->key_lens, p->klens + kbase, o->len * sizeof *o->key_lens);
        if (o->len >= HASH_MIN_MEMBERS) {
            int rc = build_index(p, o);
            if (rc) return rc;
        }
    }
    p->nvals = vbase;
    p->nkeys = kbase;
    *out = o;
    return 0;
}

static int parse_value(parser *p, cf_json **out) {
    skip_ws(p);
    if (p->pos >= p->n) return expect_err(p, "a value");
    char c = p->s[p->pos];
    size_t at = p->pos;
    int rc;
    switch (c) {
    case '{':
    case '[':
        if (++p->depth > CF_JSON_MAX_DEPTH) {
            char m[96];
            snprintf(m, sizeof m, "nesting deeper than %d levels", CF_JSON_MAX_DEPTH);
            return perr(p, at, CF_ELIMIT, "%s", m);
        }
        rc = c == '{' ? parse_object(p, out) : parse_array(p, out);
        p->depth--;
        return rc;
    case '"': {
        cf_json *v = new_node(p, CF_JSON_STRING, at);
        if (!v) return nomem(p);
        if ((rc = parse_string(p, &v->str, &v->len))) return rc;
        *out = v;
        return 0;
    }
    case 't':
    case 'f':
    case 'n': {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        if (!lit(p, w, wl)) return perr(p, at, CF_EFORMAT, "invalid literal (expected '%s')", w);
        cf_json *v = new_node(p, c == 'n' ? CF_JSON_NULL : CF_JSON_BOOL, at);
        if (!v) return nomem(p);
        v->b = c == 't';
        p->pos += wl;
        *out = v;
        return 0;
    }
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, out);
        return expect_err(p, "a value (object, array, string, number, true, false or null)");
    }
}

int cf_json_parse(const char *text, size_t len, cf_json_doc **out, cf_err *err) {
    *out = NULL;
    if (!text && len) return cf_errf(err, CF_EINVAL, "cf_json_parse: NULL text");
    if (len > CF_JSON_MAX_BYTES)
        return cf_errf(err, CF_ELIMIT, "JSON document of %zu bytes exceeds the cap of %u bytes", len,
                       (unsigned)CF_JSON_MAX_BYTES);
    parser p = {.s = text, .n = len, .err = err};
    p.doc = calloc(1, sizeof *p.doc);
    if (!p.doc) return nomem(&p);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;
    cf_json *root = NULL;
    int rc = parse_value(&p, &root);
    if (!rc) {
        skip_ws(&p);
        if (p.pos < p.n) rc = expect_err(&p, "end of input after the JSON value");
    }
    free(p.vals);
    free(p.keys);
    free(p.klens);
    if (rc) {
        cf_json_free(p.doc);
        return rc;
    }
    p.doc->root = root;
    *out = p.doc;
    return 0;
}

/* ---- lookup ------------------------------------------------------------------------------ */

static const cf_json *get_n(const cf_json *o, const char *key, size_t kl) {
    if (!o || o->type != CF_JSON_OBJECT) return NULL;
    if (o->index) {
        uint32_t mask = o->index[0];
        const uint32_t *slot = o->index + 1;
        for (uint32_t h = key_hash(key, kl) & mask;; h = (h + 1) & mask) {
            if (!slot[h]) return NULL;
            size_t m = slot[h] - 1;
            if (o->key_lens[m] == kl && memcmp(o->keys[m], key, kl) == 0) return o->items[m];
        }
    }
    for (size_t m = o->len; m-- > 0;)
        if (o->key_lens[m] == kl && memcmp(o->keys[m], key, kl) == 0) return o->items[m];
    return NULL;
}

const cf_json *cf_json_get(const cf_json *obj, const char *key) {
    return key ? get_n(obj, key, strlen(key)) : NULL;
}

/* Resolves an already-split pointer in buffer `ptr` of length n (escapes still present). */
static const cf_json *pointer_n(const cf_json *root, const char *ptr, size_t n) {
    if (n == 0) return root;
    if (ptr[0] != '/') return NULL;
    const cf_json *cur = root;
    size_t i = 1;
    char tok[1024];
    for (;;) {
        size_t tl = 0;
        while (i < n && ptr[i] != '/') {
            char c = ptr[i++];
            if (c == '~') {
                if (i >= n) return NULL;
                char e = ptr[i++];
                if (e == '0') c = '~';
                else if (e == '1') c = '/';
                else return NULL;
            }
            if (tl >= sizeof tok) return NULL;
            tok[tl++] = c;
        }
        if (!cur) return NULL;
        if (cur->type == CF_JSON_OBJECT) {
            cur = get_n(cur, tok, tl);
        } else if (cur->type == CF_JSON_ARRAY) {
            if (tl == 0 || tl > 18 || (tl > 1 && tok[0] == '0')) return NULL;
            size_t idx = 0;
            for (size_t k = 0; k < tl; k++) {
                if (!is_digit(tok[k])) return NULL;
                idx = idx * 10 + (size_t)(tok[k] - '0');
            }
            cur = idx < cur->len ? cur->items[idx] : NULL;
        } else {
            return NULL;
        }
        if (!cur) return NULL;
        if (i >= n) return cur;
        i++;   /* skip '/' */
    }
}

const cf_json *cf_json_pointer(const cf_json *root, const char *ptr) {
    return ptr ? pointer_n(root, ptr, strlen(ptr)) : NULL;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const cf_json *cf_json_pointer_uri(const cf_json *root, const char *frag) {
    if (!frag) return NULL;
    if (frag[0] == '#') frag++;
    size_t n = strlen(frag);
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (frag[i] == '%') {
            int a = i + 1 < n ? hexv(frag[i + 1]) : -1, b = i + 2 < n ? hexv(frag[i + 2]) : -1;
            if (a < 0 || b < 0) {
                free(buf);
                return NULL;
            }
            int h = a * 16 + b;
            buf[o++] = (char)h;
            i += 2;
        } else {
            buf[o++] = frag[i];
        }
    }
    const cf_json *r = pointer_n(root, buf, o);
    free(buf);
    return r;
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* A number lexeme as sign * 0.DIGITS * 10^exp with DIGITS free of leading/trailing zeros. */
typedef struct {
    int neg, zero;
    const char *int_p, *frac_p;   /* digit runs in the lexeme */
    size_t int_n, frac_n;
    int64_t exp;                  /* decimal exponent of the first significant digit + 1 */
    size_t skip_lead;             /* leading zeros to skip across int+frac */
    size_t ndig;                  /* significant digits */
} decnum;

static void dec_parse(const char *t, decnum *d) {
    memset(d, 0, sizeof *d);
    if (*t == '-') d->neg = 1, t++;
    d->int_p = t;
    while (is_digit(*t)) t++;
    d->int_n = (size_t)(t - d->int_p);
    if (*t == '.') {
        t++;
        d->frac_p = t;
        while (is_digit(*t)) t++;
        d->frac_n = (size_t)(t - d->frac_p);
    }
    int64_t e = 0;
    if (*t == 'e' || *t == 'E') {
        t++;
        int en = 0;
        if (*t == '+' || *t == '-') en = *t++ == '-';
        while (is_digit(*t)) {
            if (e < (int64_t)1 << 40) e = e * 10 + (*t - '0');
            t++;
        }
        if (en) e = -e;
    }
    size_t total = d->int_n + d->frac_n, lead = 0;
    while (lead < total) {
        char c = lead < d->int_n ? d->int_p[lead] : d->frac_p[lead - d->int_n];
        if (c != '0') break;
        lead++;
    }
    if (lead == total) {
        d->zero = 1;
        return;
    }
    size_t end = total;
    while (end > lead) {
        size_t k = end - 1;
        char c = k < d->int_n ? d->int_p[k] : d->frac_p[k - d->int_n];
        if (c != '0') break;
        end--;
    }
    d->skip_lead = lead;
    d->ndig = end - lead;
    d->exp = e + (int64_t)d->int_n - (int64_t)lead;
}

static char dec_digit(const decnum *d, size_t k) {   /* k-th significant digit, '0' past end */
    if (k >= d->ndig) return '0';
    size_t j = d->skip_lead + k;
    return j < d->int_n ? d->int_p[j] : d->frac_p[j - d->int_n];
}

static int dec_cmp_abs(const decnum *a, const decnum *b) {
    if (a->exp != b->exp) return a->exp < b->exp ? -1 : 1;
    size_t n = a->ndig > b->ndig ? a->ndig : b->ndig;
    for (size_t k = 0; k < n; k++) {
        char x = dec_digit(a, k), y = dec_digit(b, k);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

int cf_json_num_cmp(const cf_json *a, const cf_json *b) {
    if (!a->num_text || !b->num_text) return a->num < b->num ? -1 : a->num > b->num ? 1 : 0;
    decnum x, y;
    dec_parse(a->num_text, &x);
    dec_parse(b->num_text, &y);
    if (x.zero && y.zero) return 0;
    int sx = x.zero ? 0 : x.neg ? -1 : 1, sy = y.zero ? 0 : y.neg ? -1 : 1;
    if (sx != sy) return sx < sy ? -1 : 1;
    int c = dec_cmp_abs(&x, &y);
    return sx < 0 ? -c : c;
}

/* ---- equality ---------------------------------------------------------------------------- */

int cf_json_equal(const cf_json *a, const cf_json *b) {
    if (a == b) return 1;
    if (!a || !b || a->type != b->type) return 0;
    switch (a->type) {
    case CF_JSON_NULL: return 1;
    case CF_JSON_BOOL: return !a->b == !b->b;
    case CF_JSON_NUMBER: return cf_json_num_cmp(a, b) == 0;
    case CF_JSON_STRING: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case CF_JSON_ARRAY:
        if (a->len != b->len) return 0;
        for (size_t i = 0; i < a->len; i++)
            if (!cf_json_equal(a->items[i], b->items[i])) return 0;
        return 1;
    case CF_JSON_OBJECT:
        /* every member of a is in b with an equal value, and vice versa (handles duplicates) */
        for (size_t i = 0; i < a->len; i++) {
            const cf_json *av = get_n(a, a->keys[i], a->key_lens[i]);
            if (av != a->items[i]) continue;   /* an earlier duplicate: the last one counts */
            if (!cf_json_equal(av, get_n(b, a->keys[i], a->key_lens[i]))) return 0;
        }
        for (size_t i = 0; i < b->len; i++)
            if (!get_n(a, b->keys[i], b->key_lens[i])) return 0;
        return 1;
    }
    return 0;
}

/* ---- writing ----------------------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 64;
        while (nc < b->n + n + 1) nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

/* Quotes s; invalid UTF-8 bytes are written as \ufffd so the output is always valid JSON. */
static void sb_quote(sbuf *b, const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    sb_put(b, "\"", 1);
    size_t run = 0;   /* start of a pending run of bytes copied verbatim */
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char tmp[8];
        size_t k = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        } else if (c >= 0x80) {
            uint32_t cp;
            k = utf8_dec(u + i, n - i, &cp);
            if (!k) {
                esc = "\\ufffd";
                k = 1;
            }
        }
        if (esc) {
            sb_put(b, s + run, i - run);
            sb_put(b, esc, strlen(esc));
            run = i + k;
        }
        i += k;
    }
    sb_put(b, s + run, n - run);
    sb_put(b, "\"", 1);
}

static void write_val(sbuf *b, const cf_json *v) {
    switch (v->type) {
    case CF_JSON_NULL: sb_put(b, "null", 4); break;
    case CF_JSON_BOOL: v->b ? sb_put(b, "true", 4) : sb_put(b, "false", 5); break;
    case CF_JSON_NUMBER:
        if (v->num_text) {
            sb_put(b, v->num_text, strlen(v->num_text));
        } else {
            char t[40];
            if (isfinite(v->num)) snprintf(t, sizeof t, "%.17g", v->num);
            else snprintf(t, sizeof t, "null");
            sb_put(b, t, strlen(t));
        }
        break;
    case CF_JSON_STRING: sb_quote(b, v->str, v->len); break;
    case CF_JSON_ARRAY:
        sb_put(b, "[", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i) sb_put(b, ",", 1);
            write_val(b, v->items[i]);
        }
        sb_put(b, "]", 1);
        break;
    case CF_JSON_OBJECT:
        sb_put(b, "{", 1);
        for (size_t i = 0; i < v->len; i++) {
            if (i) sb_put(b, ",", 1);
            sb_quote(b, v->keys[i], v->key_lens[i]);
            sb_put(b, ":", 1);
            write_val(b, v->items[i]);
        }
        sb_put(b, "}", 1);
        break;
    }
}

char *cf_json_write(const cf_json *v, size_t *len) {
    sbuf b = {0};
    if (v) write_val(&b, v);
    else sb_put(&b, "null", 4);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.n;
    return b.p;
}

char *cf_json_quote(const char *s, size_t n, size_t *out_len) {
    sbuf b = {0};
    sb_quote(&b, s ? s : "", s ? n : 0);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (out_len) *out_len = b.n;
    return b.p;
}
