/* Benchmark tooling without timing assertions: tuning file round trip and precedence
 * (default < file < env), the written-changed-only file, the SVG writer's output is well-formed
 * XML, `cinfer bench model` on stories260K emits JSON rows with the documented fields, and the
 * profile's rows add up to its total. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/handoff.h"
#include "bench/plot.h"
#include "kernels/clock.h"
#include "kernels/cpu.h"
#include "kernels/tuning.h"
#include "model/batch.h"
#include "model/context.h"
#include "model/forward.h"
#include "model/model.h"
#include "model/profile.h"
#include "sampler/json.h"
#include "testutil.h"

static void tmp_path(char *buf, size_t cap, const char *suffix) {
    snprintf(buf, cap, "/tmp/cf_bench_test_%d_%s", (int)getpid(), suffix);
}

START_TEST(test_tuning_precedence) {
    cf_err e;
    ck_assert_int_eq(cf_cpu_init(&e), 0);
    cf_isa isa = cf_isa_active();
    char path[256];
    tmp_path(path, sizeof path, "tuning.txt");
    int i_rms = cf_tuning_find("thresh_rmsnorm"), i_rope = cf_tuning_find("thresh_rope"),
        i_mm = cf_tuning_find("thresh_matmul"), i_sw = cf_tuning_find("thresh_swiglu");
    ck_assert(i_rms >= 0 && i_rope >= 0 && i_mm >= 0 && i_sw >= 0);
    cf_tuning def, t;
    cf_tuning_defaults(isa, &def);
    t = def;
    cf_tuning_set_value(&t, i_rms, cf_tuning_value(&def, i_rms) + 11);
    cf_tuning_set_value(&t, i_rope, cf_tuning_value(&def, i_rope) + 22);
    /* a section for another ISA must be kept and must not apply */
    cf_isa other = isa == CF_ISA_REF ? CF_ISA_AVX2 : CF_ISA_REF;
    cf_tuning o;
    cf_tuning_defaults(other, &o);
    cf_tuning_set_value(&o, i_mm, 5);
    unlink(path);
    ck_assert_int_eq(cf_tuning_write_changed(path, other, &o, "other\nsecond line", &e), 0);
    ck_assert_int_eq(cf_tuning_write_changed(path, isa, &t, "test", &e), 0);
    size_t len;
    char *text = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    /* only changed values are written; both sections present */
    ck_assert_ptr_nonnull(strstr(text, "thresh_rmsnorm = "));
    ck_assert_ptr_nonnull(strstr(text, "thresh_rope = "));
    ck_assert_ptr_null(strstr(text, "thresh_swiglu"));
    ck_assert_ptr_nonnull(strstr(text, "thresh_matmul = 5"));
    free(text);

    /* round trip through the loader, with sources */
    cf_tuning r;
    cf_tsrc src[64] = {0};
    cf_tuning_defaults(isa, &r);
    ck_assert_int_eq(cf_tuning_load_file(path, isa, &r, src, &e), 0);
    ck_assert_int_eq(memcmp(&r, &t, sizeof r), 0);
    ck_assert_int_eq(src[i_rms], CF_TSRC_FILE);
    ck_assert_int_eq(src[i_sw], CF_TSRC_DEFAULT);
    ck_assert_int_eq(cf_tuning_value(&r, i_mm), cf_tuning_value(&def, i_mm));

    /* default < file < env through the global loader */
    setenv("CINFER_TUNING", path, 1);
    setenv("CINFER_THRESH_RMSNORM", "4242", 1);
    ck_assert_str_eq(cf_tuning_path(), path);
    ck_assert_int_eq(cf_tuning_reload(&e), 0);
    const cf_tuning *g = cf_tuning_get();
    ck_assert_int_eq(cf_tuning_value(g, i_rms), 4242);
    ck_assert_int_eq(cf_tuning_source(i_rms), CF_TSRC_ENV);
    ck_assert_int_eq(cf_tuning_value(g, i_rope), cf_tuning_value(&def, i_rope) + 22);
    ck_assert_int_eq(cf_tuning_source(i_rope), CF_TSRC_FILE);
    ck_assert_int_eq(cf_tuning_value(g, i_sw), cf_tuning_value(&def, i_sw));
    ck_assert_int_eq(cf_tuning_source(i_sw), CF_TSRC_DEFAULT);
    unsetenv("CINFER_THRESH_RMSNORM");
    ck_assert_int_eq(cf_tuning_reload(&e), 0);
    ck_assert_int_eq(cf_tuning_value(cf_tuning_get(), i_rms), cf_tuning_value(&def, i_rms) + 11);

    /* rewriting our section keeps the other one */
    ck_assert_int_eq(cf_tuning_write_changed(path, isa, &def, NULL, &e), 0);
    text = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "thresh_matmul = 5"));
    ck_assert_ptr_null(strstr(text, "thresh_rope"));
    free(text);
    unsetenv("CINFER_TUNING");
    unlink(path);
}
END_TEST

