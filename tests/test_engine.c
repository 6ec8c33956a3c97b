/* The generation engine (model/engine.h) and the commands on top of it (run, batch):
 * continuous batching gives every request the tokens it gets alone (greedy and seeded sampling),
 * logits inside a batch of 8 are bitwise those of the request alone, constrained greedy output
 * validates (time pattern, nested objects with a regex, enums with shared prefixes, GBNF),
 * 8 constrained sequences all end, length stops mid-document are reported, and `cinfer batch`
 * resumes, reports bad lines by number and refuses over-long prompts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/context.h"
#include "model/engine.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "sampler/json.h"
#include "tests/testutil.h"
#include "tools/cli.h"
#include "tools/constrain.h"

#define MAX_REQ 16
#define MAX_TOK 256
#define LOGIT_ROWS 6          /* logits rows compared per request */

static const char *k_models[] = {"models/stories260K.gguf", "models/synth-llama-spm32k-q4_0.gguf"};

static const char *k_prompts[] = {
    "Once upon a time",
    "The little dog ran to the park and saw a big red ball on the grass",
    "Lily",
    "One day, Tom and his mom went to the store to buy some milk and bread for dinner. They",
    "The sun",
    "Max wanted to fly",
    "There was a girl who liked to sing songs every morning before school",
    "Bob",
};
#define N_PROMPTS ((int)(sizeof k_prompts / sizeof k_prompts[0]))

/* ---- a loaded model + tokenizer ---- */
typedef struct {
    cf_model m;
    cf_tokenizer *tok;
} mdl;

static void mdl_load(mdl *x, const char *rel) {
    cf_err e;
    ck_assert_msg(cf_model_load(&x->m, tu_shared(rel), &e) == 0, "%s", e.msg);
    ck_assert_msg(cf_tok_load(&x->tok, &x->m.gguf, &e) == 0, "%s", e.msg);
}

static void mdl_free(mdl *x) {
    cf_tok_free(x->tok);
    cf_model_free(&x->m);
}

static int encode(const mdl *x, const char *s, int32_t *ids, int cap) {
    cf_err e;
    int n = cf_tok_encode(x->tok, s, strlen(s), -1, ids, cap, &e);
    ck_assert_msg(n > 0 && n <= cap, "encode: %d", n);
    return n;
}

/* ---- what one engine run produced, per request ---- */
typedef struct {
    int32_t toks[MAX_REQ][MAX_TOK];
    int n_tok[MAX_REQ];
    cf_finish fin[MAX_REQ];
    int complete[MAX_REQ];
    char *text[MAX_REQ];
    size_t text_len[MAX_REQ];
    float *logits[MAX_REQ];   /* LOGIT_ROWS rows each, when recording */
    int n_vocab;
    int record;
    int n_done;
} outcome;

static void on_done(void *ctx, const cf_gen_result *r) {
    outcome *o = ctx;
    int i = (int)(intptr_t)r->user;
    ck_assert_int_le(r->n_tok, MAX_TOK);
    if (r->n_tok) memcpy(o->toks[i], r->toks, (size_t)r->n_tok * sizeof *r->toks);
    o->n_tok[i] = r->n_tok;
    o->fin[i] = r->finish;
    o->complete[i] = r->complete;
    o->text[i] = malloc(r->text_len + 1);
    memcpy(o->text[i], r->text, r->text_len + 1);
    o->text_len[i] = r->text_len;
    o->n_done++;
}

static void on_logits(void *ctx, int64_t id, int k, const float *l, int n_vocab) {
    outcome *o = ctx;
    if (!o->record || k >= LOGIT_ROWS) return;
    if (!o->logits[id]) o->logits[id] = calloc((size_t)LOGIT_ROWS * (size_t)n_vocab, sizeof(float));
    memcpy(o->logits[id] + (size_t)k * (size_t)n_vocab, l, (size_t)n_vocab * sizeof *l);
    o->n_vocab = n_vocab;
}

