/* Regex: ECMA syntax and semantics, errors with columns, caps, the byte-level DFA API (exact
 * liveness), a differential test against a backtracking interpreter of the AST, the official
 * JSON-Schema-Test-Suite pattern groups and every pattern in maskbench-dev. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/clock.h"
#include "sampler/json.h"
#include "sampler/re_internal.h"
#include "sampler/regex.h"
#include "tests/testutil.h"

/* Bounds for the pathological-repetition checks (this machine compiles each in a few ms). */
#define REP_COMPILE_MAX_S 0.5
#define REP_DFA_MAX_BYTES (16u << 20)
/* Random differential testing. */
#define DIFF_PATTERNS 3000
#define DIFF_STRINGS 40
#define INTERP_STEP_LIMIT 200000
#define LIVE_EXT_LEN 3
#define LIVE_CHECKS_PER_PATTERN 3

static cf_regex *compile_ok(const char *p, int mode) {
    cf_regex *re = NULL;
    cf_err e = {0};
    int rc = cf_regex_compile(p, strlen(p), mode, &re, &e);
    ck_assert_msg(rc == 0, "compile /%s/ failed: %s", p, e.msg);
    return re;
}

static int m1(const char *p, int mode, const char *s) {
    cf_regex *re = compile_ok(p, mode);
    int r = cf_regex_match(re, s, strlen(s));
    cf_regex_free(re);
    return r;
}

typedef struct {
    const char *pat;
    int mode;
    const char *s;
    int want;
} mcase;

