/* GBNF parser (llama.cpp dialect) -> grammar IR. */
#include "sampler/gbnf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    cf_grammar *g;
    cf_err *err;
    int failed;
    size_t *first_use;   /* per rule: offset of first reference (+1), 0 = defined before use */
    size_t nfu, capfu;
    uint8_t *defined;
} gp;

static void linecol(const gp *p, size_t off, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    for (size_t i = 0; i < off && i < p->n; i++) {
        if (p->s[i] == '\n') {
            l++;
            c = 1;
        } else if (((uint8_t)p->s[i] & 0xC0) != 0x80) c++;
    }
    *line = l;
    *col = c;
}

static int fail(gp *p, size_t off, int code, const char *what) {
    if (p->failed) return -1;
    p->failed = 1;
    size_t l, c;
    linecol(p, off, &l, &c);
    cf_errf(p->err, code, "grammar line %zu column %zu: %s", l, c, what);
    return -1;
}

static int at(const gp *p, size_t k) { return p->i + k < p->n ? (uint8_t)p->s[p->i + k] : -1; }

static void skip_space(gp *p, int newline_ok) {
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == ' ' || c == '\t') p->i++;
        else if (c == '#') {
            while (p->i < p->n && p->s[p->i] != '\n' && p->s[p->i] != '\r') p->i++;
        } else if (newline_ok && (c == '\n' || c == '\r')) p->i++;
        else break;
    }
}

static int is_word(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static size_t parse_name(gp *p) {
    size_t b = p->i;
    while (p->i < p->n && is_word((uint8_t)p->s[p->i])) p->i++;
    return p->i - b;
}

static int hexv(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes one UTF-8 code point (invalid bytes stand for themselves as U+FFFD-free raw values). */
static uint32_t dec_utf8(gp *p) {
    uint8_t c = (uint8_t)p->s[p->i];
    int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (c >= 0x80 && c < 0xC0) n = 1;
    if (p->i + (size_t)n > p->n) n = 1;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1Fu) : n == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (int k = 1; k < n; k++) {
        uint8_t d = (uint8_t)p->s[p->i + (size_t)k];
        if ((d & 0xC0) != 0x80) {
            n = 1;
            cp = c;
            break;
        }
        cp = cp << 6 | (d & 0x3Fu);
    }
    p->i += (size_t)n;
    return cp;
}

/* A character inside "..." or [...]: returns the code point, or -1 on error. */
static int64_t parse_char(gp *p) {
    if (p->i >= p->n) return fail(p, p->i, CF_EFORMAT, "unexpected end of grammar");
    if (p->s[p->i] != '\\') return dec_utf8(p);
    size_t start = p->i;
    p->i++;
    int c = at(p, 0);
    p->i++;
    int nhex = 0;
    switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '\\': return '\\';
    case '"': return '"';
    case '[': return '[';
    case ']': return ']';
    case '-': return '-';
    case '^': return '^';
    case '/': return '/';
    case 'x': nhex = 2; break;
    case 'u': nhex = 4; break;
    case 'U': nhex = 8; break;
    default: return fail(p, start, CF_EFORMAT, "unknown escape");
    }
    uint32_t v = 0;
    for (int k = 0; k < nhex; k++) {
        int h = hexv(at(p, 0));
        if (h < 0) return fail(p, p->i, CF_EFORMAT, "expected a hex digit in escape");
        v = v << 4 | (uint32_t)h;
        p->i++;
    }
    if (v > 0x10FFFF) return fail(p, start, CF_EFORMAT, "code point beyond U+10FFFF");
    return v;
}

static int utf8_enc(uint32_t c, uint8_t *o) {
    if (c < 0x80) {
        o[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (uint8_t)(0xC0 | c >> 6);
        o[1] = (uint8_t)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | c >> 12);
        o[1] = (uint8_t)(0x80 | ((c >> 6) & 63));
        o[2] = (uint8_t)(0x80 | (c & 63));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | c >> 18);
    o[1] = (uint8_t)(0x80 | ((c >> 12) & 63));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 63));
    o[3] = (uint8_t)(0x80 | (c & 63));
    return 4;
}