/* ---- a minimal XML well-formedness check: tags nest, attributes are quoted, entities known ---- */
static int xml_ok(const char *s, char *why, size_t cap) {
    char stack[64][64];
    int depth = 0, roots = 0;
    const char *p = s;
    if (!strncmp(p, "<?xml", 5)) {
        p = strstr(p, "?>");
        if (!p) return snprintf(why, cap, "unterminated declaration"), 0;
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            const char *ents[] = {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"};
            int ok = 0;
            for (int i = 0; i < 5 && !ok; i++) ok = !strncmp(p, ents[i], strlen(ents[i]));
            if (!ok) return snprintf(why, cap, "bad entity at %ld", (long)(p - s)), 0;
            p++;
            continue;
        }
        if (*p != '<') {
            if (!depth && !strchr(" \t\r\n", *p)) return snprintf(why, cap, "text outside the root"), 0;
            p++;
            continue;
        }
        if (p[1] == '/') {
            char name[64] = "";
            if (sscanf(p + 2, "%63[^> \t\n]", name) != 1 || !depth || strcmp(stack[depth - 1], name))
                return snprintf(why, cap, "mismatched </%s>", name), 0;
            depth--;
            p = strchr(p, '>');
            if (!p) return snprintf(why, cap, "unterminated end tag"), 0;
            p++;
            continue;
        }
        char name[64] = "";
        if (sscanf(p + 1, "%63[A-Za-z0-9_:-]", name) != 1) return snprintf(why, cap, "bad tag at %ld", (long)(p - s)), 0;
        p += 1 + strlen(name);
        /* attributes: name="value" */
        for (;;) {
            while (*p == ' ' || *p == '\n' || *p == '\t') p++;
            if (*p == '>' || (*p == '/' && p[1] == '>')) break;
            char an[64];
            if (sscanf(p, "%63[A-Za-z0-9_:-]", an) != 1) return snprintf(why, cap, "bad attribute in <%s>", name), 0;
            p += strlen(an);
            if (*p != '=' || p[1] != '"') return snprintf(why, cap, "unquoted attribute %s in <%s>", an, name), 0;
            p += 2;
            while (*p && *p != '"') {
                if (*p == '<') return snprintf(why, cap, "'<' in attribute %s", an), 0;
                p++;
            }
            if (!*p) return snprintf(why, cap, "unterminated attribute"), 0;
            p++;
        }
        if (*p == '/') {
            p += 2;
            if (!depth) roots++;
            continue;
        }
        p++;
        if (!depth) roots++;
        if (depth == 64) return snprintf(why, cap, "too deep"), 0;
        snprintf(stack[depth++], 64, "%s", name);
    }
    if (depth) return snprintf(why, cap, "unclosed <%s>", stack[depth - 1]), 0;
    if (roots != 1) return snprintf(why, cap, "%d root elements", roots), 0;
    return 1;
}

static void check_svg(const char *path) {
    size_t len;
    char *text = tu_read_file(path, &len);
    ck_assert_ptr_nonnull(text);
    char why[128] = "";
    ck_assert_msg(xml_ok(text, why, sizeof why), "%s: %s", path, why);
    ck_assert_ptr_nonnull(strstr(text, "<svg"));
    free(text);
}

