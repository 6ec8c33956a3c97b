/* libFuzzer target: the GBNF parser (sampler/gbnf.h) and the byte-level matcher over what it
 * accepts (constraint.h, no vocabulary).
 * Input: grammar text up to the first NUL byte; the bytes after it are fed to a matcher.
 * Invariants (abort on violation):
 *   - a refused grammar gives a documented code, no grammar, and "line L column C" (or a rule
 *     name from the grammar check);
 *   - an accepted grammar passes cf_grammar_check, dumps, and compiles to a constraint (or is
 *     refused with CF_ELIMIT / CF_ENOMEM for an oversized automaton, CF_EINVAL when it matches
 *     nothing);
 *   - the byte-walk invariants of fuzz_walk.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/constraint.h"
#include "sampler/gbnf.h"
#include "tests/fuzz/fuzz_walk.h"

#define FZG_FEED_MAX 1024   /* bytes fed to the matcher */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t gl = nul ? (size_t)(nul - data) : size;
    const uint8_t *s = nul ? nul + 1 : data + size;
    size_t sl = nul ? size - gl - 1 : 0;
    if (sl > FZG_FEED_MAX) sl = FZG_FEED_MAX;
    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_gbnf_parse((const char *)data, gl, &g, &e);
    if (rc) {
        if (g) abort();
        if (rc != CF_EFORMAT && rc != CF_ELIMIT && rc != CF_ENOMEM) abort();
        if (e.code != rc || !e.msg[0]) abort();
        return 0;
    }
    if (!g || g->nrules < 1 || cf_grammar_check(g, &e)) abort();
    char *dump = cf_grammar_dump(g);
    free(dump);
    cf_constraint *c = NULL;
    rc = cf_constraint_new(&c, g, NULL, &e);   /* takes g */
    if (rc) {
        /* CF_EINVAL: the grammar matches nothing (e.g. an empty class, schema false) */
        if (c || (rc != CF_EINVAL && rc != CF_ELIMIT && rc != CF_ENOMEM) || !e.msg[0]) abort();
        return 0;
    }
    walk_bytes(c, s, sl);
    cf_constraint_free(c);
    return 0;
}