static void outcome_free(outcome *o) {
    for (int i = 0; i < MAX_REQ; i++) {
        free(o->text[i]);
        free(o->logits[i]);
    }
}

typedef struct {
    int n_seq, n_batch;
    float temp;
    int max_tokens;
    cf_constraint *cons;
    int full_logits;   /* 1: no logit subsets (cf_engine_set_logits_subset 0) */
} run_cfg;

/* Runs requests [i0, i1) of `prompts` (request i gets user i, seed 100 + i) through one engine;
 * the request ids must equal i - i0 for the logits recording (they do: ids count from 0). */
static void run_engine(const mdl *x, const char *const *prompts, int i0, int i1, const run_cfg *rc, outcome *o) {
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 256;
    cp.n_seq = rc->n_seq;
    cp.n_batch = rc->n_batch;
    cp.n_threads = 2;
    cf_context c;
    cf_err e;
    ck_assert_msg(cf_context_init(&c, &x->m, &cp, &e) == 0, "%s", e.msg);
    /* the logits callback only when recording: it turns logit subsets off */
    cf_engine_cb cb = {o, NULL, on_done, o->record ? on_logits : NULL};
    cf_engine *eng;
    ck_assert_msg(cf_engine_new(&eng, &c, x->tok, &cb, &e) == 0, "%s", e.msg);
    if (rc->full_logits) cf_engine_set_logits_subset(eng, 0);
    for (int i = i0; i < i1; i++) {
        int32_t ids[128];
        cf_gen_req r = {0};
        r.n_prompt = encode(x, prompts[i], ids, 128);
        r.prompt = ids;
        r.sp = cf_sampler_defaults();
        r.sp.temperature = rc->temp;
        r.sp.top_k = rc->temp > 0 ? 40 : 0;
        r.sp.seed = 100 + (uint64_t)i;
        r.max_tokens = rc->max_tokens;
        r.cons = rc->cons;
        r.user = (void *)(intptr_t)i;
        ck_assert_msg(cf_engine_submit(eng, &r, &e) == i - i0, "%s", e.msg);
    }
    int steps = 0;
    for (;;) {
        int k = cf_engine_step(eng, &e);
        ck_assert_msg(k >= 0, "%s", e.msg);
        if (!k) break;
        ck_assert_int_lt(++steps, 100000);
    }
    ck_assert_int_eq(cf_engine_n_running(eng), 0);
    cf_engine_free(eng);
    cf_context_free(&c);
}

/* Each request alone (one slot, whole prompt in one pass) vs all of them through 3 slots with
 * small passes (chunked prefill mixed with decode, slots reused): the same tokens. */
static void check_cb_equals_alone(const char *model, float temp) {
    mdl x;
    mdl_load(&x, model);
    static outcome alone, together;
    memset(&alone, 0, sizeof alone);
    memset(&together, 0, sizeof together);
    run_cfg one = {1, 128, temp, 24, NULL, 0};
    for (int i = 0; i < N_PROMPTS; i++) run_engine(&x, k_prompts, i, i + 1, &one, &alone);
    run_cfg many = {3, 7, temp, 24, NULL, 0};
    run_engine(&x, k_prompts, 0, N_PROMPTS, &many, &together);
    ck_assert_int_eq(together.n_done, N_PROMPTS);
    for (int i = 0; i < N_PROMPTS; i++) {
        ck_assert_int_eq(together.n_tok[i], alone.n_tok[i]);
        ck_assert_int_gt(alone.n_tok[i], 0);
        ck_assert_msg(!memcmp(together.toks[i], alone.toks[i], (size_t)alone.n_tok[i] * sizeof(int32_t)),
                      "%s: request %d differs in a batch", model, i);
        ck_assert_int_eq(together.fin[i], alone.fin[i]);
        ck_assert_str_eq(together.text[i], alone.text[i]);
    }
    outcome_free(&alone);
    outcome_free(&together);
    mdl_free(&x);
}

START_TEST(cb_greedy_equals_alone) { check_cb_equals_alone(k_models[_i], 0.0f); }
END_TEST

