/* ECMA-262 pattern parser (JSON Schema `pattern` dialect) into the AST of re_internal.h, and the
 * code-point set operations.  Unicode-mode semantics (code points, \u{...}, \p{..}); like most
 * JSON Schema users expect, a few Annex-B leniencies are kept: identity escapes of any ASCII
 * punctuation (`\-`, `\@`, `\_`), a `{` that does not start a valid quantifier is a literal, and a
 * lone `]` or `}` is a literal. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/re_internal.h"

/* ---- code-point sets --------------------------------------------------------------------- */

int re_set_add(re_set *s, uint32_t lo, uint32_t hi) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        re_range *nr = realloc(s->r, nc * sizeof *nr);
        if (!nr) return -1;
        s->r = nr;
        s->cap = nc;
    }
    s->r[s->n].lo = lo;
    s->r[s->n].hi = hi;
    s->n++;
    return 0;
}

int re_set_addset(re_set *s, const re_set *o) {
    for (size_t i = 0; i < o->n; i++)
        if (re_set_add(s, o->r[i].lo, o->r[i].hi)) return -1;
    return 0;
}

static int range_cmp(const void *a, const void *b) {
    const re_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

void re_set_norm(re_set *s) {
    if (s->n < 2) return;
    qsort(s->r, s->n, sizeof *s->r, range_cmp);
    size_t o = 0;
    for (size_t i = 1; i < s->n; i++) {
        if (s->r[i].lo <= s->r[o].hi + 1) {
            if (s->r[i].hi > s->r[o].hi) s->r[o].hi = s->r[i].hi;
        } else {
            s->r[++o] = s->r[i];
        }
    }
    s->n = o + 1;
}

int re_set_negate(re_set *s) {
    re_set_norm(s);
    re_set t = {0};
    uint32_t next = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->r[i].lo > next && re_set_add(&t, next, s->r[i].lo - 1)) goto oom;
        next = s->r[i].hi + 1;
    }
    if (next <= RE_MAX_CP && re_set_add(&t, next, RE_MAX_CP)) goto oom;
    free(s->r);
    *s = t;
    return 0;
oom:
    free(t.r);
    return -1;
}

void re_set_free(re_set *s) {
    free(s->r);
    memset(s, 0, sizeof *s);
}