static const mcase MATCHES[] = {
    {"abc", CF_RE_SEARCH, "xxabcxx", 1},
    {"abc", CF_RE_FULL, "xxabcxx", 0},
    {"abc", CF_RE_FULL, "abc", 1},
    {"^abc", CF_RE_SEARCH, "abcx", 1},
    {"^abc", CF_RE_SEARCH, "xabc", 0},
    {"abc$", CF_RE_SEARCH, "xabc", 1},
    {"abc$", CF_RE_SEARCH, "abc\n", 0},
    {"^a|b$", CF_RE_SEARCH, "ax", 1},
    {"^a|b$", CF_RE_SEARCH, "xb", 1},
    {"^a|b$", CF_RE_SEARCH, "xa", 0},
    {"(^a)", CF_RE_SEARCH, "ba", 0},
    {"a^b", CF_RE_SEARCH, "ab", 0},
    {"$^", CF_RE_SEARCH, "", 1},
    {"$^", CF_RE_SEARCH, "a", 0},
    {"^$", CF_RE_SEARCH, "", 1},
    {"", CF_RE_SEARCH, "anything", 1},
    {"", CF_RE_FULL, "", 1},
    {"", CF_RE_FULL, "a", 0},
    {"a*", CF_RE_SEARCH, "zzz", 1},
    {"^a*$", CF_RE_SEARCH, "aaa", 1},
    {"^a*$", CF_RE_SEARCH, "aab", 0},
    {"^a+?$", CF_RE_SEARCH, "aa", 1},
    {"^(ab)+$", CF_RE_SEARCH, "ababab", 1},
    {"^(ab)+$", CF_RE_SEARCH, "ababa", 0},
    {"^(?:ab|cd){2,3}$", CF_RE_SEARCH, "abcd", 1},
    {"^(?:ab|cd){2,3}$", CF_RE_SEARCH, "abcdabcd", 0},
    {"^(?<year>\\d{4})-(?<m>\\d{2})$", CF_RE_SEARCH, "2024-05", 1},
    {"^a{3}$", CF_RE_SEARCH, "aaa", 1},
    {"^a{3}$", CF_RE_SEARCH, "aaaa", 0},
    {"^a{2,}$", CF_RE_SEARCH, "a", 0},
    {"^a{2,}$", CF_RE_SEARCH, "aaaaa", 1},
    {"^a{0}$", CF_RE_SEARCH, "", 1},
    {"^\\d{2}:\\d{2}(:\\d{2})?$", CF_RE_SEARCH, "12:34", 1},
    {"^\\d{2}:\\d{2}(:\\d{2})?$", CF_RE_SEARCH, "12:34:56", 1},
    {"^\\d{2}:\\d{2}(:\\d{2})?$", CF_RE_SEARCH, "12:34:5", 0},
    {"^\\d{2}:\\d{2}(:\\d{2})?$", CF_RE_SEARCH, "1:34", 0},
    /* dot and line terminators */
    {"^.$", CF_RE_SEARCH, "\xc3\xa9", 1},
    {"^.$", CF_RE_SEARCH, "\xf0\x9f\x90\xb2", 1},
    {"^.$", CF_RE_SEARCH, "\n", 0},
    {"^.$", CF_RE_SEARCH, "\r", 0},
    {"^.$", CF_RE_SEARCH, "\xe2\x80\xa8", 0},
    {"^.$", CF_RE_SEARCH, "\xe2\x80\xa7", 1},
    {"^[\\s\\S]$", CF_RE_SEARCH, "\n", 1},
    {"^[^]$", CF_RE_SEARCH, "\n", 1},
    {"^[]$", CF_RE_SEARCH, "", 0},
    {"a[]b|c", CF_RE_SEARCH, "ab", 0},
    {"a[]b|c", CF_RE_SEARCH, "c", 1},
    /* classes and escapes */
    {"^\\d$", CF_RE_SEARCH, "\xdf\x80", 0},
    {"^\\D$", CF_RE_SEARCH, "\xdf\x80", 1},
    {"^\\w$", CF_RE_SEARCH, "_", 1},
    {"^\\w$", CF_RE_SEARCH, "\xc3\xa9", 0},
    {"^\\W$", CF_RE_SEARCH, "\xc3\xa9", 1},
    {"^\\s$", CF_RE_SEARCH, "\xef\xbb\xbf", 1},
    {"^\\s$", CF_RE_SEARCH, "\xe2\x80\x83", 1},
    {"^\\s$", CF_RE_SEARCH, "\x0b", 1},
    {"^\\s$", CF_RE_SEARCH, "\xe2\x80\x93", 0},
    {"^\\S$", CF_RE_SEARCH, "\x01", 1},
    {"^[a-z]+$", CF_RE_SEARCH, "hello", 1},
    {"^[a-z]+$", CF_RE_SEARCH, "hEllo", 0},
    {"^[^a-z]+$", CF_RE_SEARCH, "ABC\xc3\xa9", 1},
    {"^[\\d-z]+$", CF_RE_SEARCH, "1-z", 1},
    {"^[a\\-z]+$", CF_RE_SEARCH, "-", 1},
    {"^[a\\-z]+$", CF_RE_SEARCH, "b", 0},
    {"^[-a]$", CF_RE_SEARCH, "-", 1},
    {"^[a-]$", CF_RE_SEARCH, "-", 1},
    {"^[\\b]$", CF_RE_SEARCH, "\b", 1},
    {"^[\\]]$", CF_RE_SEARCH, "]", 1},
    {"^[[]$", CF_RE_SEARCH, "[", 1},
    {"^\\t$", CF_RE_SEARCH, "\t", 1},
    {"^\\t$", CF_RE_SEARCH, "\\t", 0},
    {"^\\cC$", CF_RE_SEARCH, "\x03", 1},
    {"^\\cc$", CF_RE_SEARCH, "\x03", 1},
    {"^\\x41\\u0042\\u{43}$", CF_RE_SEARCH, "ABC", 1},
    {"^\\ud83d\\udc32*$", CF_RE_SEARCH, "\xf0\x9f\x90\xb2\xf0\x9f\x90\xb2", 1},
    {"^\\ud83d\\udc32*$", CF_RE_SEARCH, "\xf0\x9f\x90\x89", 0},
    {"^\xf0\x9f\x90\xb2*$", CF_RE_SEARCH, "", 1},
    {"^[\xf0\x9f\x90\x80-\xf0\x9f\x90\xbf]$", CF_RE_SEARCH, "\xf0\x9f\x90\x89", 1},
    {"^[\\u{1F400}-\\u{1F43F}]$", CF_RE_SEARCH, "\xf0\x9f\x91\x80", 0},
    {"^\\0$", CF_RE_SEARCH, "", 0},
    {"^\\/\\-\\@\\_\\#$", CF_RE_SEARCH, "/-@_#", 1},
    {"^\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\$", CF_RE_SEARCH, ".*+?()[]{}|^$\\", 1},
    /* Annex-B literals */
    {"^{x}$", CF_RE_SEARCH, "{x}", 1},
    {"^a{,2}$", CF_RE_SEARCH, "a{,2}", 1},
    {"^a}$", CF_RE_SEARCH, "a}", 1},
    {"^]$", CF_RE_SEARCH, "]", 1},
    {"/{env}/{platform}", CF_RE_SEARCH, "x/{env}/{platform}", 1},
    /* word boundaries */
    {"\\bfoo\\b", CF_RE_SEARCH, "a foo b", 1},
    {"\\bfoo\\b", CF_RE_SEARCH, "afoo", 0},
    {"\\bfoo\\b", CF_RE_SEARCH, "foo", 1},
    {"\\bfoo\\b", CF_RE_SEARCH, "foo_", 0},
    {"\\bfoo\\b", CF_RE_SEARCH, "\xc3\xa9" "foo\xc3\xa9", 1},
    {"\\Bfoo", CF_RE_SEARCH, "afoo", 1},
    {"\\Bfoo", CF_RE_SEARCH, " foo", 0},
    {"^\\B$", CF_RE_SEARCH, "", 1},
    {"^\\b$", CF_RE_SEARCH, "", 0},
    {"a\\bb", CF_RE_SEARCH, "ab", 0},
    {"a\\b", CF_RE_SEARCH, "xa", 1},
    {"\\.[a-z]{1,6}\\b([-a-z]*)$", CF_RE_SEARCH, "x.com", 1},
    /* nested / empty loops */
    {"^(a*)*$", CF_RE_SEARCH, "aaaa", 1},
    {"^(a*)*$", CF_RE_SEARCH, "aaab", 0},
    {"^(a|)*b$", CF_RE_SEARCH, "aab", 1},
    {"^((a|b)*c){3}$", CF_RE_SEARCH, "abcbcc", 1},
    {"^((a|b)*c){3}$", CF_RE_SEARCH, "abcbc", 0},
    {"^(?:a?){5}a{5}$", CF_RE_SEARCH, "aaaaaaa", 1},
};

START_TEST(test_matches) {
    for (size_t i = 0; i < sizeof MATCHES / sizeof *MATCHES; i++) {
        const mcase *c = &MATCHES[i];
        ck_assert_msg(m1(c->pat, c->mode, c->s) == c->want, "/%s/ %s on \"%s\": want %d", c->pat,
                      c->mode == CF_RE_FULL ? "full" : "search", c->s, c->want);
    }
}
END_TEST