START_TEST(cb_sampled_equals_alone) { check_cb_equals_alone(k_models[_i], 0.9f); }
END_TEST

/* 8 requests in one batch of 8 slots: each one's logits rows equal, bit for bit, those it gets
 * alone. */
START_TEST(logits_batch8_bitwise) {
    mdl x;
    mdl_load(&x, k_models[_i]);
    static outcome alone, together;
    memset(&alone, 0, sizeof alone);
    memset(&together, 0, sizeof together);
    together.record = 1;
    run_cfg many = {8, 512, 0, LOGIT_ROWS, NULL, 0};
    run_engine(&x, k_prompts, 0, 8, &many, &together);
    run_cfg one = {1, 512, 0, LOGIT_ROWS, NULL, 0};
    for (int i = 0; i < 8; i++) {
        outcome a;
        memset(&a, 0, sizeof a);
        a.record = 1;
        run_engine(&x, k_prompts, i, i + 1, &one, &a);
        ck_assert_ptr_nonnull(a.logits[0]);
        ck_assert_ptr_nonnull(together.logits[i]);
        ck_assert_int_eq(a.n_tok[i], together.n_tok[i]);
        size_t n = (size_t)LOGIT_ROWS * (size_t)a.n_vocab;
        ck_assert_msg(!memcmp(a.logits[0], together.logits[i], n * sizeof(float)),
                      "%s: request %d: logits in a batch of 8 differ from alone", k_models[_i], i);
        outcome_free(&a);
    }
    outcome_free(&alone);
    outcome_free(&together);
    mdl_free(&x);
}
END_TEST

/* ---- constrained decoding ---- */
static const char *k_time_schema =
    "{\"type\":\"object\",\"properties\":{\"t\":{\"type\":\"string\",\"pattern\":\"^\\\\d{2}:\\\\d{2}(:\\\\d{2})?$\"}},"
    "\"required\":[\"t\"]}";

typedef struct {
    const char *name, *path;   /* path under the repo (tests/data/engine) or NULL: k_time_schema */
    int gbnf, strict;
} schema_case;

static const schema_case k_schemas[] = {
    {"time pattern", NULL, 0, 1},
    {"nested + regex", "tests/data/engine/nested.json", 0, 0},
    {"enum shared prefixes", "tests/data/engine/enum.json", 0, 0},
    {"flat object", "tests/data/engine/item.json", 0, 0},
    {"gbnf list", "tests/data/engine/list.gbnf", 1, 0},
};
#define N_SCHEMAS ((int)(sizeof k_schemas / sizeof k_schemas[0]))

static void load_schema(cli_schema *s, const schema_case *sc, const cf_cons_vocab *v) {
    cf_schema_opts o;
    cf_schema_opts_default(&o);
    o.max_ws = 0;
    o.strict = sc->strict;
    cf_err e;
    if (sc->path)
        ck_assert_msg(cli_schema_load_file(s, sc->path, sc->gbnf, &o, v, &e) == 0, "%s: %s", sc->name, e.msg);
    else
        ck_assert_msg(cli_schema_load_text(s, k_time_schema, strlen(k_time_schema), "time", 0, &o, v, &e) == 0,
                      "%s", e.msg);
}

/* A model, its tokenizer's constraint vocabulary and one compiled schema. */
typedef struct {
    mdl x;
    cf_cons_vocab *v;
    cli_schema s;
} cons_fix;

static void cons_open(cons_fix *f, int model, const schema_case *sc) {
    cf_err e;
    mdl_load(&f->x, k_models[model]);
    ck_assert_msg(cf_cons_vocab_new(&f->v, f->x.tok, &e) == 0, "%s", e.msg);
    load_schema(&f->s, sc, f->v);
}

static void cons_close(cons_fix *f) {
    cli_schema_free(&f->s);
    cf_cons_vocab_free(f->v);
    mdl_free(&f->x);
}

/* Greedy constrained generation with 8 sequences at once: every request ends by itself (no
 * length stop, no dead state, no hang) and its output validates; and each equals its output
 * alone. */