static cf_gx parse_alternates(gp *p, int nested, int depth);

static int32_t rule_ref(gp *p, const char *name, size_t len, size_t off) {
    int32_t r = cf_grammar_rule(p->g, name, len);
    if (r < 0) return -1;
    while ((size_t)r >= p->capfu) {
        size_t nc = p->capfu ? p->capfu * 2 : 64;
        size_t *a = realloc(p->first_use, nc * sizeof *a);
        uint8_t *d = realloc(p->defined, nc);
        if (!a || !d) {
            free(a ? a : p->first_use);
            p->first_use = NULL;
            if (d) p->defined = d;
            return -1;
        }
        memset(a + p->capfu, 0, (nc - p->capfu) * sizeof *a);
        memset(d + p->capfu, 0, nc - p->capfu);
        p->first_use = a;
        p->defined = d;
        p->capfu = nc;
    }
    if (!p->first_use[r]) p->first_use[r] = off + 1;
    return r;
}

static int parse_int(gp *p, int *out) {
    size_t b = p->i;
    long v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        v = v * 10 + (p->s[p->i] - '0');
        if (v > CF_GBNF_MAX_REPEAT) return fail(p, b, CF_ELIMIT, "repetition count too large");
        p->i++;
    }
    if (p->i == b) return 1;   /* none */
    *out = (int)v;
    return 0;
}