typedef struct {
    const char *pat;
    int code;
    const char *msg;
} ecase;

static const ecase ERRORS[] = {
    {"[", CF_EFORMAT, "column 1: missing ']'"},
    {"ab[cd", CF_EFORMAT, "column 3: missing ']'"},
    {"(ab", CF_EFORMAT, "column 1: missing ')'"},
    {"ab)", CF_EFORMAT, "column 3: unmatched ')'"},
    {"a{2,1}", CF_EFORMAT, "column 2: numbers out of order"},
    {"\\", CF_EFORMAT, "column 1: pattern ends with a lone '\\'"},
    {"a\\", CF_EFORMAT, "column 2:"},
    {"*a", CF_EFORMAT, "nothing to repeat"},
    {"a**", CF_EFORMAT, "column 3: nothing to repeat"},
    {"a{2}{3}", CF_EFORMAT, "nothing to repeat"},
    {"(?<=a)b", CF_EUNSUPPORTED, "column 1: lookbehind"},
    {"(?<!a)b", CF_EUNSUPPORTED, "lookbehind"},
    {"x(?=a)", CF_EUNSUPPORTED, "column 2: lookahead"},
    {"(?!a)", CF_EUNSUPPORTED, "lookahead"},
    {"(a)\\1", CF_EUNSUPPORTED, "column 4: backreferences"},
    {"(?<n>a)\\k<n>", CF_EUNSUPPORTED, "named backreferences"},
    {"(?i)abc", CF_EFORMAT, "inline flags"},
    {"(?P<n>a)", CF_EFORMAT, "Python-style"},
    {"a(?#c)", CF_EFORMAT, "column 2: comment groups"},
    {"[z-a]", CF_EFORMAT, "range out of order"},
    {"\\a", CF_EFORMAT, "unknown escape '\\a'"},
    {"\\Z", CF_EFORMAT, "unknown escape"},
    {"\\x4", CF_EFORMAT, "2 hex digits"},
    {"\\u12", CF_EFORMAT, "4 hex digits"},
    {"\\u{110000}", CF_EFORMAT, "above U+10FFFF"},
    {"\\c1", CF_EFORMAT, "\\c must be followed"},
    {"\\p{NoSuchProperty}", CF_EUNSUPPORTED, "unknown or unsupported Unicode property"},
    {"\\pL", CF_EFORMAT, "\\p must be followed by {"},
    {"^*", CF_EFORMAT, "cannot be repeated"},
    {"\\b+", CF_EFORMAT, "cannot be repeated"},
    {"a{1001}", CF_ELIMIT, "column 2: repetition count above the cap of 1000"},
    {"a{1,5000}", CF_ELIMIT, "cap of 1000"},
    {"(a{1000}){1000}", CF_ELIMIT, "column 1: repetition expands to more than"},
    {"x(?<1a>b)", CF_EFORMAT, "column 2: bad group name"},
    {"\xff", CF_EFORMAT, "invalid UTF-8"},
    {"[\\B]", CF_EFORMAT, "\\B is not allowed"},
    {"\\01", CF_EUNSUPPORTED, "octal"},
};

START_TEST(test_errors) {
    for (size_t i = 0; i < sizeof ERRORS / sizeof *ERRORS; i++) {
        const ecase *c = &ERRORS[i];
        cf_regex *re = NULL;
        cf_err e = {0};
        int rc = cf_regex_compile(c->pat, strlen(c->pat), CF_RE_SEARCH, &re, &e);
        ck_assert_msg(rc == c->code, "/%s/: rc %d (%s), want %d", c->pat, rc, e.msg, c->code);
        ck_assert_ptr_null(re);
        ck_assert_msg(strstr(e.msg, c->msg) != NULL, "/%s/: message '%s' lacks '%s'", c->pat, e.msg, c->msg);
    }
    /* deep nesting and long patterns hit caps, not the stack */
    size_t n = 100000;
    char *p = malloc(2 * n + 2);
    memset(p, '(', n);
    memset(p + n, ')', n);
    cf_regex *re;
    cf_err e;
    ck_assert_int_eq(cf_regex_compile(p, 2 * n, CF_RE_SEARCH, &re, &e), CF_ELIMIT);
    memset(p, '(', CF_RE_MAX_DEPTH);
    memset(p + CF_RE_MAX_DEPTH, ')', CF_RE_MAX_DEPTH);
    ck_assert_int_eq(cf_regex_compile(p, CF_RE_MAX_DEPTH * 2, CF_RE_SEARCH, &re, &e), 0);   /* at the cap */
    ck_assert(cf_regex_match(re, "x", 1));
    cf_regex_free(re);
    ck_assert_int_eq(cf_regex_compile(p, CF_RE_MAX_DEPTH * 2 - 1, CF_RE_SEARCH, &re, &e), CF_EFORMAT);
    memset(p, 'a', 2 * n);
    ck_assert_int_eq(cf_regex_compile(p, 2 * n, CF_RE_SEARCH, &re, &e), CF_ELIMIT);
    free(p);
}
END_TEST

