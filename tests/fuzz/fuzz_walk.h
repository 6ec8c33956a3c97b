/* Shared by the grammar fuzz targets: byte-level matcher invariants (constraint.h).
 * walk_bytes feeds `s` to a fresh matcher at once and to another byte by byte and checks:
 *   - the whole feed succeeds iff every single-byte feed does;
 *   - a refused byte leaves the matcher unchanged (completeness is the same before and after, and
 *     the refused feed's error is CF_EINVAL with a message);
 *   - a complete matcher can always take EOS semantics: is_complete implies !finished;
 *   - with FUZZ_DEADEND=1 in the environment: !can_continue implies is_complete (a prefix with no
 *     continuation that is not a document; grammars with empty rules and schema combos can make
 *     such prefixes, so this is off by default).
 * Returns 1 if all of s was accepted and the matcher is complete (s is a whole document). */
#ifndef FUZZ_WALK_H
#define FUZZ_WALK_H
#include <stdint.h>
#include <stdlib.h>

#include "sampler/constraint.h"

static int walk_deadend_check(void) {
    static int v = -1;
    if (v < 0) {
        const char *s = getenv("FUZZ_DEADEND");
        v = s && *s == '1';
    }
    return v;
}

static int walk_bytes(cf_constraint *c, const uint8_t *s, size_t n) {
    cf_matcher *all = NULL, *one = NULL;
    cf_err e = {0};
    if (cf_matcher_new(&all, c, &e) || cf_matcher_new(&one, c, &e)) abort();
    int start_complete = cf_matcher_is_complete(all);
    int rc_all = cf_matcher_feed(all, s, n, &e);
    if (rc_all && (rc_all != CF_EINVAL || !e.msg[0] || cf_matcher_is_complete(all) != start_complete)) abort();
    size_t k = 0;
    for (; k < n; k++) {
        int before = cf_matcher_is_complete(one);
        int cont = cf_matcher_can_continue(one);
        if (!cont && !before && walk_deadend_check()) abort();
        cf_err e1 = {0};
        int r = cf_matcher_feed(one, s + k, 1, &e1);
        if (r) {
            if (r != CF_EINVAL || !e1.msg[0]) abort();
            if (cf_matcher_is_complete(one) != before) abort();
            break;
        }
    }
    if ((rc_all == 0) != (k == n)) abort();
    int whole = k == n && cf_matcher_is_complete(one);
    if (rc_all == 0 && cf_matcher_is_complete(all) != cf_matcher_is_complete(one)) abort();
    if (cf_matcher_is_finished(one)) abort();   /* bytes never consume EOS */
    /* reset gives back the start state */
    cf_matcher_reset(one);
    if (cf_matcher_feed(one, s, k, &e)) abort();
    cf_matcher_free(all);
    cf_matcher_free(one);
    return whole;
}

#endif
