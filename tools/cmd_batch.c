/* cinfer batch: run many prompts through the engine (model/engine.h), JSONL in, JSONL out.
 *
 *   cinfer batch -m MODEL --in PROMPTS.jsonl --out RESULTS.jsonl [--json-schema FILE | --grammar FILE]
 *                [--parallel N] [-n MAX] [--temp T] [--top-k K] [--top-p P] [--min-p P] [--seed S]
 *                [--ctx N] [-t N] [--shard I/N] [--lenient] [--strict] [--max-ws N] [--kv-type T]
 *
 * Input lines: {"id": ..., "prompt": "...", "schema": {...}?}; a line's own schema replaces
 * --json-schema for it.  Output lines, one per id, written and flushed as each finishes:
 *   {"id":...,"output":"...","tokens":N,"finish_reason":"stop|complete|length|context|dead_state|error",
 *    "valid":true|false|null[,"complete":bool][,"error":"..."]}
 * valid is the validator's verdict on the output when a schema (or grammar) applies, else null;
 * complete (constrained only) says whether the output is a whole document (false after "length").
 * Request i (0-based input line) samples with seed S + i, so results do not depend on
 * --parallel, sharding or resuming.
 *
 * Resume: ids already in --out are skipped; a half-written last line is cut off first.
 * Bad input: a bad JSONL line is reported with its line number and skipped; a per-line schema
 * that does not compile, an empty prompt or one that does not fit the context gives that id an
 * "error" line; an unreadable input or an unusable --json-schema stops before any work.
 * Sharding: --shard I/N keeps input lines L (1-based) with (L - 1) % N == I. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/quant.h"
#include "model/context.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/json.h"
#include "tools/cli.h"
#include "tools/constrain.h"

#define DEFAULT_N 256
#define MAX_PARALLEL 256
#define BATCH_TOKENS 512          /* tokens per forward pass (prefill chunks + decode tokens) */
#define MAX_FILE_BYTES (1u << 30) /* --in / --out size cap */
#define PROGRESS_EVERY_S 2.0      /* progress line period when stderr is not a terminal */

static const char *k_cmd = "batch";

typedef struct {
    const char *model, *in, *out, *schema, *grammar;
    long n, ctx;
    int nth, kv_type, top_k, parallel, lenient, strict, max_ws, shard_i, shard_n;
    unsigned long long seed;
    double temp, top_p, min_p;
    int full_logits;
} batch_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: cinfer batch -m MODEL --in PROMPTS.jsonl --out RESULTS.jsonl [options]\n"
            "  input lines {\"id\": ..., \"prompt\": \"...\", \"schema\": {...} (optional)}\n"
            "  --json-schema F constrain every output to the JSON Schema in file F\n"
            "  --grammar F     constrain every output to the GBNF grammar in file F\n"
            "  --parallel N    sequences decoded together (default 1)\n"
            "  -n N            tokens to generate per prompt at most (default %d)\n"
            "  --temp T --top-k K --top-p P --min-p P   sampling (default greedy)\n"
            "  --seed S        line i (0-based) samples with seed S + i (default 0)\n"
            "  --ctx N         context positions per sequence (default: model's, at most 4096)\n"
            "  -t N            threads\n"
            "  --shard I/N     process only input lines L with (L-1) %% N == I (0 <= I < N)\n"
            "  --lenient / --strict / --max-ws N   schema compile options (see cinfer run --help)\n"
            "  --kv-type T     KV cache type: f16 (default) or f32\n"
            "  --full-logits   whole logits rows even where the constraint allows a few tokens\n"
            "                  (default: only those rows of the output matrix; see cinfer run --help)\n"
            "Ids already in --out are skipped (resume).\n",
            DEFAULT_N);
}