/* Big repetitions compile in bounded time and memory; report the numbers. */
START_TEST(test_repetition_caps) {
    const char *pats[] = {"a{1000}", "(a|b){0,1000}", "[a-z]{1,255}", "((a|b)*c){500}", ".{0,1000}",
                          "(a*)*b", "[^\"\\\\]{0,1000}", "(\\w+\\s?){1,100}"};
    for (size_t i = 0; i < sizeof pats / sizeof *pats; i++) {
        double t0 = cf_now_s();
        cf_regex *re = compile_ok(pats[i], CF_RE_FULL);
        double dt = cf_now_s() - t0;
        /* walk a long accepted-ish input through the DFA to build states */
        char buf[1200];
        for (size_t k = 0; k < sizeof buf; k++) buf[k] = "abcab"[k % 5];
        t0 = cf_now_s();
        int32_t s = cf_regex_start(re);
        size_t steps = 0;
        for (size_t k = 0; k < sizeof buf && s >= 0; k++, steps++) s = cf_regex_next(re, s, (uint8_t)buf[k]);
        double dt2 = cf_now_s() - t0;
        size_t nfa, dfa, bytes;
        cf_regex_stats(re, &nfa, &dfa, &bytes);
        printf("regex caps: /%s/ compile %.2f ms, %zu NFA states; %zu steps in %.2f ms -> %zu DFA states, %zu KiB\n",
               pats[i], dt * 1e3, nfa, steps, dt2 * 1e3, dfa, bytes >> 10);
        ck_assert_msg(dt < REP_COMPILE_MAX_S, "/%s/ compile took %.3f s", pats[i], dt);
        ck_assert_uint_le(bytes, REP_DFA_MAX_BYTES);
        ck_assert(!cf_regex_overflowed(re, NULL));
        cf_regex_free(re);
    }
    cf_regex *re = compile_ok("a{1000}", CF_RE_FULL);
    char a[1001];
    memset(a, 'a', sizeof a);
    ck_assert(cf_regex_match(re, a, 1000));
    ck_assert(!cf_regex_match(re, a, 999));
    ck_assert(!cf_regex_match(re, a, 1001));
    cf_regex_free(re);
    re = compile_ok("^(a|b){0,1000}$", CF_RE_SEARCH);
    ck_assert(cf_regex_match(re, a, 1000));
    ck_assert(!cf_regex_match(re, a, 1001));
    cf_regex_free(re);
}
END_TEST

/* The DFA overflows its state cap on (a|b)*a(a|b){16} (2^17 states); match stays exact. */
START_TEST(test_dfa_overflow) {
    cf_regex *re = compile_ok("(a|b)*a(a|b){16}", CF_RE_FULL);
    uint64_t st = 7;
    char buf[4096];
    int overflowed = 0;
    for (int it = 0; it < 400; it++) {
        size_t n = 17 + tu_rand_u64(&st) % 2000;
        for (size_t k = 0; k < n; k++) buf[k] = (tu_rand_u64(&st) & 1) ? 'a' : 'b';
        int want = buf[n - 17] == 'a';
        ck_assert_int_eq(cf_regex_match(re, buf, n), want);
        overflowed |= cf_regex_overflowed(re, NULL);
    }
    cf_err e;
    ck_assert(overflowed);
    ck_assert(cf_regex_overflowed(re, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "cap"));
    size_t bytes;
    cf_regex_stats(re, NULL, NULL, &bytes);
    ck_assert_uint_le(bytes, CF_RE_MAX_DFA_BYTES);
    cf_regex_free(re);
}
END_TEST

/* Stepping API: accepting, live, dead state, search-mode stickiness. */
START_TEST(test_dfa_api) {
    cf_regex *re = compile_ok("^\\d{2}:\\d{2}(:\\d{2})?$", CF_RE_SEARCH);
    int32_t s = cf_regex_start(re);
    ck_assert_int_ge(s, 0);
    ck_assert(cf_regex_live(re, s) && !cf_regex_accepting(re, s));
    const char *in = "12:34";
    for (const char *c = in; *c; c++) s = cf_regex_next(re, s, (uint8_t)*c);
    ck_assert(cf_regex_accepting(re, s) && cf_regex_live(re, s));
    int32_t t = cf_regex_next(re, s, ':');
    ck_assert(!cf_regex_accepting(re, t) && cf_regex_live(re, t));
    ck_assert_int_eq(cf_regex_next(re, s, 'x'), -1);
    ck_assert(!cf_regex_live(re, -1) && !cf_regex_accepting(re, -1));
    ck_assert_int_eq(cf_regex_next(re, -1, 'a'), -1);
    cf_regex_free(re);
    /* search: once matched, everything is accepted; mid-UTF-8 states are not accepting */
    re = compile_ok("ab", CF_RE_SEARCH);
    s = cf_regex_start(re);
    s = cf_regex_next(re, cf_regex_next(re, s, 'a'), 'b');
    ck_assert(cf_regex_accepting(re, s));
    int32_t u = cf_regex_next(re, s, 0xC3);
    ck_assert(!cf_regex_accepting(re, u) && cf_regex_live(re, u));
    ck_assert(cf_regex_accepting(re, cf_regex_next(re, u, 0xA9)));
    ck_assert_int_eq(cf_regex_next(re, s, 0xFF), -1);   /* never valid UTF-8 */
    cf_regex_free(re);
    /* a pattern that can never match: start is dead */
    re = compile_ok("a[]", CF_RE_SEARCH);
    ck_assert(!cf_regex_live(re, cf_regex_start(re)));
    cf_regex_free(re);
    re = compile_ok("a^b", CF_RE_SEARCH);
    ck_assert(!cf_regex_live(re, cf_regex_start(re)));
    cf_regex_free(re);
    /* ^ search: after a wrong first byte the DFA is dead at once */
    re = compile_ok("^abc", CF_RE_SEARCH);
    ck_assert_int_eq(cf_regex_next(re, cf_regex_start(re), 'x'), -1);
    cf_regex_free(re);
    /* \b liveness: "a\bb" can never match from the start */
    re = compile_ok("^a\\bb", CF_RE_SEARCH);
    ck_assert(!cf_regex_live(re, cf_regex_start(re)));
    cf_regex_free(re);
    re = compile_ok("^a\\b", CF_RE_SEARCH);
    s = cf_regex_next(re, cf_regex_start(re), 'a');
    ck_assert(cf_regex_live(re, s) && cf_regex_accepting(re, s));
    t = cf_regex_next(re, s, 'b');
    ck_assert(!cf_regex_live(re, t));
    ck_assert(cf_regex_live(re, cf_regex_next(re, s, ' ')));
    cf_regex_free(re);
}
END_TEST

