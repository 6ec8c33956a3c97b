/* CPU detection, ISA forcing, tuning (defaults / file / env), the split rule, the barrier and where
 * the team keeps it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/cpu.h"
#include "kernels/parallel.h"
#include "kernels/tuning.h"
#include "tests/testutil.h"

START_TEST(test_cpu_detect) {
    const cf_cpu_info *c = cf_cpu();
    ck_assert_int_ge(c->n_cores, 1);
    ck_assert(c->l1d > 0 && c->l2 > 0 && c->l3 > 0);
    ck_assert(cf_isa_supported(CF_ISA_REF));
    ck_assert_int_le(c->active, c->best);
    for (int i = 0; i < CF_ISA_COUNT; i++) ck_assert_int_eq(cf_isa_parse(cf_isa_name((cf_isa)i)), i);
    ck_assert_int_eq(cf_isa_parse("sse9"), -1);
}
END_TEST

START_TEST(test_isa_force) {
    cf_err e;
    ck_assert_int_eq(cf_isa_set(CF_ISA_REF, &e), 0);
    ck_assert_int_eq(cf_isa_active(), CF_ISA_REF);
    cf_isa best = cf_cpu()->best;
    if (best < CF_ISA_AVX512VNNI) {
        ck_assert_int_ne(cf_isa_set((cf_isa)(best + 1), &e), 0);
        ck_assert_ptr_nonnull(strstr(e.msg, "not supported"));
    }
    setenv("CINFER_ISA", "bogus", 1);
    ck_assert_int_ne(cf_cpu_init(&e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "bogus"));
    setenv("CINFER_ISA", "ref", 1);
    ck_assert_int_eq(cf_cpu_init(&e), 0);
    ck_assert_int_eq(cf_isa_active(), CF_ISA_REF);
    unsetenv("CINFER_ISA");
}
END_TEST

START_TEST(test_tuning_file_env) {
    char path[] = "/tmp/cf_tuning_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    cf_err e;
    cf_tuning t;
    cf_tuning_defaults(CF_ISA_AVX2, &t);
    t.thresh_rmsnorm = 1234;
    ck_assert_int_eq(cf_tuning_write_file(path, CF_ISA_AVX2, &t, "test", &e), 0);
    setenv("CINFER_TUNING", path, 1);
    setenv("CINFER_THRESH_ROPE", "777", 1);
    ck_assert_int_eq(cf_isa_set(cf_cpu()->best >= CF_ISA_AVX2 ? CF_ISA_AVX2 : CF_ISA_REF, &e), 0);
    ck_assert_int_eq(cf_tuning_reload(&e), 0);
    const cf_tuning *g = cf_tuning_get();
    if (cf_isa_active() == CF_ISA_AVX2) {
        ck_assert_int_eq(g->thresh_rmsnorm, 1234);
        ck_assert_int_eq(cf_tuning_source(cf_tuning_find("thresh_rmsnorm")), CF_TSRC_FILE);
    }
    ck_assert_int_eq(g->thresh_rope, 777);
    ck_assert_int_eq(cf_tuning_source(cf_tuning_find("thresh_rope")), CF_TSRC_ENV);
    setenv("CINFER_THRESH_ROPE", "-5", 1);
    ck_assert_int_ne(cf_tuning_reload(&e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "CINFER_THRESH_ROPE"));
    unsetenv("CINFER_THRESH_ROPE");
    FILE *f = fopen(path, "w");
    fprintf(f, "[avx2]\nthresh_nonsense = 5\n");
    fclose(f);
    ck_assert_int_ne(cf_tuning_load_file(path, CF_ISA_AVX2, &t, NULL, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, ":2:"));
    unlink(path);
    unsetenv("CINFER_TUNING");
}
END_TEST

START_TEST(test_split_rule) {
    ck_assert_int_eq(cf_split_nthreads(100, 1000, 2), 1);
    ck_assert_int_eq(cf_split_nthreads(2000, 1000, 2), 2);
    ck_assert_int_eq(cf_split_nthreads(5000, 1000, 16), 5);
    ck_assert_int_eq(cf_split_nthreads(5, 0, 8), 8);
    /* every item covered exactly once, ranges granule-aligned */
    for (int nth = 1; nth <= 7; nth++)
        for (long n = 0; n < 300; n += 7) {
            long covered = 0, prev = 0;
            for (int i = 0; i < nth; i++) {
                cf_par p = {i, nth, NULL};
                long lo, hi;
                cf_split(&p, n, 10, 100, 8, &lo, &hi);
                ck_assert(lo <= hi);
                if (lo < hi) {
                    ck_assert_int_eq(lo, prev);
                    ck_assert(lo % 8 == 0);
                    prev = hi;
                    covered += hi - lo;
                }
            }
            ck_assert_int_eq(covered, n);
        }
    /* fewer granules than threads: the first threads take them (a single row stays on thread 0) */
    for (int i = 0; i < 4; i++) {
        cf_par p = {i, 4, NULL};
        long lo, hi;
        cf_split(&p, 1, 1000, 1, 1, &lo, &hi);
        ck_assert_int_eq(hi - lo, i == 0 ? 1 : 0);
        cf_split(&p, 20, 1000, 1, 8, &lo, &hi); /* 3 granules: threads 0..2 */
        ck_assert_int_eq(hi > lo, i < 3);
    }
}
END_TEST

typedef struct {
    long counter[4];
    int bad;
} barrier_arg;

static void barrier_fn(const cf_par *p, void *a) {
    barrier_arg *b = a;
    for (int round = 0; round < 2000; round++) {
        __atomic_fetch_add(&b->counter[round & 3], 1, __ATOMIC_RELAXED);
        cf_barrier(p);
        if (__atomic_load_n(&b->counter[round & 3], __ATOMIC_RELAXED) != (long)(round / 4 + 1) * p->nth) b->bad = 1;
        cf_barrier(p);
    }
}

START_TEST(test_barrier) {
    for (int nth = 1; nth <= 4; nth++) {
        barrier_arg b = {{0}, 0};
        cf_parallel_run(nth, barrier_fn, &b);
        ck_assert_int_eq(b.bad, 0);
    }
}
END_TEST

static void team_fn(const cf_par *p, void *a) {
    if (p->ith == 0) *(const void **)a = p->team;
}

/* The team's barrier lines sit in a page of their own, not beside the caller's stack frames (on
 * the stack they slowed thread 0's serial calls in a team: docs/DESIGN.md). */
START_TEST(test_team_page) {
    for (int nth = 2; nth <= 4; nth++) {
        const void *team = NULL;
        cf_parallel_run(nth, team_fn, &team);
        ck_assert_ptr_nonnull(team);
        ck_assert_uint_eq((uintptr_t)team % 4096, 0);
        ck_assert_uint_ne((uintptr_t)team / 4096, (uintptr_t)&team / 4096);
        ck_assert_uint_ge(sizeof(cf_team), 2 * 64); /* count and gen on separate lines */
    }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_cpu_detect);
    tcase_add_test(tc, test_isa_force);
    tcase_add_test(tc, test_tuning_file_env);
    tcase_add_test(tc, test_split_rule);
    tcase_add_test(tc, test_barrier);
    tcase_add_test(tc, test_team_page);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
