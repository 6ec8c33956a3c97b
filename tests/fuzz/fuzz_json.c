/* libFuzzer target: the JSON parser (sampler/json.h) on arbitrary bytes.
 * Invariants checked (abort on violation):
 *   - a failed parse returns a non-zero code from the documented set, no document, a message;
 *   - an accepted document serializes (cf_json_write), re-parses, is cf_json_equal to the
 *     original, and serializing again gives the same bytes (writing is a fixed point);
 *   - every object member and array item is reachable by an RFC 6901 pointer built from its
 *     path, and the pointer resolves to the node cf_json_get / items[] return;
 *   - cf_json_quote of the raw input always parses back to a string, equal to the input when
 *     the input is valid UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/unicode.h"
#include "sampler/json.h"

#define FZJ_PTR_CAP 4096        /* pointer buffer; deeper / longer paths are not checked */
#define FZJ_WALK_MAX 256  /* nodes checked by pointer per input (keeps executions fast) */

typedef struct {
    const cf_json *root;
    char ptr[FZJ_PTR_CAP];
    int budget;
} fzj_walker;

/* Appends "/<escaped key>" at ptr[len]; returns the new length or 0 if it does not fit. */
static size_t fzj_push_token(char *ptr, size_t len, const char *k, size_t kl) {
    if (len + 1 >= FZJ_PTR_CAP) return 0;
    ptr[len++] = '/';
    for (size_t i = 0; i < kl; i++) {
        const char *rep = k[i] == '~' ? "~0" : k[i] == '/' ? "~1" : NULL;
        size_t rl = rep ? 2 : 1;
        if (len + rl >= FZJ_PTR_CAP) return 0;
        if (rep) memcpy(ptr + len, rep, 2);
        else ptr[len] = k[i];
        len += rl;
    }
    ptr[len] = 0;
    return len;
}

static void fzj_walk(fzj_walker *w, const cf_json *v, size_t len) {
    if (w->budget-- <= 0) return;
    if (v->type == CF_JSON_OBJECT) {
        for (size_t i = 0; i < v->len; i++) {
            if (memchr(v->keys[i], 0, v->key_lens[i]) || v->key_lens[i] >= 1024) continue;  /* not expressible */
            size_t nl = fzj_push_token(w->ptr, len, v->keys[i], v->key_lens[i]);
            if (!nl) continue;
            const cf_json *want = cf_json_get(v, v->keys[i]);
            if (!want) abort();                           /* a member's own key must be found */
            if (cf_json_pointer(w->root, w->ptr) != want) abort();
            if (want == v->items[i]) fzj_walk(w, want, nl);   /* last duplicate: the one that counts */
            w->ptr[len] = 0;
        }
    } else if (v->type == CF_JSON_ARRAY) {
        for (size_t i = 0; i < v->len; i++) {
            char idx[24];
            size_t il = (size_t)snprintf(idx, sizeof idx, "%zu", i);
            size_t nl = fzj_push_token(w->ptr, len, idx, il);
            if (!nl) break;
            if (cf_json_pointer(w->root, w->ptr) != v->items[i]) abort();
            fzj_walk(w, v->items[i], nl);
            w->ptr[len] = 0;
        }
    }
}

static void fzj_check_quote(const uint8_t *data, size_t size) {
    size_t ql = 0;
    char *q = cf_json_quote((const char *)data, size, &ql);
    if (!q) return;   /* OOM */
    cf_json_doc *d = NULL;
    cf_err e = {0};
    if (cf_json_parse(q, ql, &d, &e)) abort();
    const cf_json *r = cf_json_root(d);
    if (r->type != CF_JSON_STRING) abort();
    if (cf_utf8_valid(data, size) && (r->len != size || memcmp(r->str, data, size))) abort();
    cf_json_free(d);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cf_json_doc *d = NULL;
    cf_err e = {0};
    int rc = cf_json_parse((const char *)data, size, &d, &e);
    if (size <= 4096) fzj_check_quote(data, size);
    if (rc) {
        if (d) abort();
        if (rc != CF_EFORMAT && rc != CF_ELIMIT && rc != CF_ENOMEM) abort();
        if (e.code != rc || !e.msg[0]) abort();
        return 0;
    }
    const cf_json *root = cf_json_root(d);
    size_t n1 = 0, n2 = 0;
    char *w1 = cf_json_write(root, &n1);
    if (!w1) abort();
    cf_json_doc *d2 = NULL;
    if (cf_json_parse(w1, n1, &d2, &e)) abort();
    if (!cf_json_equal(root, cf_json_root(d2)) || !cf_json_equal(cf_json_root(d2), root)) abort();
    char *w2 = cf_json_write(cf_json_root(d2), &n2);
    if (!w2 || n2 != n1 || memcmp(w1, w2, n1)) abort();
    fzj_walker *wk = calloc(1, sizeof *wk);
    wk->root = root;
    wk->budget = FZJ_WALK_MAX;
    if (cf_json_pointer(root, "") != root) abort();
    fzj_walk(wk, root, 0);
    free(wk);
    free(w1);
    free(w2);
    cf_json_free(d2);
    cf_json_free(d);
    return 0;
}