/* ---- backtracking interpreter over the AST (the oracle) ---------------------------------- */

typedef struct {
    const re_ast *a;
    const uint32_t *cp;
    int n;
    long steps;
    int full;
} interp;

typedef struct {
    int32_t node;
    int32_t count;   /* REP: iterations done; -2 - pos for a progress check */
} item;

static int in_set(const re_set *s, uint32_t c) {
    for (size_t i = 0; i < s->n; i++)
        if (c >= s->r[i].lo && c <= s->r[i].hi) return 1;
    return 0;
}
static int wordc(uint32_t c) { return c < 128 && ((c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c == '_'); }

static int run(interp *it, item *stk, int ns, int pos) {
    if (++it->steps > INTERP_STEP_LIMIT) return 0;
    if (ns == 0) return it->full ? pos == it->n : 1;
    item top = stk[ns - 1];
    ns--;
    item *st = stk;
    if (top.node == -1) return pos != -2 - top.count ? run(it, st, ns, pos) : 0;   /* progress check */
    const re_node *nd = &it->a->nodes[top.node];
    switch (nd->kind) {
    case RN_EMPTY: return run(it, st, ns, pos);
    case RN_SET: return pos < it->n && in_set(&it->a->sets[nd->set], it->cp[pos]) && run(it, st, ns, pos + 1);
    case RN_BEGIN: return pos == 0 && run(it, st, ns, pos);
    case RN_END: return pos == it->n && run(it, st, ns, pos);
    case RN_WORDB:
    case RN_NWORDB: {
        int a = pos > 0 && wordc(it->cp[pos - 1]), b = pos < it->n && wordc(it->cp[pos]);
        return ((a != b) == (nd->kind == RN_WORDB)) && run(it, st, ns, pos);
    }
    case RN_CAT: {
        int k = 0;
        for (int32_t c = nd->child; c >= 0; c = it->a->nodes[c].next) k++;
        int i = k;
        for (int32_t c = nd->child; c >= 0; c = it->a->nodes[c].next) st[ns + --i] = (item){c, 0};
        return run(it, st, ns + k, pos);
    }
    case RN_ALT:
        for (int32_t c = nd->child; c >= 0; c = it->a->nodes[c].next) {
            item save[512];
            memcpy(save, st, (size_t)ns * sizeof *st);
            st[ns] = (item){c, 0};
            if (run(it, st, ns + 1, pos)) return 1;
            memcpy(st, save, (size_t)ns * sizeof *st);
        }
        return 0;
    case RN_REP: {
        item save[512];
        memcpy(save, st, (size_t)ns * sizeof *st);
        if (top.count < nd->min) {
            st[ns] = (item){top.node, top.count + 1};
            st[ns + 1] = (item){nd->child, 0};
            return run(it, st, ns + 2, pos);
        }
        if (nd->max < 0 || top.count < nd->max) {
            st[ns] = (item){top.node, top.count + 1};
            st[ns + 1] = (item){-1, -2 - pos};
            st[ns + 2] = (item){nd->child, 0};
            if (run(it, st, ns + 3, pos)) return 1;
            memcpy(st, save, (size_t)ns * sizeof *st);
        }
        return run(it, st, ns, pos);
    }
    default: return 0;   /* groups/lookaround/backrefs are not generated here */
    }
    return 0;
}

/* 1/0, or -1 if the step limit was hit. */
static int interp_match(const re_ast *a, int full, const uint32_t *cp, int n) {
    interp it = {a, cp, n, 0, full};
    static item stk[1 << 14];
    for (int start = 0; start <= (full ? 0 : n); start++) {
        stk[0] = (item){a->root, 0};
        if (run(&it, stk, 1, start)) return 1;
        if (it.steps > INTERP_STEP_LIMIT) return -1;
    }
    return 0;
}

static const char *ATOMS[] = {"a", "b", " ", ".", "[ab]", "[^a]", "\\w", "\\s", "\\W", "\xc3\xa9", "^", "$", "\\b",
                              "\\B", "[a-c\xc3\xa9]", "\\d", "[]", "(?:)", "[^]"};
static const char *QUANTS[] = {"", "", "", "*", "+", "?", "{0,2}", "{1,3}", "{2}", "*?", "{2,}"};
static const char *ALPHA[] = {"a", "b", " ", "\xc3\xa9", "\n", "1", "c"};

static void gen(uint64_t *st, char *out, size_t cap, int depth) {
    int n = 1 + (int)(tu_rand_u64(st) % 3);
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        if (l + 40 > cap) return;
        uint64_t r = tu_rand_u64(st);
        int is_assert = 0;
        if (depth < 3 && r % 5 == 0) {
            strcat(out, "(");
            gen(st, out, cap, depth + 1);
            if (r % 3 == 0) {
                strcat(out, "|");
                gen(st, out, cap, depth + 1);
            }
            strcat(out, ")");
        } else {
            const char *a = ATOMS[(r >> 8) % (sizeof ATOMS / sizeof *ATOMS)];
            is_assert = a[0] == '^' || a[0] == '$' || (a[0] == '\\' && (a[1] == 'b' || a[1] == 'B'));
            strcat(out, a);
        }
        if (!is_assert) strcat(out, QUANTS[(r >> 20) % (sizeof QUANTS / sizeof *QUANTS)]);
        if (depth == 0 && r % 11 == 0) strcat(out, "|");
    }
}