static cf_gx parse_sequence(gp *p, int nested, int depth) {
    cf_gx items[1024];
    int n = 0;
    cf_gx *big = NULL;
    int cap = 1024;
    cf_gx *it = items;
    for (;;) {
        if (p->failed) break;
        int c = at(p, 0);
        cf_gx e = -2;
        size_t start = p->i;
        if (c == '"') {
            p->i++;
            uint8_t buf[256];
            size_t bl = 0;
            uint8_t *lit = malloc(64);
            size_t cap2 = 64;
            if (!lit) return -1;
            for (;;) {
                if (p->i >= p->n || p->s[p->i] == '\n' || p->s[p->i] == '\r') {
                    free(lit);
                    fail(p, start, CF_EFORMAT, "unterminated literal");
                    return -1;
                }
                if (p->s[p->i] == '"') {
                    p->i++;
                    break;
                }
                int64_t cp = parse_char(p);
                if (cp < 0) {
                    free(lit);
                    return -1;
                }
                int k = utf8_enc((uint32_t)cp, buf);
                if (bl + (size_t)k > cap2) {
                    cap2 *= 2;
                    uint8_t *nl = realloc(lit, cap2);
                    if (!nl) {
                        free(lit);
                        return -1;
                    }
                    lit = nl;
                }
                memcpy(lit + bl, buf, (size_t)k);
                bl += (size_t)k;
            }
            e = cf_gx_bytes(p->g, lit, bl);
            free(lit);
        } else if (c == '[') {
            p->i++;
            int neg = 0;
            if (at(p, 0) == '^') {
                neg = 1;
                p->i++;
            }
            uint32_t *r = malloc(64 * sizeof *r);
            int nr = 0, capr = 32;
            if (!r) return -1;
            for (;;) {
                if (p->i >= p->n) {
                    free(r);
                    fail(p, start, CF_EFORMAT, "unterminated character class");
                    return -1;
                }
                if (p->s[p->i] == ']') {
                    p->i++;
                    break;
                }
                int64_t lo = parse_char(p), hi = lo;
                if (lo < 0) {
                    free(r);
                    return -1;
                }
                if (at(p, 0) == '-' && at(p, 1) != ']' && at(p, 1) >= 0) {
                    p->i++;
                    size_t ro = p->i;
                    hi = parse_char(p);
                    if (hi < 0) {
                        free(r);
                        return -1;
                    }
                    if (hi < lo) {
                        free(r);
                        fail(p, ro, CF_EFORMAT, "character range out of order");
                        return -1;
                    }
                }
                if (nr == capr) {
                    capr *= 2;
                    uint32_t *nr2 = realloc(r, (size_t)capr * 2 * sizeof *nr2);
                    if (!nr2) {
                        free(r);
                        return -1;
                    }
                    r = nr2;
                }
                r[2 * nr] = (uint32_t)lo;
                r[2 * nr + 1] = (uint32_t)hi;
                nr++;
            }
            e = cf_gx_class(p->g, r, nr, neg);
            free(r);
        } else if (c == '.') {
            p->i++;
            uint32_t r[2] = {0, 0x10FFFF};
            e = cf_gx_class(p->g, r, 1, 0);
        } else if (c == '(') {
            if (depth >= CF_GBNF_MAX_DEPTH) {
                fail(p, start, CF_ELIMIT, "parentheses nested too deeply");
                return -1;
            }
            p->i++;
            skip_space(p, 1);
            e = parse_alternates(p, 1, depth + 1);
            if (p->failed) return -1;
            if (at(p, 0) != ')') {
                fail(p, p->i, CF_EFORMAT, "expected ')'");
                return -1;
            }
            p->i++;
        } else if (c >= 0 && is_word(c)) {
            size_t nl = parse_name(p);
            /* a name followed by ::= starts the next rule: the sequence ends before it */
            size_t save = p->i;
            skip_space(p, 0);
            if (p->i + 2 < p->n + 0 && p->s[p->i] == ':' && p->s[p->i + 1] == ':' && p->s[p->i + 2] == '=') {
                p->i = start;
                break;
            }
            p->i = save;
            int32_t r = rule_ref(p, p->s + start, nl, start);
            if (r < 0) return -1;
            e = cf_gx_ref(p->g, r);
        } else {
            break;
        }
        if (e < 0) {
            if (!p->failed) fail(p, start, CF_ENOMEM, "out of memory");
            return -1;
        }
        skip_space(p, nested);
        /* postfix operators */
        for (;;) {
            int q = at(p, 0);
            if (q == '*') e = cf_gx_repeat(p->g, e, 0, -1);
            else if (q == '+') e = cf_gx_repeat(p->g, e, 1, -1);
            else if (q == '?') e = cf_gx_repeat(p->g, e, 0, 1);
            else if (q == '{') {
                size_t bo = p->i;
                p->i++;
                skip_space(p, nested);
                int m = 0, mx = -1, r1 = parse_int(p, &m);
                if (r1 < 0) return -1;
                if (r1 == 1) m = 0;
                skip_space(p, nested);
                if (at(p, 0) == ',') {
                    p->i++;
                    skip_space(p, nested);
                    int r2 = parse_int(p, &mx);
                    if (r2 < 0) return -1;
                    if (r2 == 1) mx = -1;
                } else {
                    if (r1 == 1) {
                        fail(p, bo, CF_EFORMAT, "expected a number in {...}");
                        return -1;
                    }
                    mx = m;
                }
                skip_space(p, nested);
                if (at(p, 0) != '}') {
                    fail(p, p->i, CF_EFORMAT, "expected '}'");
                    return -1;
                }
                if (mx >= 0 && mx < m) {
                    fail(p, bo, CF_EFORMAT, "repetition {m,n} with n < m");
                    return -1;
                }
                e = cf_gx_repeat(p->g, e, m, mx);
            } else break;
            p->i++;
            skip_space(p, nested);
            if (e < 0) {
                fail(p, start, CF_ENOMEM, "out of memory");
                return -1;
            }
        }
        if (n == cap) {
            cap *= 2;
            cf_gx *nb = realloc(big, (size_t)cap * sizeof *nb);
            if (!nb) {
                free(big);
                return -1;
            }
            if (!big) memcpy(nb, items, sizeof items);
            big = nb;
            it = big;
        }
        it[n++] = e;
    }
    cf_gx r = p->failed ? -1 : cf_gx_seq(p->g, it, n);
    free(big);
    return r;
}

