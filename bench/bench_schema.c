/* `cinfer bench schema --vocab VOCAB.gguf DIR_OR_FILES...`: JSON Schema compile time and token-mask
 * time on MaskBench-format files ({description, meta, schema, tests: [{description, valid, data}]}).
 *
 * Per schema: compile (schema -> grammar -> constraint bound to the vocabulary; timed); per test
 * document: serialize it compactly, tokenize it with the vocabulary's tokenizer (no BOS), and
 * walk the tokens: before each token the full mask is computed (timed) and must contain the
 * token; after the last one the mask must allow EOS (the document is complete).  A valid
 * document must pass, an invalid one must be stopped somewhere.  A schema passes when it
 * compiles, every valid document passes and every invalid one is stopped.  Mask times are for
 * one thread; the constraint (and its caches) is fresh per schema, the vocabulary is shared. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/kbench.h"
#include "bench/report.h"
#include "kernels/clock.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "sampler/constraint.h"
#include "sampler/json.h"
#include "sampler/schema.h"
#include "tools/cli.h"

#define CMD "bench schema"
#define MAX_REASONS 256

static void usage(FILE *f) {
    fprintf(f,
            "usage: cinfer bench schema --vocab VOCAB.gguf DIR_OR_FILE... [options]\n"
            "  --vocab FILE      GGUF holding the tokenizer (e.g. ../shared/models/vocab/ggml-vocab-llama-spm.gguf)\n"
            "  --format FMT      md (default) or json\n"
            "  --limit N         at most N schemas (files in name order)\n"
            "  --lenient         drop unenforceable keywords with a warning instead of failing\n"
            "  --strict          additionalProperties defaults to false where properties are given\n"
            "  --max-ws N        whitespace bytes allowed between JSON tokens (default 16)\n"
            "  --per-schema      list every schema (default: only those not passing)\n"
            "  --out FILE        write the report to FILE instead of stdout\n");
}

typedef struct {
    double *v;
    size_t n, cap;
} dvec;

static void dpush(dvec *d, double x) {
    if (d->n == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 4096;
        double *p = realloc(d->v, nc * sizeof *p);
        if (!p) return;
        d->v = p;
        d->cap = nc;
    }
    d->v[d->n++] = x;
}

static double pct(dvec *d, double p) {
    if (!d->n) return 0.0 / 0.0;
    size_t k = (size_t)(p * (double)(d->n - 1) + 0.5);
    return d->v[k];
}

static int cmp_s(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct {
    char **v;
    int n, cap;
} svec;

static int spush(svec *s, const char *x) {
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 256;
        char **p = realloc(s->v, (size_t)nc * sizeof *p);
        if (!p) return -1;
        s->v = p;
        s->cap = nc;
    }
    s->v[s->n] = strdup(x);
    return s->v[s->n++] ? 0 : -1;
}

static int collect(svec *files, const char *path) {
    DIR *d = opendir(path);
    if (!d) return spush(files, path);
    svec tmp = {0};
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            char *p = malloc(strlen(path) + l + 2);
            if (!p) break;
            sprintf(p, "%s/%s", path, de->d_name);
            spush(&tmp, p);
            free(p);
        }
    }
    closedir(d);
    qsort(tmp.v, (size_t)tmp.n, sizeof *tmp.v, cmp_s);
    for (int i = 0; i < tmp.n; i++) {
        spush(files, tmp.v[i]);
        free(tmp.v[i]);
    }
    free(tmp.v);
    return 0;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END)) {
        fclose(f);
        return NULL;
    }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return NULL;
    }
    char *p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = 0;
        *len = (size_t)n;
    }
    return p;
}

/* A short reason from an error: the kind, then the message without the JSON pointer prefix,
 * columns and advice. */
static void reason_of(const cf_err *e, char *out, size_t cap) {
    const char *m = e->msg;
    const char *p = strstr(m, "schema at ");
    if (p) {
        const char *q = strstr(p, ": ");
        if (q) m = q + 2;
    } else if (!strncmp(m, "schema: ", 8)) m += 8;
    char buf[200];
    size_t k = 0;
    for (const char *s = m; *s && k + 1 < sizeof buf; s++) {
        if (!strncmp(s, "column ", 7)) {
            while (*s && *s != ':') s++;
            if (!*s) break;
            s++;
            if (*s == ' ') continue;
        }
        if (!strncmp(s, " cannot be enforced", 19) || !strncmp(s, " (", 2) || !strncmp(s, " '", 2) ||
            !strncmp(s, " is not supported", 17))
            break;
        buf[k++] = *s;
    }
    buf[k] = 0;
    if (k > 60) buf[60] = 0;
    snprintf(out, cap, "%s: %.60s", cf_err_name(e->code), buf);
}