static int to_cps(const char *s, uint32_t *cp) {
    int n = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        if (*u < 0x80) cp[n++] = *u++;
        else cp[n++] = ((u[0] & 0x1Fu) << 6) | (u[1] & 0x3Fu), u += 2;   /* only 2-byte letters here */
    }
    return n;
}

/* DFA match == interpreter on random patterns/strings; live() is sound and (within a bounded
 * extension search) complete. */
START_TEST(test_differential) {
    uint64_t st = 12345;
    long compared = 0, live_checked = 0, live_unconfirmed = 0;
    for (int it = 0; it < DIFF_PATTERNS; it++) {
        char pat[256] = "";
        gen(&st, pat, sizeof pat, 0);
        int mode = (int)(tu_rand_u64(&st) % 2);
        re_ast ast;
        cf_err e;
        if (re_parse(pat, strlen(pat), 0, &ast, &e)) {
            ck_assert_msg(0, "generated pattern /%s/ failed to parse: %s", pat, e.msg);
        }
        cf_regex *re = compile_ok(pat, mode);
        for (int k = 0; k < DIFF_STRINGS; k++) {
            char s[64] = "";
            int len = (int)(tu_rand_u64(&st) % 7);
            for (int j = 0; j < len; j++) strcat(s, ALPHA[tu_rand_u64(&st) % (sizeof ALPHA / sizeof *ALPHA)]);
            uint32_t cp[64];
            int n = to_cps(s, cp);
            int want = interp_match(&ast, mode == CF_RE_FULL, cp, n);
            if (want < 0) continue;
            int got = cf_regex_match(re, s, strlen(s));
            ck_assert_msg(got == want, "/%s/ %s on \"%s\": dfa %d, interpreter %d", pat, mode ? "full" : "search", s,
                          got, want);
            compared++;
            /* liveness of the state after s: compare with a search over short extensions */
            if (k >= LIVE_CHECKS_PER_PATTERN) continue;
            int32_t ds = cf_regex_start(re);
            for (size_t j = 0; j < strlen(s) && ds >= 0; j++) ds = cf_regex_next(re, ds, (uint8_t)s[j]);
            int live = cf_regex_live(re, ds);
            int found = 0, unknown = 0;
            /* enumerate extensions over ALPHA up to LIVE_EXT_LEN */
            int idx[LIVE_EXT_LEN + 1] = {0};
            for (int L = 0; L <= LIVE_EXT_LEN && !found; L++) {
                memset(idx, 0, sizeof idx);
                for (;;) {
                    char t[128];
                    strcpy(t, s);
                    for (int q = 0; q < L; q++) strcat(t, ALPHA[idx[q]]);
                    uint32_t c2[128];
                    int r = interp_match(&ast, mode == CF_RE_FULL, c2, to_cps(t, c2));
                    if (r < 0) unknown = 1;
                    if (r == 1) {
                        found = 1;
                        break;
                    }
                    int q = 0;
                    while (q < L && ++idx[q] == (int)(sizeof ALPHA / sizeof *ALPHA)) idx[q++] = 0;
                    if (q == L) break;
                }
            }
            if (found) ck_assert_msg(live, "/%s/ after \"%s\": live() = 0 but an extension matches", pat, s);
            else if (live && !unknown) live_unconfirmed++;   /* needs a longer witness */
            live_checked++;
        }
        cf_regex_free(re);
        re_ast_free(&ast);
    }
    printf("regex differential: %ld matches compared, %ld live() checks (%ld live with no extension <= %d found)\n",
           compared, live_checked, live_unconfirmed, LIVE_EXT_LEN);
    ck_assert_int_gt(compared, DIFF_PATTERNS * 5);
}
END_TEST

/* ---- shared data ------------------------------------------------------------------------- */

/* Runs every group of a suite file whose schema has a string `pattern`: for string data,
 * valid == matches.  Returns tests run; *fails counts mismatches (printed). */