static cf_gx parse_alternates(gp *p, int nested, int depth) {
    cf_gx alts[256];
    cf_gx *big = NULL, *a = alts;
    int n = 0, cap = 256;
    for (;;) {
        cf_gx s = parse_sequence(p, nested, depth);
        if (s < 0 || p->failed) {
            free(big);
            return -1;
        }
        if (n == cap) {
            cap *= 2;
            cf_gx *nb = realloc(big, (size_t)cap * sizeof *nb);
            if (!nb) {
                free(big);
                return -1;
            }
            if (!big) memcpy(nb, alts, sizeof alts);
            big = nb;
            a = big;
        }
        a[n++] = s;
        if (at(p, 0) != '|') break;
        p->i++;
        skip_space(p, 1);
    }
    cf_gx r = cf_gx_alt(p->g, a, n);
    free(big);
    return r;
}

int cf_gbnf_parse(const char *text, size_t len, cf_grammar **out, cf_err *err) {
    *out = NULL;
    if (!text && len) return cf_errf(err, CF_EINVAL, "grammar: no text");
    if (len > CF_GBNF_MAX_TEXT) return cf_errf(err, CF_ELIMIT, "grammar: %zu bytes exceeds the cap of %u", len, CF_GBNF_MAX_TEXT);
    gp p = {0};
    p.s = text;
    p.n = len;
    p.err = err;
    p.g = cf_grammar_new();
    if (!p.g) return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    if (rule_ref(&p, "root", 4, 0) != 0) {
        cf_grammar_free(p.g);
        free(p.first_use);
        free(p.defined);
        return cf_errf(err, CF_ENOMEM, "grammar: out of memory");
    }
    p.first_use[0] = 0;
    skip_space(&p, 1);
    while (p.i < p.n && !p.failed) {
        size_t start = p.i;
        size_t nl = parse_name(&p);
        if (!nl) {
            fail(&p, start, CF_EFORMAT, "expected a rule name");
            break;
        }
        int32_t r = rule_ref(&p, p.s + start, nl, start);
        if (r < 0) {
            fail(&p, start, CF_ENOMEM, "out of memory");
            break;
        }
        skip_space(&p, 0);
        if (!(at(&p, 0) == ':' && at(&p, 1) == ':' && at(&p, 2) == '=')) {
            fail(&p, p.i, CF_EFORMAT, "expected '::='");
            break;
        }
        p.i += 3;
        skip_space(&p, 1);
        cf_gx body = parse_alternates(&p, 0, 0);
        if (p.failed) break;
        if (body < 0) {
            fail(&p, start, CF_ENOMEM, "out of memory");
            break;
        }
        if (p.defined[r]) {
            char msg[160];
            snprintf(msg, sizeof msg, "rule '%.80s' defined twice", p.g->rules[r].name);
            fail(&p, start, CF_EFORMAT, msg);
            break;
        }
        p.defined[r] = 1;
        p.g->rules[r].src_off = start;
        cf_grammar_define(p.g, r, body);
        int c = at(&p, 0);
        if (c == '\r' || c == '\n') p.i++;
        else if (c >= 0) {
            fail(&p, p.i, CF_EFORMAT, "expected end of line after the rule");
            break;
        }
        skip_space(&p, 1);
    }
    if (!p.failed) {
        if (!p.defined[0]) fail(&p, 0, CF_EFORMAT, "no 'root' rule");
        for (int r = 1; r < p.g->nrules && !p.failed; r++)
            if (!p.defined[r]) {
                char msg[160];
                snprintf(msg, sizeof msg, "rule '%.80s' is used but never defined", p.g->rules[r].name);
                fail(&p, p.first_use[r] ? p.first_use[r] - 1 : 0, CF_EFORMAT, msg);
            }
    }
    int rc = 0;
    if (p.failed) rc = err ? err->code : CF_EFORMAT;
    else rc = cf_grammar_check(p.g, err);
    free(p.first_use);
    free(p.defined);
    if (rc) {
        cf_grammar_free(p.g);
        return rc;
    }
    *out = p.g;
    return 0;
}