static int parse(int argc, char **argv, batch_opts *o) {
    memset(o, 0, sizeof *o);
    o->n = DEFAULT_N;
    o->kv_type = CF_T_F16;
    o->top_p = 1.0;
    o->parallel = 1;
    o->max_ws = 16;
    o->shard_n = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long lv;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(o->model = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--in")) {
            if (!(o->in = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--out")) {
            if (!(o->out = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--json-schema")) {
            if (!(o->schema = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--grammar")) {
            if (!(o->grammar = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--lenient")) {
            o->lenient = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else if (!strcmp(a, "--max-ws")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 0, 1 << 20, &o->max_ws)) return CLI_USAGE;
        } else if (!strcmp(a, "--parallel")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 1, MAX_PARALLEL, &o->parallel))
                return CLI_USAGE;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 0, INT32_MAX, &o->n)) return CLI_USAGE;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 1, 1024, &o->nth)) return CLI_USAGE;
        } else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 2, 1L << 24, &o->ctx)) return CLI_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_long(k_cmd, a, v, 0, (long)(~0ul >> 1), &lv)) return CLI_USAGE;
            o->seed = (unsigned long long)lv;
        } else if (!strcmp(a, "--temp")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 100, &o->temp)) return CLI_USAGE;
        } else if (!strcmp(a, "--top-k")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_int(k_cmd, a, v, 0, 1 << 24, &o->top_k)) return CLI_USAGE;
        } else if (!strcmp(a, "--top-p")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 1, &o->top_p)) return CLI_USAGE;
        } else if (!strcmp(a, "--min-p")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i)) || cli_double(k_cmd, a, v, 0, 1, &o->min_p)) return CLI_USAGE;
        } else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "f16")) o->kv_type = CF_T_F16;
            else if (!strcmp(v, "f32")) o->kv_type = CF_T_F32;
            else return cli_usage_error(k_cmd, "--kv-type: '%s' is not f16 or f32", v);
        } else if (!strcmp(a, "--full-logits")) {
            o->full_logits = 1;
        } else if (!strcmp(a, "--shard")) {
            if (!(v = cli_value(k_cmd, argc, argv, &i))) return CLI_USAGE;
            char tail;
            if (sscanf(v, "%d/%d%c", &o->shard_i, &o->shard_n, &tail) != 2 || o->shard_n < 1 || o->shard_i < 0 ||
                o->shard_i >= o->shard_n)
                return cli_usage_error(k_cmd, "--shard: '%s' is not I/N with 0 <= I < N", v);
        } else {
            return cli_unknown(k_cmd, a);
        }
    }
    if (!o->model) return cli_usage_error(k_cmd, "-m MODEL is required (see cinfer batch --help)");
    if (!o->in || !o->out) return cli_usage_error(k_cmd, "--in FILE and --out FILE are required");
    if (o->schema && o->grammar) return cli_usage_error(k_cmd, "--json-schema and --grammar are exclusive");
    return 0;
}