static void check_constrained(int model, int which) {
    const schema_case *sc = &k_schemas[which];
    cons_fix fx;
    cons_open(&fx, model, sc);
    static outcome o, a;
    memset(&o, 0, sizeof o);
    memset(&a, 0, sizeof a);
    run_cfg many = {8, 64, 0, MAX_TOK, fx.s.cons, 0};
    run_engine(&fx.x, k_prompts, 0, 8, &many, &o);
    ck_assert_int_eq(o.n_done, 8);
    run_cfg one = {1, 64, 0, MAX_TOK, fx.s.cons, 0};
    run_engine(&fx.x, k_prompts, 3, 4, &one, &a);
    ck_assert_str_eq(a.text[3], o.text[3]);
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(o.fin[i] == CF_FIN_COMPLETE || o.fin[i] == CF_FIN_STOP, "%s, %s, prompt %d: stopped by %s: %s",
                      k_models[model], sc->name, i, cf_finish_name(o.fin[i]), o.text[i]);
        ck_assert_int_eq(o.complete[i], 1);
        cf_err why;
        int ok = cli_schema_check(&fx.s, o.text[i], o.text_len[i], &why);
        ck_assert_msg(ok == 1, "%s, %s, prompt %d: invalid output %s: %s", k_models[model], sc->name, i, o.text[i],
                      why.msg);
    }
    outcome_free(&o);
    outcome_free(&a);
    cons_close(&fx);
}

START_TEST(constrained_stories) { check_constrained(0, _i); }
END_TEST

START_TEST(constrained_synth) { check_constrained(1, _i); }
END_TEST

/* Logit subsets (the default; the output projection computes only the rows a constraint allows
 * when it allows few) against whole rows: greedy outputs identical (the allowed logits are
 * bitwise the same), and with sampling each request's output in a batch of 8 equals its output
 * alone, every one valid. */
START_TEST(constrained_subset_logits) {
    const schema_case *sc = &k_schemas[_i % N_SCHEMAS];
    float temp = _i < N_SCHEMAS ? 0.0f : 0.9f;
    cons_fix fx;
    cons_open(&fx, 1, sc);
    static outcome sub, full, alone;
    memset(&sub, 0, sizeof sub);
    memset(&full, 0, sizeof full);
    memset(&alone, 0, sizeof alone);
    run_cfg many = {8, 64, temp, MAX_TOK, fx.s.cons, 0};
    run_engine(&fx.x, k_prompts, 0, 8, &many, &sub);
    if (temp == 0.0f) {
        run_cfg whole = many;
        whole.full_logits = 1;
        run_engine(&fx.x, k_prompts, 0, 8, &whole, &full);
    } else {
        run_cfg one = {1, 64, temp, MAX_TOK, fx.s.cons, 0};
        for (int i = 0; i < 8; i++) run_engine(&fx.x, k_prompts, i, i + 1, &one, &alone);
    }
    const outcome *ref = temp == 0.0f ? &full : &alone;
    for (int i = 0; i < 8; i++) {
        ck_assert_msg(!strcmp(sub.text[i], ref->text[i]), "%s, temp %.1f, prompt %d: %s vs %s", sc->name, temp, i,
                      sub.text[i], ref->text[i]);
        cf_err why;
        ck_assert_msg(cli_schema_check(&fx.s, sub.text[i], sub.text_len[i], &why) == 1, "%s: invalid %s: %s", sc->name,
                      sub.text[i], why.msg);
    }
    outcome_free(&sub);
    outcome_free(&full);
    outcome_free(&alone);
    cons_close(&fx);
}
END_TEST

