/* libFuzzer target: the JSON Schema compiler (sampler/schema.h) and the byte-level matcher over
 * the grammar it produces, with the validator (validate.h) as the fzs_oracle.
 * Input: byte 0 = options (bit 0 strict, bit 1 lenient, bits 2-3 pick max_ws from {16, 0, 1, 4});
 * then schema JSON text up to the first NUL byte; then an instance (any bytes).
 * Invariants (abort on violation):
 *   - a refused schema gives a documented code, no grammar, and a message naming the place
 *     ("schema at <pointer>" or the JSON line/column);
 *   - an accepted schema passes cf_grammar_check and compiles to a constraint (or CF_ELIMIT /
 *     CF_ENOMEM for an oversized automaton, CF_EINVAL when it matches nothing);
 *   - the byte-walk invariants of fuzz_walk.h on the raw instance bytes and on the instance
 *     re-written compactly;
 *   - soundness: bytes the matcher accepts as a whole document parse as JSON and the validator
 *     does not call them invalid (not checked in lenient mode, which drops keywords, nor for the
 *     documented email-domain relaxation). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "sampler/validate.h"
#include "tests/fuzz/fuzz_walk.h"

#define FZS_FEED_MAX 2048   /* instance bytes fed to the matcher */

static const int fzs_ws[4] = {16, 0, 1, 4};

static void fzs_oracle(const cf_json *schema, const uint8_t *s, size_t n) {
    cf_json_doc *d = NULL;
    cf_err e = {0};
    if (cf_json_parse((const char *)s, n, &d, &e)) abort();   /* accepted bytes that are not JSON */
    cf_err why = {0};
    int r = cf_schema_validate(schema, cf_json_root(d), &why);
    if (r == CF_EINVAL && !strstr(why.msg, "email")) abort();    /* accepted an invalid document */
    cf_json_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    o.strict = data[0] & 1;
    o.lenient = (data[0] >> 1) & 1;
    o.max_ws = fzs_ws[(data[0] >> 2) & 3];
    const uint8_t *p = data + 1;
    size_t rest = size - 1;
    const uint8_t *nul = memchr(p, 0, rest);
    size_t jl = nul ? (size_t)(nul - p) : rest;
    const uint8_t *inst = nul ? nul + 1 : p + rest;
    size_t il = nul ? rest - jl - 1 : 0;
    if (il > FZS_FEED_MAX) il = FZS_FEED_MAX;

    cf_grammar *g = NULL;
    cf_err e = {0};
    int rc = cf_schema_compile((const char *)p, jl, &o, &g, &e);
    if (rc) {
        if (g) abort();
        if (rc != CF_EFORMAT && rc != CF_EINVAL && rc != CF_EUNSUPPORTED && rc != CF_ELIMIT && rc != CF_ENOMEM)
            abort();
        if (e.code != rc || !e.msg[0]) abort();
        if (rc != CF_ENOMEM && !strstr(e.msg, "schema") && !strstr(e.msg, "line")) abort();
        return 0;
    }
    if (!g || cf_grammar_check(g, &e)) abort();
    int lenient_used = g->warnings != NULL;
    cf_constraint *c = NULL;
    rc = cf_constraint_new(&c, g, NULL, &e);   /* takes g */
    if (rc) {
        /* CF_EINVAL: the grammar matches nothing (e.g. an empty class, schema false) */
        if (c || (rc != CF_EINVAL && rc != CF_ELIMIT && rc != CF_ENOMEM) || !e.msg[0]) abort();
        return 0;
    }
    cf_json_doc *sd = NULL;
    if (cf_json_parse((const char *)p, jl, &sd, &e)) abort();   /* it compiled, so it parses */
    const cf_json *schema = cf_json_root(sd);
    if (walk_bytes(c, inst, il) && !lenient_used) fzs_oracle(schema, inst, il);
    /* the same instance written compactly: reaches documents that raw mutations rarely do */
    cf_json_doc *id = NULL;
    if (!cf_json_parse((const char *)inst, il, &id, &e)) {
        size_t wl = 0;
        char *w = cf_json_write(cf_json_root(id), &wl);
        if (w && walk_bytes(c, (const uint8_t *)w, wl) && !lenient_used) fzs_oracle(schema, (const uint8_t *)w, wl);
        free(w);
        cf_json_free(id);
    }
    cf_json_free(sd);
    cf_constraint_free(c);
    return 0;
}