/* ECMA WhiteSpace + LineTerminator. */
static const re_range SPACE[] = {{0x09, 0x0D}, {0x20, 0x20}, {0xA0, 0xA0}, {0x1680, 0x1680},
                                 {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
                                 {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};

int re_set_class(re_set *s, char which) {
    re_set t = {0};
    int rc = 0;
    switch (which | 0x20) {
    case 'd': rc = re_set_add(&t, '0', '9'); break;
    case 'w':
        rc = re_set_add(&t, '0', '9') | re_set_add(&t, 'A', 'Z') | re_set_add(&t, '_', '_') |
             re_set_add(&t, 'a', 'z');
        break;
    case 's':
        for (size_t i = 0; i < sizeof SPACE / sizeof *SPACE && !rc; i++) rc = re_set_add(&t, SPACE[i].lo, SPACE[i].hi);
        break;
    case '.':   /* dot: everything but \n \r U+2028 U+2029 (stored negated below) */
        rc = re_set_add(&t, '\n', '\n') | re_set_add(&t, '\r', '\r') | re_set_add(&t, 0x2028, 0x2029);
        if (!rc) rc = re_set_negate(&t);
        break;
    default: rc = -1;
    }
    if (!rc && which >= 'A' && which <= 'Z') rc = re_set_negate(&t);
    if (!rc) rc = re_set_addset(s, &t);
    free(t.r);
    return rc;
}

/* ---- parser ------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *s;
    size_t n, pos;
    re_ast *a;
    cf_err *err;
    int depth;
    size_t col_pos;   /* column() cache: column of byte col_pos */
    int col;
    unsigned flags;
    /* named groups (for \k<name>) */
    struct { size_t pos, len; int group; } names[64];
    int nnames;
} pp;

/* 1-based column (code points) of byte pos, moved incrementally from the last query (the parser's
 * queries are mostly near each other). */
static int column(pp *p, size_t pos) {
    if (pos > p->n) pos = p->n;
    for (size_t i = p->col_pos; i < pos; i++)
        if ((p->s[i] & 0xC0) != 0x80) p->col++;
    for (size_t i = pos; i < p->col_pos; i++)
        if ((p->s[i] & 0xC0) != 0x80) p->col--;
    p->col_pos = pos;
    return p->col;
}

static int rerr(pp *p, size_t pos, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int rerr(pp *p, size_t pos, int code, const char *fmt, ...) {
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return cf_errf(p->err, code, "column %d: %s", column(p, pos), what);
}
static int oom(pp *p) { return cf_errf(p->err, CF_ENOMEM, "out of memory compiling regex"); }

static int new_node(pp *p, re_kind k, size_t pos, int32_t *out) {
    re_ast *a = p->a;
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 32;
        re_node *nn = realloc(a->nodes, nc * sizeof *nn);
        if (!nn) return oom(p);
        a->nodes = nn;
        a->cap = nc;
    }
    re_node *nd = &a->nodes[a->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = k;
    nd->child = nd->next = -1;
    nd->set = -1;
    nd->col = column(p, pos);
    *out = (int32_t)a->n++;
    return 0;
}

/* New SET node owning *s (moved into the AST). */
static int set_node(pp *p, re_set *s, size_t pos, int32_t *out) {
    re_ast *a = p->a;
    if (a->nsets == a->capsets) {
        size_t nc = a->capsets ? a->capsets * 2 : 16;
        re_set *ns = realloc(a->sets, nc * sizeof *ns);
        if (!ns) return oom(p);
        a->sets = ns;
        a->capsets = nc;
    }
    re_set_norm(s);
    int rc = new_node(p, RN_SET, pos, out);
    if (rc) return rc;
    a->nodes[*out].set = (int32_t)a->nsets;
    a->sets[a->nsets++] = *s;
    memset(s, 0, sizeof *s);
    return 0;
}

static int at_end(const pp *p) { return p->pos >= p->n; }
static int peek(const pp *p) { return p->pos < p->n ? p->s[p->pos] : -1; }

/* Decodes one UTF-8 code point at pos; 0 on invalid. */
static size_t dec_utf8(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) return *cp = c, 1;
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
    if (v < min || v > RE_MAX_CP || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k;
}

static int read_cp(pp *p, uint32_t *cp) {
    size_t k = dec_utf8(p->s + p->pos, p->n - p->pos, cp);
    if (!k) return rerr(p, p->pos, CF_EFORMAT, "invalid UTF-8 in pattern");
    p->pos += k;
    return 0;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
/* Exactly k hex digits at pos (not consumed on failure). */
static int hexn(pp *p, int k, uint32_t *v) {
    if (p->n - p->pos < (size_t)k) return -1;
    uint32_t r = 0;
    for (int i = 0; i < k; i++) {
        int h = hexval(p->s[p->pos + (size_t)i]);
        if (h < 0) return -1;
        r = r * 16 + (uint32_t)h;
    }
    p->pos += (size_t)k;
    *v = r;
    return 0;
}

static int is_alnum(int c) { return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

/* A character escape after '\' (p->pos at the char after '\'); in_class: \b is backspace. */
static int char_escape(pp *p, size_t bs, int in_class, uint32_t *cp) {
    int c = peek(p);
    if (c < 0) return rerr(p, bs, CF_EFORMAT, "pattern ends with a lone '\\'");
    p->pos++;
    switch (c) {
    case 't': *cp = 9; return 0;
    case 'n': *cp = 10; return 0;
    case 'v': *cp = 11; return 0;
    case 'f': *cp = 12; return 0;
    case 'r': *cp = 13; return 0;
    case 'b':
        if (in_class) return *cp = 8, 0;
        break;
    case 'c': {
        int l = peek(p);
        if (((l | 0x20) >= 'a' && (l | 0x20) <= 'z')) {
            p->pos++;
            *cp = (uint32_t)(l % 32);
            return 0;
        }
        return rerr(p, bs, CF_EFORMAT, "\\c must be followed by a letter A-Z or a-z");
    }
    case '0':
        if (peek(p) >= '0' && peek(p) <= '9')
            return rerr(p, bs, CF_EUNSUPPORTED, "octal escapes are not supported (not valid in unicode mode)");
        *cp = 0;
        return 0;
    case 'x':
        if (hexn(p, 2, cp)) return rerr(p, bs, CF_EFORMAT, "\\x must be followed by 2 hex digits");
        return 0;
    case 'u':
        if (peek(p) == '{') {
            size_t at = p->pos++;
            uint32_t v = 0;
            int nd = 0, h;
            while ((h = hexval(peek(p))) >= 0) {
                v = v * 16 + (uint32_t)h;
                if (v > RE_MAX_CP) return rerr(p, bs, CF_EFORMAT, "\\u{...} code point above U+10FFFF");
                p->pos++;
                nd++;
            }
            if (!nd || peek(p) != '}') {
                p->pos = at;
                return rerr(p, bs, CF_EFORMAT, "bad \\u{...} escape");
            }
            p->pos++;
            *cp = v;
            return 0;
        }
        if (hexn(p, 4, cp)) return rerr(p, bs, CF_EFORMAT, "\\u must be followed by 4 hex digits or {...}");
        if (*cp >= 0xD800 && *cp <= 0xDBFF && p->n - p->pos >= 6 && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u') {
            size_t save = p->pos;
            uint32_t lo;
            p->pos += 2;
            if (!hexn(p, 4, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            else p->pos = save;
        }
        return 0;   /* a lone surrogate matches nothing in UTF-8 text */
    }
    if (c >= '1' && c <= '9')
        return rerr(p, bs, CF_EUNSUPPORTED, "backreferences (\\%c) are not supported", c);
    if (c == 'k') return rerr(p, bs, CF_EUNSUPPORTED, "named backreferences (\\k<...>) are not supported");
    if (c < 0x80 && is_alnum(c)) return rerr(p, bs, CF_EFORMAT, "unknown escape '\\%c'", c);
    if (c < 0x80) return *cp = (uint32_t)c, 0;   /* identity escape of punctuation */
    p->pos--;
    return read_cp(p, cp);                        /* '\' before a non-ASCII char: the char */
}

/* \p{...} / \P{...}: p->pos after 'p'/'P'. */
static int prop_escape(pp *p, size_t bs, int neg, re_set *out) {
    if (peek(p) != '{') return rerr(p, bs, CF_EFORMAT, "\\p must be followed by {property}");
    size_t start = ++p->pos;
    while (!at_end(p) && p->s[p->pos] != '}') p->pos++;
    if (at_end(p)) return rerr(p, bs, CF_EFORMAT, "missing '}' in \\p{...}");
    size_t len = p->pos - start;
    p->pos++;
    re_set t = {0};
    if (re_set_property(&t, (const char *)p->s + start, len)) {
        re_set_free(&t);
        return rerr(p, bs, CF_EUNSUPPORTED, "unknown or unsupported Unicode property '%.*s'", (int)len,
                    (const char *)p->s + start);
    }
    if (neg && re_set_negate(&t)) return re_set_free(&t), oom(p);
    int rc = re_set_addset(out, &t);
    re_set_free(&t);
    return rc ? oom(p) : 0;
}

/* One class atom: a code point (*is_set = 0) or a set added to `set` (*is_set = 1). */
static int class_atom(pp *p, re_set *set, uint32_t *cp, int *is_set) {
    *is_set = 0;
    if (p->s[p->pos] != '\\') return read_cp(p, cp);
    size_t bs = p->pos++;
    int c = peek(p);
    if (c == 'd' || c == 'D' || c == 'w' || c == 'W' || c == 's' || c == 'S') {
        p->pos++;
        *is_set = 1;
        return re_set_class(set, (char)c) ? oom(p) : 0;
    }
    if (c == 'p' || c == 'P') {
        p->pos++;
        *is_set = 1;
        return prop_escape(p, bs, c == 'P', set);
    }
    if (c == 'B') return rerr(p, bs, CF_EFORMAT, "\\B is not allowed in a character class");
    return char_escape(p, bs, 1, cp);
}

static int parse_class(pp *p, int32_t *out) {
    size_t open = p->pos++;
    int neg = 0;
    if (peek(p) == '^') neg = 1, p->pos++;
    re_set s = {0};
    int rc = 0;
    while (!rc) {
        if (at_end(p)) {
            rc = rerr(p, open, CF_EFORMAT, "missing ']' for this '['");
            break;
        }
        if (p->s[p->pos] == ']') {
            p->pos++;
            break;
        }
        uint32_t a, b;
        int aset, bset;
        size_t apos = p->pos;
        if ((rc = class_atom(p, &s, &a, &aset))) break;
        if (peek(p) == '-' && p->pos + 1 < p->n && p->s[p->pos + 1] != ']') {
            p->pos++;
            if ((rc = class_atom(p, &s, &b, &bset))) break;
            if (aset || bset) {   /* Annex B: [\d-z] is \d, '-', 'z' */
                if (!aset) rc = re_set_add(&s, a, a);
                if (!rc) rc = re_set_add(&s, '-', '-');
                if (!rc && !bset) rc = re_set_add(&s, b, b);
                if (rc) rc = oom(p);
                continue;
            }
            if (a > b) {
                rc = rerr(p, apos, CF_EFORMAT, "range out of order in character class");
                break;
            }
            if (re_set_add(&s, a, b)) rc = oom(p);
        } else if (!aset && re_set_add(&s, a, a)) {
            rc = oom(p);
        }
    }
    if (!rc && neg && re_set_negate(&s)) rc = oom(p);
    if (!rc) rc = set_node(p, &s, open, out);
    re_set_free(&s);
    return rc;
}

/* Reads digits (saturating at INT32_MAX / 2); -1 if none. */
static int64_t read_int(pp *p) {
    int64_t v = -1;
    while (!at_end(p) && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
        if (v < 0) v = 0;
        v = v * 10 + (p->s[p->pos] - '0');
        if (v > INT32_MAX / 2) v = INT32_MAX / 2;
        p->pos++;
    }
    return v;
}

/* If a {m}, {m,} or {m,n} quantifier starts at pos, parses it (pos moves past '}') and returns 1. */
static int brace_quant(pp *p, int64_t *mn, int64_t *mx) {
    size_t save = p->pos;
    p->pos++;
    int64_t a = read_int(p), b;
    if (a < 0) goto no;
    if (peek(p) == '}') {
        b = a;
    } else if (peek(p) == ',') {
        p->pos++;
        b = read_int(p);   /* -1 = unbounded */
    } else {
        goto no;
    }
    if (peek(p) != '}') goto no;
    p->pos++;
    *mn = a;
    *mx = b;
    return 1;
no:
    p->pos = save;
    return 0;
}

static int is_quant_start(pp *p) {
    int c = peek(p);
    if (c == '*' || c == '+' || c == '?') return 1;
    if (c == '{') {
        size_t save = p->pos;
        int64_t a, b;
        int r = brace_quant(p, &a, &b);
        p->pos = save;
        return r;
    }
    return 0;
}

static int parse_alt(pp *p, int32_t *out);

static int parse_group(pp *p, int32_t *out) {
    size_t open = p->pos++;
    int capture = 1, look = 0, look_neg = 0;
    if (peek(p) == '?') {
        size_t q = p->pos + 1;
        int c = q < p->n ? p->s[q] : -1, c2 = q + 1 < p->n ? p->s[q + 1] : -1;
        if (c == ':') {
            p->pos = q + 1;
            capture = 0;
        } else if (c == '=' || c == '!' || (c == '<' && (c2 == '=' || c2 == '!'))) {
            int behind = c == '<';
            if (!(p->flags & RE_PARSE_BACKTRACK))
                return rerr(p, open, CF_EUNSUPPORTED, "%s (?%s%c...) is not supported", behind ? "lookbehind" : "lookahead",
                            behind ? "<" : "", behind ? c2 : c);
            p->pos = q + 1 + (size_t)behind;
            look = 1 + behind;
            look_neg = (behind ? c2 : c) == '!';
            capture = 0;
        } else if (c == 'P') {
            return rerr(p, open, CF_EFORMAT, "Python-style group (?P...) is not ECMA-262 (use (?<name>...))");
        } else if (c == '#') {
            return rerr(p, open, CF_EFORMAT, "comment groups (?#...) are not ECMA-262");
        } else if (c == '<') {   /* named group */
            size_t k = q + 1, name = k;
            if (k < p->n && p->s[k] >= '0' && p->s[k] <= '9') return rerr(p, open, CF_EFORMAT, "bad group name in (?<name>...)");
            while (k < p->n && p->s[k] != '>' && (is_alnum(p->s[k]) || p->s[k] == '_' || p->s[k] == '$' || p->s[k] >= 0x80)) k++;
            if (k >= p->n || p->s[k] != '>' || k == name)
                return rerr(p, open, CF_EFORMAT, "bad group name in (?<name>...)");
            p->pos = k + 1;
            if (p->nnames < (int)(sizeof p->names / sizeof *p->names)) {
                p->names[p->nnames].pos = name;
                p->names[p->nnames].len = k - name;
                p->names[p->nnames++].group = p->a->ngroups + 1;
            }
        } else {
            return rerr(p, open, CF_EFORMAT, "invalid group syntax '(?%c' (inline flags are not ECMA-262)",
                        c < 0 ? '?' : c);
        }
    }
    if (++p->depth > CF_RE_MAX_DEPTH)
        return rerr(p, open, CF_ELIMIT, "groups nested deeper than %d", CF_RE_MAX_DEPTH);
    int group = capture ? ++p->a->ngroups : 0;
    int rc = parse_alt(p, out);
    p->depth--;
    if (rc) return rc;
    if (peek(p) != ')') return rerr(p, open, CF_EFORMAT, "missing ')' for this '('");
    p->pos++;
    if (look || (capture && (p->flags & RE_PARSE_BACKTRACK))) {
        int32_t g;
        if ((rc = new_node(p, look ? RN_LOOK : RN_GROUP, open, &g))) return rc;
        re_node *nd = &p->a->nodes[g];
        nd->child = *out;
        if (look) {
            nd->min = look == 2;
            nd->max = look_neg;
            p->a->has_bt = 1;
        } else {
            nd->set = group;
        }
        *out = g;
    }
    return 0;
}

/* An atom; *assertion = 1 for ^ $ \b \B (which cannot be quantified). */
static int parse_atom(pp *p, int32_t *out, int *assertion) {
    size_t at = p->pos;
    int c = p->s[p->pos];
    re_set s = {0};
    uint32_t cp;
    int rc;
    *assertion = 0;
    switch (c) {
    case '(': return parse_group(p, out);
    case '[': return parse_class(p, out);
    case '^':
    case '$':
        p->pos++;
        *assertion = 1;
        return new_node(p, c == '^' ? RN_BEGIN : RN_END, at, out);
    case '.':
        p->pos++;
        if (re_set_class(&s, '.')) return oom(p);
        rc = set_node(p, &s, at, out);
        re_set_free(&s);
        return rc;
    case '*':
    case '+':
    case '?': return rerr(p, at, CF_EFORMAT, "nothing to repeat before '%c'", c);
    case '{':
        if (is_quant_start(p)) return rerr(p, at, CF_EFORMAT, "nothing to repeat before '{'");
        p->pos++;
        cp = '{';
        break;
    case '\\': {
        p->pos++;
        int e = peek(p);
        if (e == 'b' || e == 'B') {
            p->pos++;
            *assertion = 1;
            p->a->has_wordb = 1;
            return new_node(p, e == 'b' ? RN_WORDB : RN_NWORDB, at, out);
        }
        if (e == 'd' || e == 'D' || e == 'w' || e == 'W' || e == 's' || e == 'S' || e == 'p' || e == 'P') {
            p->pos++;
            rc = (e == 'p' || e == 'P') ? prop_escape(p, at, e == 'P', &s) : (re_set_class(&s, (char)e) ? oom(p) : 0);
            if (!rc) rc = set_node(p, &s, at, out);
            re_set_free(&s);
            return rc;
        }
        if ((e >= '1' && e <= '9') || e == 'k') {
            if (!(p->flags & RE_PARSE_BACKTRACK)) return char_escape(p, at, 0, &cp);
            int32_t g = 0;
            int32_t name_pos = -1, name_len = 0;
            if (e == 'k') {
                if (p->pos + 1 >= p->n || p->s[p->pos + 1] != '<')
                    return rerr(p, at, CF_EFORMAT, "\\k must be followed by <name>");
                size_t k = p->pos + 2;
                while (k < p->n && p->s[k] != '>') k++;
                if (k >= p->n) return rerr(p, at, CF_EFORMAT, "missing '>' in \\k<name>");
                name_pos = (int32_t)(p->pos + 2);
                name_len = (int32_t)(k - p->pos - 2);
                p->pos = k + 1;
            } else {
                while (!at_end(p) && p->s[p->pos] >= '0' && p->s[p->pos] <= '9' && g < 100000)
                    g = g * 10 + (p->s[p->pos++] - '0');
            }
            if ((rc = new_node(p, RN_BACKREF, at, out))) return rc;
            p->a->nodes[*out].set = g;
            p->a->nodes[*out].min = name_pos;   /* resolved after parsing */
            p->a->nodes[*out].max = name_len;
            p->a->has_bt = 1;
            return 0;
        }
        if ((rc = char_escape(p, at, 0, &cp))) return rc;
        break;
    }
    default:
        if ((rc = read_cp(p, &cp))) return rc;
    }
    if (re_set_add(&s, cp, cp)) return oom(p);
    rc = set_node(p, &s, at, out);
    re_set_free(&s);
    return rc;
}

static int parse_term(pp *p, int32_t *out) {
    int assertion;
    size_t at = p->pos;
    int rc = parse_atom(p, out, &assertion);
    if (rc) return rc;
    if (!is_quant_start(p)) return 0;
    size_t qpos = p->pos;
    if (assertion || p->a->nodes[*out].kind == RN_LOOK)
        return rerr(p, qpos, CF_EFORMAT, "an assertion (^ $ \\b \\B or a lookaround) cannot be repeated");
    int64_t mn, mx;
    int c = p->s[p->pos];
    if (c == '*') mn = 0, mx = -1, p->pos++;
    else if (c == '+') mn = 1, mx = -1, p->pos++;
    else if (c == '?') mn = 0, mx = 1, p->pos++;
    else brace_quant(p, &mn, &mx);
    if (mx >= 0 && mn > mx) return rerr(p, qpos, CF_EFORMAT, "numbers out of order in {%lld,%lld}", (long long)mn, (long long)mx);
    if (mn > CF_RE_MAX_REPEAT || mx > CF_RE_MAX_REPEAT)
        return rerr(p, qpos, CF_ELIMIT, "repetition count above the cap of %d", CF_RE_MAX_REPEAT);
    if (peek(p) == '?') p->pos++;   /* lazy: same language */
    if (is_quant_start(p)) return rerr(p, p->pos, CF_EFORMAT, "nothing to repeat (quantifier after a quantifier)");
    int32_t r;
    if ((rc = new_node(p, RN_REP, at, &r))) return rc;
    re_node *nd = &p->a->nodes[r];
    nd->child = *out;
    nd->min = (int32_t)mn;
    nd->max = (int32_t)mx;
    *out = r;
    return 0;
}

/* Builds a CAT/ALT node from a list (or returns the single item / an EMPTY node). */
static int list_node(pp *p, re_kind k, int32_t first, int count, size_t pos, int32_t *out) {
    if (count == 1) return *out = first, 0;
    if (count == 0) return new_node(p, RN_EMPTY, pos, out);
    int rc = new_node(p, k, pos, out);
    if (!rc) p->a->nodes[*out].child = first;
    return rc;
}

static int parse_cat(pp *p, int32_t *out) {
    size_t at = p->pos;
    int32_t first = -1, last = -1;
    int count = 0;
    while (!at_end(p) && p->s[p->pos] != '|' && p->s[p->pos] != ')') {
        int32_t t;
        int rc = parse_term(p, &t);
        if (rc) return rc;
        if (last >= 0) p->a->nodes[last].next = t;
        else first = t;
        last = t;
        count++;
    }
    return list_node(p, RN_CAT, first, count, at, out);
}

static int parse_alt(pp *p, int32_t *out) {
    size_t at = p->pos;
    int32_t first = -1, last = -1;
    int count = 0;
    for (;;) {
        int32_t t;
        int rc = parse_cat(p, &t);
        if (rc) return rc;
        if (last >= 0) p->a->nodes[last].next = t;
        else first = t;
        last = t;
        count++;
        if (peek(p) != '|') break;
        p->pos++;
    }
    return list_node(p, RN_ALT, first, count, at, out);
}

/* Resolves backreference numbers and names once every group is known. */
static int resolve_backrefs(pp *p) {
    for (size_t i = 0; i < p->a->n; i++) {
        re_node *nd = &p->a->nodes[i];
        if (nd->kind != RN_BACKREF) continue;
        if (nd->min >= 0) {
            nd->set = 0;
            for (int k = 0; k < p->nnames; k++)
                if (p->names[k].len == (size_t)nd->max && !memcmp(p->s + p->names[k].pos, p->s + nd->min, p->names[k].len))
                    nd->set = p->names[k].group;
            if (!nd->set) return cf_errf(p->err, CF_EFORMAT, "column %d: \\k<%.*s> names no group", nd->col, nd->max, p->s + nd->min);
        } else if (nd->set > p->a->ngroups) {
            return cf_errf(p->err, CF_EFORMAT, "column %d: backreference \\%d to a group that does not exist", nd->col, nd->set);
        }
    }
    return 0;
}

int re_parse(const char *pat, size_t len, unsigned flags, re_ast *ast, cf_err *err) {
    memset(ast, 0, sizeof *ast);
    ast->root = -1;
    if (len > CF_RE_MAX_PATTERN)
        return cf_errf(err, CF_ELIMIT, "column 1: pattern of %zu bytes exceeds the cap of %d", len, CF_RE_MAX_PATTERN);
    pp p = {.s = (const unsigned char *)pat, .n = len, .a = ast, .err = err, .col = 1, .flags = flags};
    int rc = parse_alt(&p, &ast->root);
    if (!rc && !at_end(&p)) rc = rerr(&p, p.pos, CF_EFORMAT, "unmatched ')'");
    if (!rc && ast->has_bt) rc = resolve_backrefs(&p);
    if (rc) re_ast_free(ast);
    return rc;
}

void re_ast_free(re_ast *ast) {
    for (size_t i = 0; i < ast->nsets; i++) re_set_free(&ast->sets[i]);
    free(ast->sets);
    free(ast->nodes);
    memset(ast, 0, sizeof *ast);
    ast->root = -1;
}