/* A budget that ends inside the document: finish "length", complete 0, output invalid. */
START_TEST(length_mid_document) {
    cons_fix fx;
    cons_open(&fx, 0, &k_schemas[1]);
    static outcome o;
    memset(&o, 0, sizeof o);
    run_cfg cfg = {2, 64, 0, 5, fx.s.cons, 0};
    run_engine(&fx.x, k_prompts, 0, 2, &cfg, &o);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(o.fin[i], CF_FIN_LENGTH);
        ck_assert_int_eq(o.n_tok[i], 5);
        ck_assert_int_eq(o.complete[i], 0);
        cf_err why;
        ck_assert_int_eq(cli_schema_check(&fx.s, o.text[i], o.text_len[i], &why), 0);
    }
    outcome_free(&o);
    cons_close(&fx);
}
END_TEST

/* Refusals at submit: empty prompt, prompt that fills the context, bad sampler parameters. */
START_TEST(submit_refusals) {
    mdl x;
    mdl_load(&x, k_models[0]);
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 16;
    cp.n_seq = 2;
    cp.n_batch = 8;
    cp.n_threads = 1;
    cf_context c;
    cf_err e;
    ck_assert_msg(cf_context_init(&c, &x.m, &cp, &e) == 0, "%s", e.msg);
    cf_engine *eng;
    ck_assert_msg(cf_engine_new(&eng, &c, x.tok, NULL, &e) == 0, "%s", e.msg);
    int32_t ids[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    cf_gen_req r = {0};
    r.sp = cf_sampler_defaults();
    r.prompt = ids;
    r.max_tokens = 4;
    r.n_prompt = 0;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), -1);
    r.n_prompt = 16;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), -1);
    ck_assert_int_eq(e.code, CF_ELIMIT);
    r.n_prompt = 15;
    r.sp.min_p = 2;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), -1);
    r.sp.min_p = 0;
    ids[0] = 1 << 20;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), -1);
    ids[0] = 1;
    cf_engine_free(eng);
    /* 15 prompt tokens in a 16-position slot: two tokens, then "context"; a sampler that can pick
     * nothing (every token banned): "dead_state", not a hang */
    static outcome o;
    memset(&o, 0, sizeof o);
    cf_engine_cb cb = {&o, NULL, on_done, NULL};
    ck_assert_msg(cf_engine_new(&eng, &c, x.tok, &cb, &e) == 0, "%s", e.msg);
    r.max_tokens = 8;
    r.user = (void *)0;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), 0);
    int nv = x.m.hp.n_vocab;
    cf_logit_bias *ban = malloc((size_t)nv * sizeof *ban);
    for (int i = 0; i < nv; i++) ban[i] = (cf_logit_bias){i, -INFINITY};
    r.sp.bias = ban;
    r.sp.n_bias = nv;
    r.n_prompt = 3;
    r.user = (void *)1;
    ck_assert_int_eq(cf_engine_submit(eng, &r, &e), 1);
    free(ban);   /* copied by submit */
    ck_assert_int_eq(cf_engine_run(eng, &e), 0);
    ck_assert_int_eq(o.n_done, 2);
    ck_assert_int_eq(o.fin[0], CF_FIN_CONTEXT);
    ck_assert_int_eq(o.n_tok[0], 2);   /* positions 15 (evaluated) and 16 (not) */
    ck_assert_int_eq(o.fin[1], CF_FIN_DEAD);
    ck_assert_int_eq(o.n_tok[1], 0);
    outcome_free(&o);
    cf_engine_free(eng);
    cf_context_free(&c);
    mdl_free(&x);
}
END_TEST

/* ---- cinfer batch ---- */
static char g_dir[64];

static const char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/cf_engine_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/%s", g_dir, name);
    return b;
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(s, f);
    fclose(f);
}

/* Runs cmd_batch with stderr captured into err_path. */
static int run_batch(const char *err_path, char **argv) {
    int argc = 0;
    while (argv[argc]) argc++;
    fflush(stderr);
    ck_assert_ptr_nonnull(freopen(err_path, "w", stderr));
    int rc = cmd_batch(argc, argv);
    fflush(stderr);
    return rc;
}