/* The hand-off probe measures something plausible: a line's round trip between two cores takes
 * at least a few ns and far less than a millisecond (a broken ping-pong would hang or read 0). */
START_TEST(test_handoff_probe) {
    double mn, med = cf_handoff_ns(3, &mn);
    if (cf_cpu()->n_cores < 2) {
        ck_assert(med < 0);
        return;
    }
    ck_assert_msg(med > 5 && med < 1e6, "hand-off median %.1f ns", med);
    ck_assert(mn > 0 && mn <= med);
}
END_TEST

START_TEST(test_svg_wellformed) {
    /* the checker itself rejects broken documents */
    char why[128];
    ck_assert(!xml_ok("<svg><g></svg>", why, sizeof why));
    ck_assert(!xml_ok("<svg a=b></svg>", why, sizeof why));
    ck_assert(!xml_ok("<svg>a & b</svg>", why, sizeof why));
    ck_assert(xml_ok("<?xml version=\"1.0\"?>\n<svg x=\"1\"><g/><text>a &amp; b</text></svg>\n", why, sizeof why));

    char path[256];
    tmp_path(path, sizeof path, "line.svg");
    plot *p = plot_new("tokens/s <vs> threads & \"more\"", "threads", "tokens/s");
    ck_assert_ptr_nonnull(p);
    int s0 = plot_series(p, "pp<512>"), s1 = plot_series(p, "tg & co");
    for (int t = 1; t <= 16; t *= 2) {
        ck_assert_int_eq(plot_add(p, s0, t, 100.0 * t), 0);
        ck_assert_int_eq(plot_add(p, s1, t, t == 4 ? NAN : 10.0 / t), 0);
    }
    plot_logx(p, 1);
    ck_assert_int_ne(plot_add(p, s0, 0, 1), 0); /* log axis refuses x <= 0 */
    ck_assert_int_ne(plot_add(p, 7, 1, 1), 0);  /* no such series */
    plot_hline(p, 50, "ideal 'x'");
    ck_assert_int_eq(plot_write_svg(p, path), 0);
    plot_free(p);
    check_svg(path);
    unlink(path);

    tmp_path(path, sizeof path, "bar.svg");
    p = plot_new("% of limit", "case", "%");
    const char *cats[20];
    char names[20][32];
    for (int i = 0; i < 20; i++) snprintf(names[i], 32, "case <%d> & x", i), cats[i] = names[i];
    ck_assert_int_eq(plot_cats(p, 20, cats), 0);
    int s = plot_series(p, "1 thread");
    for (int i = 0; i < 20; i++) plot_add(p, s, i, i * 7.5 - 20);
    ck_assert_int_eq(plot_write_svg(p, path), 0);
    plot_free(p);
    check_svg(path);
    unlink(path);

    /* an empty chart is still a document */
    tmp_path(path, sizeof path, "empty.svg");
    p = plot_new("", "", "");
    ck_assert_int_eq(plot_write_svg(p, path), 0);
    plot_free(p);
    check_svg(path);
    unlink(path);
}
END_TEST

static const cf_json *row0(const cf_json *root, const char *table) {
    const cf_json *t = cf_json_get(root, table);
    ck_assert_msg(t != NULL, "no table '%s'", table);
    const cf_json *rows = cf_json_get(t, "rows");
    ck_assert_ptr_nonnull(rows);
    ck_assert_int_eq(rows->type, CF_JSON_ARRAY);
    ck_assert_int_ge(rows->len, 1);
    return rows->items[0];
}