static int suite_file(const char *rel, int *fails) {
    size_t n;
    char *txt = tu_read_file(tu_shared(rel), &n);
    if (!txt) return 0;
    cf_json_doc *d;
    cf_err e;
    ck_assert_msg(cf_json_parse(txt, n, &d, &e) == 0, "%s: %s", rel, e.msg);
    const cf_json *groups = cf_json_root(d);
    int ran = 0;
    for (size_t g = 0; g < groups->len; g++) {
        const cf_json *pat = cf_json_pointer(groups->items[g], "/schema/pattern");
        if (!pat || pat->type != CF_JSON_STRING) continue;
        cf_regex *re;
        if (cf_regex_compile(pat->str, pat->len, CF_RE_SEARCH, &re, &e)) {
            printf("%s: /%s/ does not compile: %s\n", rel, pat->str, e.msg);
            (*fails)++;
            continue;
        }
        const cf_json *tests = cf_json_get(groups->items[g], "tests");
        for (size_t t = 0; t < tests->len; t++) {
            const cf_json *data = cf_json_get(tests->items[t], "data");
            const cf_json *valid = cf_json_get(tests->items[t], "valid");
            if (data->type != CF_JSON_STRING) continue;
            int got = cf_regex_match(re, data->str, data->len);
            if (got != valid->b) {
                printf("%s: /%s/ on %s: got %d\n", rel, pat->str, cf_json_get(tests->items[t], "description")->str, got);
                (*fails)++;
            }
            ran++;
        }
        cf_regex_free(re);
    }
    cf_json_free(d);
    free(txt);
    return ran;
}

START_TEST(test_suite_patterns) {
    if (!tu_have_shared()) return;
    const char *files[] = {"schemas/json-schema-test-suite-draft2020-12/pattern.json",
                           "schemas/json-schema-test-suite-draft2020-12/optional/ecmascript-regex.json",
                           "schemas/json-schema-test-suite-draft2020-12/optional/non-bmp-regex.json"};
    int fails = 0, ran = 0;
    for (size_t i = 0; i < 3; i++) {
        int r = suite_file(files[i], &fails);
        printf("regex suite %s: %d string tests\n", files[i], r);
        ran += r;
    }
    ck_assert_int_gt(ran, 40);
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* Collects `pattern` strings and patternProperties keys. */
static void collect(const cf_json *v, const cf_json ***out, size_t *n, size_t *cap) {
    if (v->type == CF_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            if (!strcmp(v->keys[i], "pattern") && v->items[i]->type == CF_JSON_STRING) {
                if (*n == *cap) *out = realloc(*out, (*cap = *cap * 2 + 64) * sizeof **out);
                (*out)[(*n)++] = v->items[i];
            }
            collect(v->items[i], out, n, cap);
        }
    } else if (v->type == CF_JSON_ARRAY) {
        for (size_t i = 0; i < v->len; i++) collect(v->items[i], out, n, cap);
    }
}

START_TEST(test_maskbench_patterns) {
    if (!tu_have_shared()) return;
    DIR *dp = opendir(tu_shared("schemas/maskbench-dev"));
    ck_assert_ptr_nonnull(dp);
    struct dirent *de;
    int files = 0, total = 0, ok = 0, unsupported = 0;
    double worst = 0;
    while ((de = readdir(dp))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 5, ".json")) continue;
        char rel[600];
        snprintf(rel, sizeof rel, "schemas/maskbench-dev/%s", de->d_name);
        size_t n;
        char *txt = tu_read_file(tu_shared(rel), &n);
        cf_json_doc *d;
        cf_err e;
        ck_assert_int_eq(cf_json_parse(txt, n, &d, &e), 0);
        const cf_json **pats = NULL;
        size_t np = 0, cap = 0;
        const cf_json *schema = cf_json_get(cf_json_root(d), "schema");
        if (schema) collect(schema, &pats, &np, &cap);
        for (size_t i = 0; i < np; i++) {
            cf_regex *re;
            double t0 = cf_now_s();
            int rc = cf_regex_compile(pats[i]->str, pats[i]->len, CF_RE_SEARCH, &re, &e);
            double dt = cf_now_s() - t0;
            if (dt > worst) worst = dt;
            total++;
            if (rc == 0) {
                ok++;
                cf_regex_free(re);
            } else {
                /* refusals must be precise: unsupported feature with a column */
                ck_assert_msg(rc == CF_EUNSUPPORTED && strncmp(e.msg, "column ", 7) == 0, "%s: /%s/: %s", de->d_name,
                              pats[i]->str, e.msg);
                unsupported++;
            }
        }
        free(pats);
        cf_json_free(d);
        free(txt);
        files++;
    }
    closedir(dp);
    printf("maskbench patterns: %d in %d files: %d compile, %d refused (unsupported); slowest compile %.2f ms\n", total,
           files, ok, unsupported, worst * 1e3);
    ck_assert_int_gt(total, 900);
    ck_assert_int_ge(ok, total - 20);
}
END_TEST

/* Random syntax soup: every pattern compiles or fails with a column; compiled ones match and step
 * without trouble (run under ASan in `make asan`). */