/* Parses the result lines: count, and whether each id in want[] appears (with its reason). */
static int count_lines(const char *path, const char *id, char *fin, size_t fin_cap) {
    size_t len;
    char *s = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(s);
    int n = 0, hits = 0;
    for (char *p = s; *p;) {
        char *nl = strchr(p, '\n');
        ck_assert_msg(nl != NULL, "unterminated result line");
        cf_json_doc *d;
        cf_err e;
        ck_assert_msg(cf_json_parse(p, (size_t)(nl - p), &d, &e) == 0, "%s", e.msg);
        const cf_json *r = cf_json_root(d), *jid = cf_json_get(r, "id");
        ck_assert_ptr_nonnull(jid);
        ck_assert_ptr_nonnull(cf_json_get(r, "output"));
        ck_assert_ptr_nonnull(cf_json_get(r, "tokens"));
        ck_assert_ptr_nonnull(cf_json_get(r, "valid"));
        const cf_json *f = cf_json_get(r, "finish_reason");
        ck_assert_ptr_nonnull(f);
        char *k = cf_json_write(jid, NULL);
        if (id && !strcmp(k, id)) {
            hits++;
            if (fin) snprintf(fin, fin_cap, "%s", f->str);
        }
        free(k);
        cf_json_free(d);
        n++;
        p = nl + 1;
    }
    free(s);
    if (id) ck_assert_int_eq(hits, 1);
    return n;
}

