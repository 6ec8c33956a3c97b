#include "tools/constrain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler/gbnf.h"

static char *read_all(const char *path, size_t *len, cf_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cf_errf(err, CF_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    while (s) {
        if (n + 1 >= cap) {
            char *t = cap > CLI_MAX_SCHEMA_FILE ? NULL : realloc(s, cap * 2);
            if (!t) break;
            s = t;
            cap *= 2;
        }
        size_t k = fread(s + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    int bad = !s || ferror(f) || n + 1 >= cap;
    fclose(f);
    if (bad) {
        cf_errf(err, s && n + 1 >= cap ? CF_ELIMIT : CF_EIO, "%s: %s", path,
                s && n + 1 >= cap ? "file larger than the 16 MiB cap" : "read error or out of memory");
        free(s);
        return NULL;
    }
    s[n] = 0;
    *len = n;
    return s;
}

int cli_schema_load_text(cli_schema *s, const char *text, size_t len, const char *what, int is_gbnf,
                         const cf_schema_opts *o, const cf_cons_vocab *v, cf_err *err) {
    memset(s, 0, sizeof *s);
    s->is_gbnf = is_gbnf;
    cf_grammar *g = NULL;
    int rc;
    if (is_gbnf) {
        rc = cf_gbnf_parse(text, len, &g, err);
    } else {
        rc = cf_schema_compile(text, len, o, &g, err);
        if (!rc) rc = cf_json_parse(text, len, &s->doc, err);
        if (!rc) rc = cf_validator_new(cf_json_root(s->doc), &s->val, err);
    }
    if (!rc && g && g->warnings) s->warnings = strdup(g->warnings);
    if (!rc) {
        rc = cf_constraint_new(&s->cons, g, v, err);
        g = NULL;
    }
    cf_grammar_free(g);
    if (rc) {
        cf_err_prefix(err, "%s", what);
        cli_schema_free(s);
    }
    return rc;
}

int cli_schema_load_file(cli_schema *s, const char *path, int is_gbnf, const cf_schema_opts *o,
                         const cf_cons_vocab *v, cf_err *err) {
    memset(s, 0, sizeof *s);
    size_t len = 0;
    char *text = read_all(path, &len, err);
    if (!text) return err ? err->code : CF_EIO;
    int rc = cli_schema_load_text(s, text, len, path, is_gbnf, o, v, err);
    free(text);
    return rc;
}

void cli_schema_free(cli_schema *s) {
    cf_constraint_free(s->cons);
    cf_validator_free(s->val);
    cf_json_free(s->doc);
    free(s->warnings);
    memset(s, 0, sizeof *s);
}

int cli_schema_check(cli_schema *s, const char *text, size_t len, cf_err *why) {
    if (s->is_gbnf) {
        cf_matcher *m = NULL;
        if (!s->cons || cf_matcher_new(&m, s->cons, why)) return -1;
        int fed = cf_matcher_feed(m, text, len, why);
        int ok = !fed && (cf_matcher_is_complete(m) || cf_matcher_is_finished(m));
        if (!fed && !ok) cf_errf(why, CF_EINVAL, "the text is a prefix of the grammar's language, not a whole document");
        cf_matcher_free(m);
        return ok;
    }
    if (!s->val) return -1;
    cf_json_doc *d = NULL;
    if (cf_json_parse(text, len, &d, why)) {
        cf_err_prefix(why, "not JSON");
        return 0;
    }
    int rc = cf_validator_check(s->val, cf_json_root(d), why);
    cf_json_free(d);
    return rc == 0 ? 1 : rc == CF_EINVAL ? 0 : -1;
}