typedef struct {
    char name[96];
    int count;
} reason;

static void add_reason(reason *r, int *nr, const char *why) {
    for (int i = 0; i < *nr; i++)
        if (!strcmp(r[i].name, why)) {
            r[i].count++;
            return;
        }
    if (*nr >= MAX_REASONS) return;
    snprintf(r[*nr].name, sizeof r[*nr].name, "%s", why);
    r[*nr].count = 1;
    (*nr)++;
}

static int cmp_reason(const void *a, const void *b) {
    const reason *x = a, *y = b;
    return y->count - x->count;
}

int bench_schema_main(int argc, char **argv) {
    const char *vocab = NULL, *outp = NULL;
    int fmt = REP_MD, limit = -1, per_schema = 0;
    cf_schema_opts so;
    cf_schema_opts_default(&so);
    svec files = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--vocab")) {
            if (!(vocab = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--format")) {
            if (!(v = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
            fmt = rep_format_parse(v);
            if (fmt != REP_MD && fmt != REP_JSON) return cli_usage_error(CMD, "--format: '%s' is not md or json", v);
        } else if (!strcmp(a, "--limit")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, "--limit", v, 0, 1 << 30, &limit))
                return CLI_USAGE;
        } else if (!strcmp(a, "--max-ws")) {
            if (!(v = cli_value(CMD, argc, argv, &i)) || cli_int(CMD, "--max-ws", v, 0, 255, &so.max_ws))
                return CLI_USAGE;
        } else if (!strcmp(a, "--lenient")) {
            so.lenient = 1;
        } else if (!strcmp(a, "--strict")) {
            so.strict = 1;
        } else if (!strcmp(a, "--per-schema")) {
            per_schema = 1;
        } else if (!strcmp(a, "--out")) {
            if (!(outp = cli_value(CMD, argc, argv, &i))) return CLI_USAGE;
        } else if (a[0] == '-' && a[1]) {
            return cli_unknown(CMD, a);
        } else if (collect(&files, a)) {
            return cli_usage_error(CMD, "out of memory");
        }
    }
    if (!vocab) return cli_usage_error(CMD, "--vocab is required (see --help)");
    if (!files.n) return cli_usage_error(CMD, "no schema files given (see --help)");
    cf_err e = {0};
    cf_gguf gg;
    if (cf_gguf_open(&gg, vocab, &e)) return cli_usage_error(CMD, "%s: %s", vocab, e.msg);
    cf_tokenizer *tok = NULL;
    int rc = cf_tok_load(&tok, &gg, &e);
    cf_gguf_close(&gg);
    if (rc) return cli_usage_error(CMD, "%s: %s", vocab, e.msg);
    int64_t t0 = cf_now_ns();
    cf_cons_vocab *cv = NULL;
    if (cf_cons_vocab_new(&cv, tok, &e)) {
        cf_tok_free(tok);
        return cli_usage_error(CMD, "%s: %s", vocab, e.msg);
    }
    double vocab_ms = (double)(cf_now_ns() - t0) * 1e-6;
    int nv = cf_cons_vocab_size(cv), eos = cf_cons_vocab_eos(cv);
    uint32_t *bits = malloc(((size_t)nv + 31) / 32 * 4);
    int32_t *ids = NULL;
    int idcap = 0;
    dvec tcomp = {0}, tmask = {0};
    reason reasons[MAX_REASONS];
    int nreasons = 0;
    long n_schema = 0, n_comp = 0, n_pass = 0, n_valid = 0, n_invalid = 0, vrej = 0, iacc = 0, n_incons = 0;
    rep_table *ts = rep_new();
    int c_file = rep_col(ts, "schema", REP_STR), c_ok = rep_col(ts, "result", REP_STR),
        c_docs = rep_col(ts, "docs", REP_NUM), c_vr = rep_col(ts, "valid_rejected", REP_NUM),
        c_ia = rep_col(ts, "invalid_accepted", REP_NUM), c_ct = rep_col(ts, "compile_us", REP_NUM),
        c_mt = rep_col(ts, "mask_us_p50", REP_NUM), c_mx = rep_col(ts, "mask_us_max", REP_NUM),
        c_why = rep_col(ts, "detail", REP_STR);
    if (!bits || !ts) {
        fprintf(stderr, "cinfer %s: out of memory\n", CMD);
        return CLI_FAIL;
    }
    for (int fi = 0; fi < files.n && (limit < 0 || n_schema < limit); fi++) {
        const char *path = files.v[fi];
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t len = 0;
        char *txt = read_all(path, &len);
        cf_json_doc *doc = NULL;
        if (!txt || cf_json_parse(txt, len, &doc, &e)) {
            fprintf(stderr, "cinfer %s: %s: %s\n", CMD, path, txt ? e.msg : "cannot read");
            free(txt);
            continue;
        }
        const cf_json *root = cf_json_root(doc);
        const cf_json *schema = cf_json_get(root, "schema"), *tests = cf_json_get(root, "tests");
        if (!schema) {
            fprintf(stderr, "cinfer %s: %s: no \"schema\" member\n", CMD, path);
            cf_json_free(doc);
            free(txt);
            continue;
        }
        n_schema++;
        int64_t c0 = cf_now_ns();
        cf_grammar *g = NULL;
        cf_constraint *cons = NULL;
        rc = cf_schema_compile_json(schema, &so, &g, &e);
        if (!rc) rc = cf_constraint_new(&cons, g, cv, &e);
        double cus = (double)(cf_now_ns() - c0) * 1e-3;
        int per_docs = 0, per_vr = 0, per_ia = 0;
        dvec smask = {0};
        char detail[sizeof e.msg + 8] = "";
        if (rc) {
            char why[160];
            reason_of(&e, why, sizeof why);
            add_reason(reasons, &nreasons, why);
            snprintf(detail, sizeof detail, "%s", e.msg);
        } else {
            n_comp++;
            dpush(&tcomp, cus);
            cf_matcher *m = NULL;
            if (cf_matcher_new(&m, cons, &e)) {
                fprintf(stderr, "cinfer %s: %s\n", CMD, e.msg);
                return CLI_FAIL;
            }
            for (size_t t = 0; tests && tests->type == CF_JSON_ARRAY && t < tests->len; t++) {
                const cf_json *tc = tests->items[t];
                const cf_json *vv = cf_json_get(tc, "valid"), *data = cf_json_get(tc, "data");
                if (!vv || vv->type != CF_JSON_BOOL || !data) continue;
                int valid = vv->b;
                size_t dl = 0;
                char *ds = cf_json_write(data, &dl);
                int n = ds ? cf_tok_encode(tok, ds, dl, 0, ids, idcap, &e) : -1;
                if (n > idcap) {
                    idcap = n + 64;
                    int32_t *ni = realloc(ids, (size_t)idcap * sizeof *ni);
                    if (!ni) n = -1;
                    else {
                        ids = ni;
                        n = cf_tok_encode(tok, ds, dl, 0, ids, idcap, &e);
                    }
                }
                if (n < 0) {
                    fprintf(stderr, "cinfer %s: %s test %zu: cannot tokenize\n", CMD, base, t);
                    free(ds);
                    continue;
                }
                per_docs++;
                if (valid) n_valid++;
                else n_invalid++;
                cf_matcher_reset(m);
                int ok = 1;
                for (int k = 0; k <= n && ok; k++) {
                    int64_t m0 = cf_now_ns();
                    int cnt = cf_matcher_mask(m, bits);
                    double us = (double)(cf_now_ns() - m0) * 1e-3;
                    dpush(&tmask, us);
                    dpush(&smask, us);
                    int32_t want = k < n ? ids[k] : eos;
                    int allowed = cnt >= 0 && want >= 0 && ((bits[want >> 5] >> (want & 31)) & 1);
                    if (k == n) {
                        if (!cf_matcher_is_complete(m)) allowed = 0;
                        ok = allowed;
                        break;
                    }
                    if (!allowed) {
                        /* the mask is authoritative; cross-check the byte-level walk */
                        if (cf_matcher_accepts(m, want)) n_incons++;
                        ok = 0;
                        break;
                    }
                    if (cf_matcher_advance(m, want, &e)) {
                        n_incons++;
                        ok = 0;
                    }
                }
                if (valid && !ok) {
                    vrej++;
                    per_vr++;
                }
                if (!valid && ok) {
                    iacc++;
                    per_ia++;
                }
                free(ds);
            }
            cf_matcher_free(m);
            cf_constraint_free(cons);
            if (!per_vr && !per_ia) n_pass++;
            else {
                if (per_vr) add_reason(reasons, &nreasons, "valid document rejected");
                if (per_ia) add_reason(reasons, &nreasons, "invalid document accepted");
            }
        }
        int passing = !rc && !per_vr && !per_ia;
        if (per_schema || !passing) {
            rep_row(ts);
            rep_str(ts, c_file, "%s", base);
            rep_str(ts, c_ok, "%s", rc ? "compile error" : passing ? "pass" : "fail");
            rep_num(ts, c_docs, per_docs, 0);
            rep_num(ts, c_vr, per_vr, 0);
            rep_num(ts, c_ia, per_ia, 0);
            if (!rc) rep_num(ts, c_ct, cus, 0);
            if (smask.n) {
                qsort(smask.v, smask.n, sizeof *smask.v, kb_cmp_double);
                rep_num(ts, c_mt, pct(&smask, 0.5), 1);
                rep_num(ts, c_mx, smask.v[smask.n - 1], 1);
            }
            if (*detail) rep_str(ts, c_why, "%s", detail);
        }
        free(smask.v);
        cf_json_free(doc);
        free(txt);
    }
    qsort(tcomp.v, tcomp.n, sizeof *tcomp.v, kb_cmp_double);
    qsort(tmask.v, tmask.n, sizeof *tmask.v, kb_cmp_double);
    qsort(reasons, (size_t)nreasons, sizeof *reasons, cmp_reason);

    rep_table *tt = rep_new(), *tr = rep_new();
    const char *vbase = strrchr(vocab, '/') ? strrchr(vocab, '/') + 1 : vocab;
    rep_meta(tt, "vocab", "%s (%d tokens; tables built in %.0f ms)", vbase, nv, vocab_ms);
    rep_meta(tt, "options", "max_ws=%d%s%s", so.max_ws, so.lenient ? " lenient" : "", so.strict ? " strict" : "");
    int k_s = rep_col(tt, "schemas", REP_NUM), k_c = rep_col(tt, "compiled", REP_NUM),
        k_p = rep_col(tt, "passing", REP_NUM), k_pp = rep_col(tt, "passing_pct", REP_NUM),
        k_dv = rep_col(tt, "valid_docs", REP_NUM), k_di = rep_col(tt, "invalid_docs", REP_NUM),
        k_vr = rep_col(tt, "valid_rejected", REP_NUM), k_ia = rep_col(tt, "invalid_accepted", REP_NUM),
        k_c50 = rep_col(tt, "compile_us_p50", REP_NUM), k_c99 = rep_col(tt, "compile_us_p99", REP_NUM),
        k_m50 = rep_col(tt, "mask_us_p50", REP_NUM), k_m99 = rep_col(tt, "mask_us_p99", REP_NUM),
        k_nm = rep_col(tt, "masks", REP_NUM), k_in = rep_col(tt, "inconsistent", REP_NUM);
    rep_row(tt);
    rep_num(tt, k_s, (double)n_schema, 0);
    rep_num(tt, k_c, (double)n_comp, 0);
    rep_num(tt, k_p, (double)n_pass, 0);
    rep_num(tt, k_pp, n_schema ? 100.0 * (double)n_pass / (double)n_schema : 0, 1);
    rep_num(tt, k_dv, (double)n_valid, 0);
    rep_num(tt, k_di, (double)n_invalid, 0);
    rep_num(tt, k_vr, (double)vrej, 0);
    rep_num(tt, k_ia, (double)iacc, 0);
    rep_num(tt, k_c50, pct(&tcomp, 0.5), 0);
    rep_num(tt, k_c99, pct(&tcomp, 0.99), 0);
    rep_num(tt, k_m50, pct(&tmask, 0.5), 1);
    rep_num(tt, k_m99, pct(&tmask, 0.99), 1);
    rep_num(tt, k_nm, (double)tmask.n, 0);
    rep_num(tt, k_in, (double)n_incons, 0);
    int r_why = rep_col(tr, "reason (schemas not passing)", REP_STR), r_n = rep_col(tr, "schemas", REP_NUM);
    for (int i = 0; i < nreasons; i++) {
        rep_row(tr);
        rep_str(tr, r_why, "%s", reasons[i].name);
        rep_num(tr, r_n, reasons[i].count, 0);
    }
    FILE *out = outp ? fopen(outp, "w") : stdout;
    if (!out) return cli_usage_error(CMD, "--out: cannot open '%s'", outp);
    int wrc = 0;
    if (fmt == REP_JSON) {
        fputs("{\"total\": ", out);
        wrc |= rep_write(tt, out, REP_JSON);
        fputs(", \"reasons\": ", out);
        wrc |= rep_write(tr, out, REP_JSON);
        fputs(", \"schemas\": ", out);
        wrc |= rep_write(ts, out, REP_JSON);
        fputs("}\n", out);
    } else {
        wrc |= rep_write(tt, out, REP_MD);
        if (rep_nrows(tr)) {
            fputc('\n', out);
            wrc |= rep_write(tr, out, REP_MD);
        }
        if (rep_nrows(ts)) {
            fputc('\n', out);
            wrc |= rep_write(ts, out, REP_MD);
        }
    }
    if (out != stdout) fclose(out);
    rep_free(tt);
    rep_free(tr);
    rep_free(ts);
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    free(tcomp.v);
    free(tmask.v);
    free(bits);
    free(ids);
    cf_cons_vocab_free(cv);
    cf_tok_free(tok);
    return wrc ? CLI_FAIL : CLI_OK;
}