START_TEST(batch_resume_bad_lines_long_prompt) {
    const char *in = tmp_path("in.jsonl"), *out = tmp_path("out.jsonl"), *err = tmp_path("err.txt");
    char long_prompt[20000] = "{\"id\":\"long\",\"prompt\":\"";
    for (int i = 0; i < 600; i++) strcat(long_prompt, "the dog ");
    strcat(long_prompt, "\"}\n");
    char text[40000];
    snprintf(text, sizeof text,
             "{\"id\":1,\"prompt\":\"Once upon a time\"}\n"
             "{\"id\":2,\"prompt\":\"The cat\"}\n"
             "{\"id\":3,\"prompt\":\n"                             /* line 3: bad JSON */
             "{\"id\":\"s\",\"prompt\":\"Lily\",\"schema\":{\"enum\":[\"red\",\"redder\"]}}\n"
             "[1,2]\n"                                              /* line 5: not an object */
             "%s"                                                   /* line 6: too long */
             "{\"id\":7,\"prompt\":\"Bob went\"}\n",
             long_prompt);
    write_file(in, text);
    char *argv[] = {"batch", "-m", (char *)tu_shared(k_models[0]), "--in", (char *)in, "--out", (char *)out,
                    "--json-schema", "tests/data/engine/item.json", "--max-ws", "0", "--parallel", "3", "-n", "96",
                    "--ctx", "256", "-t", "2", NULL};
    ck_assert_int_eq(run_batch(err, argv), CLI_OK);
    char fin[32];
    ck_assert_int_eq(count_lines(out, "\"long\"", fin, sizeof fin), 5);
    ck_assert_str_eq(fin, "error");
    count_lines(out, "\"s\"", fin, sizeof fin);
    ck_assert_msg(!strcmp(fin, "complete") || !strcmp(fin, "stop"), "%s", fin);
    size_t elen;
    char *es = tu_read_file(err, &elen);
    ck_assert_ptr_nonnull(strstr(es, "line 3:"));
    ck_assert_ptr_nonnull(strstr(es, "line 5: not a JSON object"));
    ck_assert_ptr_nonnull(strstr(es, "line 6 (id \"long\"): the prompt has"));
    free(es);
    /* every constrained output in this run validates */
    size_t olen;
    char *os = tu_read_file(out, &olen);
    ck_assert_ptr_null(strstr(os, "\"valid\":false"));
    /* resume: cut the file in the middle of its last line, add a prompt; only the cut id and
     * the new one run */
    char *last = os + olen - 2;
    while (last > os && last[-1] != '\n') last--;
    char cut_id[64];
    {
        cf_json_doc *d;
        cf_err e;
        ck_assert_int_eq(cf_json_parse(last, (size_t)(os + olen - last), &d, &e), 0);
        char *k = cf_json_write(cf_json_get(cf_json_root(d), "id"), NULL);
        snprintf(cut_id, sizeof cut_id, "%s", k);
        free(k);
        cf_json_free(d);
    }
    size_t keep = (size_t)(last - os) + 10;
    FILE *f = fopen(out, "wb");
    fwrite(os, 1, keep, f);
    fclose(f);
    free(os);
    f = fopen(in, "ab");
    fputs("{\"id\":8,\"prompt\":\"The end\"}\n", f);
    fclose(f);
    ck_assert_int_eq(run_batch(err, argv), CLI_OK);
    es = tu_read_file(err, &elen);
    ck_assert_msg(strstr(es, "2 prompts to run, 4 already in") != NULL, "%s", es);
    ck_assert_ptr_nonnull(strstr(es, "half-written last line"));
    free(es);
    ck_assert_int_eq(count_lines(out, cut_id, NULL, 0), 6);
    count_lines(out, "8", NULL, 0);
    /* a third run has nothing to do */
    ck_assert_int_eq(run_batch(err, argv), CLI_OK);
    ck_assert_int_eq(count_lines(out, NULL, NULL, 0), 6);
    /* an uncompilable --json-schema stops before any work */
    const char *bad = tmp_path("bad.json");
    write_file(bad, "{\"type\":\"object\",\"properties\":{\"a\":{\"pattern\":\"(\"}}}");
    const char *out2 = tmp_path("out2.jsonl");
    char *argv2[] = {"batch", "-m", (char *)tu_shared(k_models[0]), "--in", (char *)in, "--out", (char *)out2,
                     "--json-schema", (char *)bad, NULL};
    ck_assert_int_eq(run_batch(err, argv2), CLI_USAGE);
    ck_assert_int_ne(access(out2, F_OK), 0);
    char *argv3[] = {"batch", "-m", (char *)tu_shared(k_models[0]), "--in", (char *)in, "--out", (char *)out2,
                     "--json-schema", "/nonexistent/schema.json", NULL};
    ck_assert_int_eq(run_batch(err, argv3), CLI_USAGE);
    ck_assert_int_ne(access(out2, F_OK), 0);
    /* sharding: two shards together produce every id once */
    const char *s0 = tmp_path("s0.jsonl"), *s1 = tmp_path("s1.jsonl");
    char *a0[] = {"batch", "-m", (char *)tu_shared(k_models[0]), "--in", (char *)in, "--out", (char *)s0,
                  "--shard", "0/2", "-n", "8", "--ctx", "256", NULL};
    char *a1[] = {"batch", "-m", (char *)tu_shared(k_models[0]), "--in", (char *)in, "--out", (char *)s1,
                  "--shard", "1/2", "-n", "8", "--ctx", "256", NULL};
    ck_assert_int_eq(run_batch(err, a0), CLI_OK);
    ck_assert_int_eq(run_batch(err, a1), CLI_OK);
    ck_assert_int_eq(count_lines(s0, NULL, NULL, 0) + count_lines(s1, NULL, NULL, 0), 6);
    unlink(in), unlink(out), unlink(err), unlink(bad), unlink(s0), unlink(s1);
    rmdir(g_dir);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("engine");
    int have = tu_have_shared();
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 300);
    if (have) {
        tcase_add_loop_test(tc, cb_greedy_equals_alone, 0, 2);
        tcase_add_loop_test(tc, cb_sampled_equals_alone, 0, 2);
        tcase_add_loop_test(tc, logits_batch8_bitwise, 0, 2);
        tcase_add_loop_test(tc, constrained_stories, 0, N_SCHEMAS);
        tcase_add_loop_test(tc, constrained_synth, 0, N_SCHEMAS);
        tcase_add_loop_test(tc, constrained_subset_logits, 0, 2 * N_SCHEMAS);
        tcase_add_test(tc, length_mid_document);
        tcase_add_test(tc, submit_refusals);
        tcase_add_test(tc, batch_resume_bad_lines_long_prompt);
    }
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