START_TEST(test_hostile) {
    static const char *const PIECES[] = {"(", ")", "[", "]", "{", "}", "*", "+", "?", "|", "^", "$", ".", "\\", "a",
                                         "b", "-", ",", "1", "2", "0", "\\d", "\\b", "\\p{L}", "\\u{1F600}",
                                         "\\ud83d", "(?:", "(?<n>", "(?=", "\\k<n>", "\\1", "\xc3\xa9", "\xff", "{2,1}",
                                         "{1000}", "{3}", "[^", "\\c", "\\x4"};
    uint64_t st = 99;
    int ok = 0, bad = 0;
    for (int it = 0; it < 20000; it++) {
        char pat[128] = "";
        int np = 1 + (int)(tu_rand_u64(&st) % 10);
        for (int k = 0; k < np; k++) strcat(pat, PIECES[tu_rand_u64(&st) % (sizeof PIECES / sizeof *PIECES)]);
        int mode = (int)(tu_rand_u64(&st) % 2) | ((tu_rand_u64(&st) % 2) ? CF_RE_BACKTRACK : 0);
        cf_regex *re = NULL;
        cf_err e = {0};
        int rc = cf_regex_compile(pat, strlen(pat), mode, &re, &e);
        if (rc) {
            ck_assert_ptr_null(re);
            ck_assert_msg(strncmp(e.msg, "column ", 7) == 0, "/%s/: '%s'", pat, e.msg);
            bad++;
            continue;
        }
        ok++;
        const char *inputs[] = {"", "a", "ab-1", "\xc3\xa9\xf0\x9f\x98\x80", "aaaaaaaaaaaaaaaaaaaaaaaab", "\xff\xfe"};
        for (size_t k = 0; k < sizeof inputs / sizeof *inputs; k++) {
            int m = cf_regex_match(re, inputs[k], strlen(inputs[k]));
            ck_assert(m >= -1 && m <= 1);
            int32_t ds = cf_regex_start(re);
            for (const char *c = inputs[k]; *c && ds >= 0; c++) ds = cf_regex_next(re, ds, (uint8_t)*c);
            (void)cf_regex_live(re, ds);
        }
        cf_regex_free(re);
    }
    printf("regex hostile: %d random patterns compiled, %d refused with a column\n", ok, bad);
    ck_assert_int_gt(ok, 1000);
    ck_assert_int_gt(bad, 1000);
}
END_TEST

/* CF_RE_BACKTRACK: lookaround and backreferences, match-only, bounded. */
START_TEST(test_backtrack) {
    static const struct {
        const char *pat, *s;
        int want;
    } C[] = {
        {"^(?!pattern$).*$", "pattern", 0},
        {"^(?!pattern$).*$", "patterns", 1},
        {"^(?!^lucene\\.|builtin\\.|mongodb\\.).*", "lucene.x", 0},
        {"^(?!^lucene\\.|builtin\\.|mongodb\\.).*", "mylucene.x", 1},
        {"((?:[^/]*/)*)(?=\\.(yaml|yml|json))", "a/b/.yaml", 1},
        {"((?:[^/]*/)*)(?=\\.(yaml|yml|json))", "a/b/x.txt", 0},
        {"^(?!.*://)(?=.{1,255}$)((.{1,63}\\.){1,127}(?![0-9]*$)[a-z0-9-]+\\.?)$", "example.com", 1},
        {"^(?!.*://)(?=.{1,255}$)((.{1,63}\\.){1,127}(?![0-9]*$)[a-z0-9-]+\\.?)$", "http://example.com", 0},
        {"^(?!.*://)(?=.{1,255}$)((.{1,63}\\.){1,127}(?![0-9]*$)[a-z0-9-]+\\.?)$", "1.2.3.4", 0},
        {"(?<=\\$)\\d+", "cost $42", 1},
        {"(?<=\\$)\\d+", "cost 42", 0},
        {"(?<!\\$)\\b\\d+", "cost $42", 0},
        {"^(a+)b\\1$", "aabaa", 1},
        {"^(a+)b\\1$", "aaba", 0},
        {"^(?<q>['\"]).*\\k<q>$", "'x'", 1},
        {"^(?<q>['\"]).*\\k<q>$", "'x\"", 0},
        {"^\\d{2}:\\d{2}$", "12:34", 1},   /* no lookaround: still an automaton */
    };
    for (size_t i = 0; i < sizeof C / sizeof *C; i++) {
        cf_regex *re = compile_ok(C[i].pat, CF_RE_SEARCH | CF_RE_BACKTRACK);
        ck_assert_msg(cf_regex_match(re, C[i].s, strlen(C[i].s)) == C[i].want, "/%s/ on %s", C[i].pat, C[i].s);
        cf_regex_free(re);
    }
    cf_regex *re = compile_ok("^\\d$", CF_RE_SEARCH | CF_RE_BACKTRACK);
    ck_assert(cf_regex_is_dfa(re));
    cf_regex_free(re);
    re = compile_ok("^(?!z)(a|a)*b$", CF_RE_SEARCH | CF_RE_BACKTRACK);
    ck_assert(!cf_regex_is_dfa(re));
    ck_assert_int_eq(cf_regex_start(re), -1);
    ck_assert_int_eq(cf_regex_next(re, 0, 'a'), -1);
    char a[64];
    memset(a, 'a', sizeof a);
    ck_assert_int_eq(cf_regex_match(re, a, 10), 0);
    ck_assert_int_eq(cf_regex_match(re, a, sizeof a), -1);   /* exponential: the step cap */
    cf_regex_free(re);
    cf_err e;
    ck_assert_int_eq(cf_regex_compile("(a)\\2", 6, CF_RE_BACKTRACK, &re, &e), CF_EFORMAT);
    ck_assert_int_eq(cf_regex_compile("\\k<x>(?<y>a)", 12, CF_RE_BACKTRACK, &re, &e), CF_EFORMAT);
    ck_assert_int_eq(cf_regex_compile("(?=a)*", 6, CF_RE_BACKTRACK, &re, &e), CF_EFORMAT);
}
END_TEST

int main(void) {
    Suite *s = suite_create("regex");
    TCase *tc = tcase_create("regex");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matches);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_repetition_caps);
    tcase_add_test(tc, test_dfa_overflow);
    tcase_add_test(tc, test_dfa_api);
    tcase_add_test(tc, test_differential);
    tcase_add_test(tc, test_backtrack);
    tcase_add_test(tc, test_hostile);
    tcase_add_test(tc, test_suite_patterns);
    tcase_add_test(tc, test_maskbench_patterns);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