START_TEST(test_bench_model_json) {
    if (!tu_have_shared()) return;
    char out[256], plots[256];
    tmp_path(out, sizeof out, "bm.json");
    tmp_path(plots, sizeof plots, "plots");
    const char *model = tu_shared("models/stories260K.gguf");
    char *argv[] = {"model", "-m", (char *)model, "-p", "16", "-n", "8", "-t", "1", "-r", "2", "--parallel", "2",
                    "--par-p", "8", "--par-n", "4", "--format", "json", "--out", out, "--profile", "--plot", plots, NULL};
    int argc = (int)(sizeof argv / sizeof argv[0]) - 1;
    ck_assert_int_eq(bench_model_main(argc, argv), 0);
    size_t len;
    char *text = tu_read_file(out, &len);
    ck_assert_ptr_nonnull(text);
    cf_json_doc *doc;
    cf_err e;
    ck_assert_msg(cf_json_parse(text, len, &doc, &e) == 0, "%s", e.msg);
    const cf_json *root = cf_json_root(doc);
    const cf_json *r = row0(root, "bench");
    const char *fields[] = {"model", "size_MiB", "params_M", "type", "isa", "threads", "test", "n_ctx", "t/s", "stddev", "commit"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(cf_json_get(r, fields[i]) != NULL, "bench row lacks '%s'", fields[i]);
    ck_assert_str_eq(cf_json_get(r, "test")->str, "pp16");
    ck_assert_int_eq(cf_json_get(r, "n_ctx")->num, 24); /* p + n, not the model's context */
    ck_assert_int_eq(cf_json_get(r, "threads")->num, 1);
    ck_assert_str_eq(cf_json_get(r, "type")->str, "f32");
    ck_assert(cf_json_get(r, "t/s")->type == CF_JSON_NUMBER && cf_json_get(r, "t/s")->num > 0);
    ck_assert(strlen(cf_json_get(r, "commit")->str) > 0);
    /* the parallel table has P = 1 added as the baseline, then P = 2 */
    const cf_json *pt = cf_json_get(cf_json_get(root, "parallel"), "rows");
    ck_assert_ptr_nonnull(pt);
    ck_assert_int_eq(pt->len, 2);
    ck_assert_int_eq(cf_json_get(pt->items[0], "P")->num, 1);
    ck_assert_int_eq(cf_json_get(pt->items[1], "P")->num, 2);
    ck_assert(fabs(cf_json_get(pt->items[0], "speedup")->num - 1.0) < 1e-9);
    ck_assert(cf_json_get(pt->items[1], "kv_MiB")->num >= cf_json_get(pt->items[0], "kv_MiB")->num);
    ck_assert_int_eq(cf_json_get(pt->items[1], "n_ctx")->num, 12); /* par-p + par-n per slot */
    /* profile rows: per phase, the rows' us_token add up to the 'sum of rows' line */
    const cf_json *pr = cf_json_get(cf_json_get(root, "profile"), "rows");
    ck_assert_ptr_nonnull(pr);
    ck_assert_int_ge(pr->len, 4);
    double acc = 0;
    int sums = 0;
    for (size_t i = 0; i < pr->len; i++) {
        const cf_json *x = pr->items[i];
        const char *fam = cf_json_get(x, "family")->str;
        double us = cf_json_get(x, "us_token")->num;
        if (!strcmp(fam, "sum of rows")) {
            ck_assert_msg(fabs(us - acc) <= 0.01 * acc + 0.005, "rows %.3f vs sum %.3f", acc, us);
            acc = 0;
            sums++;
        } else {
            ck_assert(us >= 0);
            acc += us;
        }
    }
    ck_assert_int_eq(sums, 4); /* pp, tg, and the decode of each parallel table row (P = 1, 2) */
    cf_json_free(doc);
    free(text);
    unlink(out);
    const char *svgs[] = {"model_threads.svg", "model_parallel.svg", "model_parallel_efficiency.svg"};
    for (int i = 0; i < 3; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", plots, svgs[i]);
        check_svg(p);
        unlink(p);
    }
    rmdir(plots);
}
END_TEST

START_TEST(test_profile_rows_sum) {
    if (!tu_have_shared()) return;
    cf_model m;
    cf_err e;
    ck_assert_msg(cf_model_load(&m, tu_shared("models/stories260K.gguf"), &e) == 0, "%s", e.msg);
    cf_context c;
    cf_ctx_params cp = cf_ctx_default();
    cp.n_ctx = 64, cp.n_batch = 16, cp.n_threads = 2;
    ck_assert_msg(cf_context_init(&c, &m, &cp, &e) == 0, "%s", e.msg);
    cf_batch b;
    ck_assert_int_eq(cf_batch_init(&b, 16, &e), 0);
    float *logits = malloc(sizeof(float) * m.hp.n_vocab);
    cf_fwd_prof mark;
    cf_profile_start(&mark);
    int32_t toks[16];
    for (int i = 0; i < 16; i++) toks[i] = (i * 37 + 1) % m.hp.n_vocab;
    int64_t t0 = cf_now_ns();
    cf_batch_clear(&b);
    cf_batch_add_seq(&b, toks, 16, 0, 0, 1);
    ck_assert_int_eq(cf_forward(&c, &b, logits, &e), 0);
    for (int i = 0; i < 8; i++) {
        cf_batch_clear(&b);
        cf_batch_add(&b, toks[i], 16 + i, 0, 1);
        ck_assert_int_eq(cf_forward(&c, &b, logits, &e), 0);
    }
    double wall = (double)(cf_now_ns() - t0) * 1e-9;
    cf_forward_prof_enable(0);
    cf_prof_limits lim = {10, 100, 400, 2};
    cf_prof_report r;
    ck_assert_int_eq(cf_profile_build(&r, &c, &mark, wall, 0.0, &lim), 0);
    ck_assert(r.tokens == 24 && r.forwards == 9);
    double sum = 0;
    int have_mm = 0, have_attn = 0, have_bar = 0;
    for (int i = 0; i < r.n; i++) {
        ck_assert(r.rows[i].ns >= 0);
        sum += r.rows[i].ns;
        have_mm |= !strncmp(r.rows[i].name, "matmul ", 7);
        have_attn |= !strcmp(r.rows[i].name, "attention");
        have_bar |= !strcmp(r.rows[i].name, "barrier wait");
    }
    ck_assert(have_mm && have_attn && have_bar);
    ck_assert(fabs(sum - r.sum_ns) <= 1e-6 * r.sum_ns);
    /* every row is measured inside the caller's wall time: the sum cannot exceed it */
    ck_assert_msg(r.sum_ns <= r.wall_ns * 1.0001, "sum %.0f ns > wall %.0f ns", r.sum_ns, r.wall_ns);
    ck_assert(r.bottleneck >= 0 && r.bottleneck < r.n);
    /* matmul bytes per token: all layer weights + output once per forward pass, over 24 tokens */
    double mm_bytes = 0;
    for (int i = 0; i < r.n; i++)
        if (!strncmp(r.rows[i].name, "matmul ", 7)) mm_bytes += r.rows[i].bytes;
    double wb = 0;
    for (int l = 0; l < m.hp.n_layer; l++) {
        const cf_layer *ly = &m.layers[l];
        const cf_wmat *ws[] = {&ly->wq, &ly->wk, &ly->wv, &ly->wo, &ly->w_gate, &ly->w_up, &ly->w_down};
        for (int k = 0; k < 7; k++) wb += (double)ws[k]->row_bytes * ws[k]->n;
    }
    wb += (double)m.output.row_bytes * m.output.n;
    ck_assert_msg(fabs(mm_bytes - wb * 9 / 24) <= 1e-6 * wb, "matmul bytes %.0f vs %.0f", mm_bytes, wb * 9 / 24);
    /* nothing profiled since: an empty span is refused */
    cf_fwd_prof now;
    cf_forward_prof_read(&now);
    ck_assert_int_ne(cf_profile_build(&r, &c, &now, wall, -1, &lim), 0);
    free(logits);
    cf_batch_free(&b);
    cf_context_free(&c);
    cf_model_free(&m);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_tuning_precedence);
    tcase_add_test(tc, test_svg_wellformed);
    tcase_add_test(tc, test_handoff_probe);
    tcase_add_test(tc, test_bench_model_json);
    tcase_add_test(tc, test_profile_rows_sum);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