/* Whole file into memory (NUL-terminated); NULL with a message in err. */
static char *slurp(const char *path, size_t *len, int missing_ok, cf_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (missing_ok && errno == ENOENT) {
            *len = 0;
            return calloc(1, 1);
        }
        cf_errf(err, CF_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    int big = 0;
    while (s) {
        if (n + 1 >= cap) {
            char *t = cap >= MAX_FILE_BYTES ? NULL : realloc(s, cap * 2);
            if (!t) {
                big = 1;
                break;
            }
            s = t;
            cap *= 2;
        }
        size_t k = fread(s + n, 1, cap - n - 1, f);
        n += k;
        if (k == 0) break;
    }
    int bad = !s || big || ferror(f);
    fclose(f);
    if (bad) {
        cf_errf(err, CF_EIO, "%s: %s", path, big ? "too large or out of memory" : "read error");
        free(s);
        return NULL;
    }
    s[n] = 0;
    *len = n;
    return s;
}

/* ---- the set of finished ids (compact JSON of the id value) ---- */
typedef struct {
    char **keys;
    size_t n, cap;   /* open addressing, cap a power of two */
} idset;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int idset_has(const idset *z, const char *k) {
    if (!z->cap) return 0;
    for (size_t i = hash_str(k) & (z->cap - 1);; i = (i + 1) & (z->cap - 1)) {
        if (!z->keys[i]) return 0;
        if (!strcmp(z->keys[i], k)) return 1;
    }
}

/* Adds a copy of k; 1 if added, 0 if present, -1 on OOM. */
static int idset_add(idset *z, const char *k) {
    if (idset_has(z, k)) return 0;
    if ((z->n + 1) * 2 > z->cap) {
        size_t cap = z->cap ? z->cap * 2 : 256;
        char **nk = calloc(cap, sizeof *nk);
        if (!nk) return -1;
        for (size_t j = 0; j < z->cap; j++) {
            if (!z->keys[j]) continue;
            size_t i = hash_str(z->keys[j]) & (cap - 1);
            while (nk[i]) i = (i + 1) & (cap - 1);
            nk[i] = z->keys[j];
        }
        free(z->keys);
        z->keys = nk;
        z->cap = cap;
    }
    char *c = strdup(k);
    if (!c) return -1;
    size_t i = hash_str(k) & (z->cap - 1);
    while (z->keys[i]) i = (i + 1) & (z->cap - 1);
    z->keys[i] = c;
    z->n++;
    return 1;
}

static void idset_free(idset *z) {
    for (size_t i = 0; i < z->cap; i++) free(z->keys[i]);
    free(z->keys);
}

/* Reads the ids of --out's complete lines; cuts off a half-written last line.  0 or CLI_*. */
static int load_done(const char *path, idset *done) {
    cf_err e;
    size_t len = 0;
    char *s = slurp(path, &len, 1, &e);
    if (!s) return cli_usage_error(k_cmd, "--out %s", e.msg);
    size_t good = 0;   /* bytes up to the end of the last complete line */
    long lineno = 0;
    for (size_t p = 0; p < len;) {
        char *nl = memchr(s + p, '\n', len - p);
        if (!nl) break;
        size_t end = (size_t)(nl - s);
        lineno++;
        cf_json_doc *d = NULL;
        const cf_json *id = NULL;
        if (end > p && !cf_json_parse(s + p, end - p, &d, &e)) id = cf_json_get(cf_json_root(d), "id");
        if (id) {
            size_t kl;
            char *k = cf_json_write(id, &kl);
            if (!k || idset_add(done, k) < 0) {
                free(k);
                cf_json_free(d);
                free(s);
                return cli_usage_error(k_cmd, "out of memory");
            }
            free(k);
        } else if (end > p) {
            fprintf(stderr, "cinfer batch: %s line %ld: not a result line (ignored)\n", path, lineno);
        }
        cf_json_free(d);
        good = end + 1;
        p = end + 1;
    }
    free(s);
    if (good < len) {
        fprintf(stderr, "cinfer batch: %s: cutting off a half-written last line (%zu bytes)\n", path, len - good);
        if (truncate(path, (off_t)good)) return cli_usage_error(k_cmd, "%s: truncate: %s", path, strerror(errno));
    }
    return 0;
}

/* ---- one request in flight ---- */
typedef struct {
    char *id;            /* compact JSON of the id */
    cli_schema sch;      /* the line's own schema (validator only: the engine owns its constraint) */
    int own_schema;
} job;

typedef struct {
    FILE *out;
    const char *out_path;
    cli_schema *global;
    int write_err;
    long n_done, n_total, n_valid, n_invalid, n_fin[8], n_error;
    int64_t gen_tokens;
    double t0, t_last_progress;
    int tty;
} batch_state;

static void progress(batch_state *st, int final) {
    double now = cf_now_s(), el = now - st->t0;
    if (!final && !st->tty && now - st->t_last_progress < PROGRESS_EVERY_S) return;
    st->t_last_progress = now;
    double tps = el > 0 ? (double)st->gen_tokens / el : 0;
    double eta = st->n_done > 0 ? el / (double)st->n_done * (double)(st->n_total - st->n_done) : 0;
    fprintf(stderr, "%sbatch: %ld/%ld done, %lld tokens, %.1f tokens/s, elapsed %.1f s, ETA %.0f s%s",
            st->tty ? "\r" : "", st->n_done, st->n_total, (long long)st->gen_tokens, tps, el, eta,
            st->tty && !final ? "   " : "\n");
    fflush(stderr);
}

/* Writes one result line and flushes it. */
static void write_line(batch_state *st, const char *id, const char *text, size_t len, int tokens, const char *fin,
                       int valid, int complete, const char *error) {
    size_t ql = 0;
    char *q = cf_json_quote(text, len, &ql);
    fprintf(st->out, "{\"id\":%s,\"output\":%s,\"tokens\":%d,\"finish_reason\":\"%s\",\"valid\":%s", id,
            q ? q : "\"\"", tokens, fin, valid < 0 ? "null" : valid ? "true" : "false");
    free(q);
    if (complete >= 0) fprintf(st->out, ",\"complete\":%s", complete ? "true" : "false");
    if (error) {
        char *qe = cf_json_quote(error, strlen(error), &ql);
        fprintf(st->out, ",\"error\":%s", qe ? qe : "\"\"");
        free(qe);
    }
    fputs("}\n", st->out);
    if (fflush(st->out) || ferror(st->out)) st->write_err = 1;
    st->n_done++;
    progress(st, 0);
}

static void on_done(void *ctx, const cf_gen_result *r) {
    batch_state *st = ctx;
    job *j = r->user;
    cli_schema *sch = j->own_schema ? &j->sch : st->global;
    int valid = -1;
    if (sch) {
        cf_err why;
        int ok = cli_schema_check(sch, r->text, r->text_len, &why);
        valid = ok == 1;
        if (valid) st->n_valid++;
        else st->n_invalid++;
    }
    st->gen_tokens += r->n_tok;
    st->n_fin[r->finish]++;
    write_line(st, j->id, r->text, r->text_len, r->n_tok, cf_finish_name(r->finish), valid, r->complete,
               r->detail[0] ? r->detail : NULL);
    if (j->own_schema) cli_schema_free(&j->sch);
    free(j->id);
    free(j);
}

static void error_line(batch_state *st, const char *id, const char *why) {
    st->n_error++;
    write_line(st, id, "", 0, 0, "error", -1, -1, why);
}

int cmd_batch(int argc, char **argv) {
    batch_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (cli_init_runtime(k_cmd)) return CLI_USAGE;
    int nth = o.nth > 0 ? o.nth : cf_default_threads();
    cf_err e;
    double t_load = cf_now_s();
    cf_model m;
    if (cf_model_load(&m, o.model, &e)) return cli_usage_error(k_cmd, "%s", e.msg);
    cf_tokenizer *tok = NULL;
    if (cf_tok_load(&tok, &m.gguf, &e)) {
        cf_model_free(&m);
        return cli_usage_error(k_cmd, "%s: tokenizer: %s", o.model, e.msg);
    }
    t_load = cf_now_s() - t_load;
    cf_cons_vocab *cv = NULL;
    cli_schema gsch, *global = NULL;
    memset(&gsch, 0, sizeof gsch);
    char *in = NULL;
    size_t in_len = 0;
    idset done = {0}, seen = {0};
    cf_context c;
    memset(&c, 0, sizeof c);
    cf_engine *eng = NULL;
    batch_state st;
    memset(&st, 0, sizeof st);
    int32_t *ids = NULL;
    int ids_cap = 0;
    cf_schema_opts so;
    cf_schema_opts_default(&so);
    so.lenient = o.lenient;
    so.strict = o.strict;
    so.max_ws = o.max_ws;
    rc = CLI_USAGE;
    if (cf_cons_vocab_new(&cv, tok, &e)) {
        fprintf(stderr, "cinfer batch: vocabulary for constraints: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    const char *cfile = o.schema ? o.schema : o.grammar;
    if (cfile) {   /* an unusable schema stops before any work */
        if (cli_schema_load_file(&gsch, cfile, o.grammar != NULL, &so, cv, &e)) {
            cli_usage_error(k_cmd, "%s", e.msg);
            goto out;
        }
        global = &gsch;
        if (gsch.warnings) fprintf(stderr, "cinfer batch: warnings (--lenient):\n%s\n", gsch.warnings);
    }
    if (!(in = slurp(o.in, &in_len, 0, &e))) {
        cli_usage_error(k_cmd, "--in %s", e.msg);
        goto out;
    }
    if (load_done(o.out, &done)) goto out;
    /* count the work: lines of this shard whose id is not done (bad lines are reported later) */
    long total = 0, lineno = 0, skipped = 0;
    for (size_t p = 0; p < in_len;) {
        char *nl = memchr(in + p, '\n', in_len - p);
        size_t end = nl ? (size_t)(nl - in) : in_len;
        lineno++;
        if ((lineno - 1) % o.shard_n == o.shard_i && strspn(in + p, " \t\r") < end - p) {
            cf_json_doc *d = NULL;
            const cf_json *id = NULL;
            if (!cf_json_parse(in + p, end - p, &d, &e)) id = cf_json_get(cf_json_root(d), "id");
            char *k = id ? cf_json_write(id, NULL) : NULL;
            if (k && idset_has(&done, k)) skipped++;
            else if (k) total++;
            free(k);
            cf_json_free(d);
        }
        p = end + 1;
    }
    if (!(st.out = fopen(o.out, "ab"))) {
        cli_usage_error(k_cmd, "--out %s: %s", o.out, strerror(errno));
        goto out;
    }
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = o.ctx;
    cp.n_seq = o.parallel;
    cp.n_batch = BATCH_TOKENS < o.parallel ? o.parallel : BATCH_TOKENS;
    cp.n_threads = nth;
    cp.kv_type = o.kv_type;
    if (cf_context_init(&c, &m, &cp, &e)) {
        fprintf(stderr, "cinfer batch: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    cf_context_print_mem(&c, stderr);
    fprintf(stderr, "load: %.1f ms; threads %d, ISA %s; %ld prompts to run, %ld already in %s\n", t_load * 1e3, nth,
            cf_isa_name(cf_isa_active()), total, skipped, o.out);
    st.out_path = o.out;
    st.global = global;
    st.n_total = total;
    st.tty = isatty(2);
    st.t0 = st.t_last_progress = cf_now_s();
    cf_engine_cb cb = {&st, NULL, on_done, NULL};
    if (cf_engine_new(&eng, &c, tok, &cb, &e)) {
        fprintf(stderr, "cinfer batch: %s\n", e.msg);
        rc = CLI_FAIL;
        goto out;
    }
    if (o.full_logits) cf_engine_set_logits_subset(eng, 0);
    rc = CLI_FAIL;
    long n_bad = 0;
    lineno = 0;
    size_t p = 0;
    for (;;) {
        /* keep the queue a little ahead of the free slots */
        while (p < in_len && cf_engine_n_queued(eng) < o.parallel) {
            char *nl = memchr(in + p, '\n', in_len - p);
            size_t end = nl ? (size_t)(nl - in) : in_len, p0 = p;
            p = end + 1;
            lineno++;
            if ((lineno - 1) % o.shard_n != o.shard_i || strspn(in + p0, " \t\r") >= end - p0) continue;
            cf_json_doc *d = NULL;
            if (cf_json_parse(in + p0, end - p0, &d, &e)) {
                fprintf(stderr, "cinfer batch: %s line %ld: %s; skipped\n", o.in, lineno, e.msg);
                n_bad++;
                continue;
            }
            const cf_json *root = cf_json_root(d), *id = cf_json_get(root, "id"), *pr = cf_json_get(root, "prompt"),
                          *sc = cf_json_get(root, "schema");
            const char *bad = root->type != CF_JSON_OBJECT ? "not a JSON object"
                              : !id                        ? "no \"id\""
                              : !pr || pr->type != CF_JSON_STRING ? "no \"prompt\" string"
                              : sc && sc->type != CF_JSON_OBJECT && sc->type != CF_JSON_BOOL
                                  ? "\"schema\" is not an object"
                                  : NULL;
            if (bad) {
                fprintf(stderr, "cinfer batch: %s line %ld: %s; skipped\n", o.in, lineno, bad);
                n_bad++;
                cf_json_free(d);
                continue;
            }
            char *key = cf_json_write(id, NULL);
            job *j = key ? calloc(1, sizeof *j) : NULL;
            if (!j) {
                free(key);
                cf_json_free(d);
                fprintf(stderr, "cinfer batch: out of memory\n");
                goto out;
            }
            j->id = key;
            int added = idset_has(&done, key) ? 0 : idset_add(&seen, key);
            if (added <= 0) {
                if (added == 0 && !idset_has(&done, key))
                    fprintf(stderr, "cinfer batch: %s line %ld: id %s repeats an earlier line; skipped\n", o.in,
                            lineno, key);
                free(key);
                free(j);
                cf_json_free(d);
                if (added < 0) {
                    fprintf(stderr, "cinfer batch: out of memory\n");
                    goto out;
                }
                continue;
            }
            cf_gen_req r = {0};
            r.sp = cf_sampler_defaults();
            r.sp.temperature = (float)o.temp;
            r.sp.top_k = o.top_k;
            r.sp.top_p = (float)o.top_p;
            r.sp.min_p = (float)o.min_p;
            r.sp.seed = o.seed + (unsigned long long)(lineno - 1);
            r.max_tokens = (int)o.n;
            r.user = j;
            r.cons = global ? global->cons : NULL;
            char why[600] = "";
            if (sc) {
                char *stext = cf_json_write(sc, NULL);
                if (!stext || cli_schema_load_text(&j->sch, stext, strlen(stext), "schema", 0, &so, cv, &e))
                    snprintf(why, sizeof why, "%s", stext ? e.msg : "out of memory");
                free(stext);
                if (!why[0]) {
                    j->own_schema = 1;
                    r.cons = j->sch.cons;
                    r.own_constraint = 1;
                    j->sch.cons = NULL;   /* the engine owns it now (frees it on refusal too) */
                }
            }
            int n = why[0] ? 0 : cf_tok_encode(tok, pr->str, pr->len, -1, ids, ids_cap, &e);
            if (n > ids_cap) {
                int32_t *t = realloc(ids, (size_t)n * sizeof *t);
                if (t) {
                    ids = t;
                    ids_cap = n;
                    n = cf_tok_encode(tok, pr->str, pr->len, -1, ids, ids_cap, &e);
                } else {
                    n = -1;
                    snprintf(e.msg, sizeof e.msg, "out of memory");
                }
            }
            if (!why[0] && n < 0) snprintf(why, sizeof why, "tokenizing the prompt: %s", e.msg);
            r.prompt = ids;
            r.n_prompt = n;
            if (!why[0] && cf_engine_submit(eng, &r, &e) < 0) snprintf(why, sizeof why, "%s", e.msg);
            else if (why[0] && r.own_constraint) cf_constraint_free(r.cons);
            cf_json_free(d);
            if (why[0]) {
                fprintf(stderr, "cinfer batch: %s line %ld (id %s): %s\n", o.in, lineno, key, why);
                error_line(&st, key, why);
                if (j->own_schema) cli_schema_free(&j->sch);
                free(key);
                free(j);
            }
        }
        if (st.write_err) {
            fprintf(stderr, "cinfer batch: writing %s failed\n", o.out);
            goto out;
        }
        int k = cf_engine_step(eng, &e);
        if (k < 0) {
            fprintf(stderr, "\ncinfer batch: %s\n", e.msg);
            goto out;
        }
        if (k == 0 && p >= in_len) break;
    }
    progress(&st, 1);
    double el = cf_now_s() - st.t0;
    cf_engine_stats es;
    cf_engine_get_stats(eng, &es);
    fprintf(stderr,
            "batch: %ld results in %.2f s (%ld errors, %ld bad input lines); finish: stop %ld, complete %ld, length %ld, "
            "context %ld, dead_state %ld",
            st.n_done, el, st.n_error, n_bad, st.n_fin[CF_FIN_STOP], st.n_fin[CF_FIN_COMPLETE],
            st.n_fin[CF_FIN_LENGTH], st.n_fin[CF_FIN_CONTEXT], st.n_fin[CF_FIN_DEAD]);
    if (st.n_valid + st.n_invalid) fprintf(stderr, "; valid %ld of %ld", st.n_valid, st.n_valid + st.n_invalid);
    fprintf(stderr, "\nbatch: %lld prompt tokens, %lld generated, %lld forward passes (%.1f ms prefill, %.1f ms decode, "
                    "%.1f ms sampling), %.1f generated tokens/s\n",
            (long long)es.prefill_tokens, (long long)st.gen_tokens, (long long)es.steps, es.t_prefill_s * 1e3,
            es.t_decode_s * 1e3, es.t_sample_s * 1e3, el > 0 ? (double)st.gen_tokens / el : 0.0);
    rc = st.write_err ? CLI_FAIL : CLI_OK;
out:
    cf_engine_free(eng);
    if (st.out && fclose(st.out) && rc == CLI_OK) {
        fprintf(stderr, "cinfer batch: closing %s: %s\n", o.out, strerror(errno));
        rc = CLI_FAIL;
    }
    free(ids);
    cf_context_free(&c);
    idset_free(&done);
    idset_free(&seen);
    free(in);
    cli_schema_free(&gsch);
    cf_cons_vocab_free(cv);
    cf_tok_free(tok);
    cf_model_free(&m);
    return rc;
}
