/* libFuzzer target: the ECMA regex compiler and its lazy byte DFA (sampler/regex.h).
 * Input: byte 0 = options (bit 0: also allow CF_RE_BACKTRACK), then the pattern up to the first
 * NUL byte, then the subject string (at most FZR_SUBJECT_MAX bytes are used).  The pattern is
 * compiled in both modes (CF_RE_SEARCH and CF_RE_FULL).  Invariants (abort on violation):
 *   - a failed compile gives a documented code, no regex, and a message with the column;
 *   - both modes accept or refuse a pattern alike (unless one hits a cap);
 *   - stepping the DFA byte by byte over the subject agrees with cf_regex_match on every checked
 *     prefix (unless a DFA cap overflowed, which cf_regex_overflowed must then report);
 *   - after the dead state (-1) or a state cf_regex_live calls dead, no extension matches;
 *   - a full match implies a search match. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/regex.h"

#define FZR_SUBJECT_MAX 512      /* bytes of subject used: stepping cost is bounded by this */
#define FZR_PREFIX_MAX 64  /* every prefix up to this length is checked with cf_regex_match */

/* Steps the subject; returns the match result of the whole subject by the DFA, or -2 when a cap
 * overflowed (then no comparison is possible).  Checks prefixes against cf_regex_match. */
static int fzr_step_all(cf_regex *re, const uint8_t *s, size_t n) {
    int32_t start = cf_regex_start(re), st = start;   /* -1: the pattern matches nothing */
    int doomed = 0;   /* a non-live state was reached: nothing from here on may match */
    for (size_t i = 0;; i++) {
        if (st >= 0) {
            int acc = cf_regex_accepting(re, st);
            if (i <= FZR_PREFIX_MAX && cf_regex_match(re, (const char *)s, i) != acc) abort();
            if (doomed && acc) abort();
            if (!cf_regex_live(re, st)) doomed = 1;
        } else if (i <= FZR_PREFIX_MAX && cf_regex_match(re, (const char *)s, i) != 0) {
            /* dead: no prefix from here on may match, unless the cap made it look dead */
            cf_err e;
            if (!cf_regex_overflowed(re, &e)) abort();
            return -2;
        }
        if (i == n) break;
        if (st >= 0) {
            st = cf_regex_next(re, st, s[i]);
            if (st < 0) {
                cf_err e = {0};
                if (cf_regex_overflowed(re, &e)) {
                    if (e.code != CF_ELIMIT || !e.msg[0]) abort();
                    return -2;
                }
            }
        }
    }
    return st >= 0 ? cf_regex_accepting(re, st) : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int bt = data[0] & 1 ? CF_RE_BACKTRACK : 0;
    const uint8_t *pat = data + 1;
    size_t rest = size - 1;
    const uint8_t *nul = memchr(pat, 0, rest);
    size_t plen = nul ? (size_t)(nul - pat) : rest;
    const uint8_t *subj = nul ? nul + 1 : pat + rest;
    size_t slen = nul ? rest - plen - 1 : 0;
    if (slen > FZR_SUBJECT_MAX) slen = FZR_SUBJECT_MAX;

    int res[2] = {0, 0}, rcs[2];
    for (int mode = 0; mode < 2; mode++) {
        cf_regex *re = NULL;
        cf_err e = {0};
        int rc = cf_regex_compile((const char *)pat, plen, mode | bt, &re, &e);
        rcs[mode] = rc;
        if (rc) {
            if (re) abort();
            if (rc != CF_EFORMAT && rc != CF_EUNSUPPORTED && rc != CF_ELIMIT && rc != CF_ENOMEM) abort();
            if (e.code != rc || !e.msg[0]) abort();
            if (rc != CF_ENOMEM && !strstr(e.msg, "column")) abort();
            res[mode] = -3;
            continue;
        }
        size_t ns, ds, db;
        cf_regex_stats(re, &ns, &ds, &db);
        if (cf_regex_is_dfa(re)) {
            int r = fzr_step_all(re, subj, slen);
            int m = cf_regex_match(re, (const char *)subj, slen);
            if (m != 0 && m != 1) abort();
            if (r >= 0 && r != m) abort();
            res[mode] = m;
        } else {
            if (!bt) abort();   /* only CF_RE_BACKTRACK may give a non-DFA regex */
            if (cf_regex_start(re) != -1) abort();
            int m = cf_regex_match(re, (const char *)subj, slen);
            if (m < -1 || m > 1) abort();
            res[mode] = m;
        }
        cf_regex_free(re);
    }
    /* the search wrapper adds NFA states, so only a cap may make the modes disagree */
    if ((rcs[0] == 0) != (rcs[1] == 0) && rcs[0] != CF_ELIMIT && rcs[1] != CF_ELIMIT && rcs[0] != CF_ENOMEM &&
        rcs[1] != CF_ENOMEM)
        abort();
    if (res[1] == 1 && res[0] == 0) abort();   /* full match without a search match */
    return 0;
}
