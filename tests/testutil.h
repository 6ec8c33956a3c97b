/* Shared helpers for the Check suites.  Tolerances live in each suite as named constants. */
#ifndef CF_TESTUTIL_H
#define CF_TESTUTIL_H
#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Path of a file under ../shared (or $CINFER_SHARED); returns a static buffer (rotating, 8 deep). */
const char *tu_shared(const char *rel);
/* 1 if the shared data directory is present. */
int tu_have_shared(void);
/* Deterministic uniform floats in [-scale, scale). */
void tu_fill_rand(float *x, size_t n, uint64_t seed, float scale);
uint64_t tu_rand_u64(uint64_t *state);
/* sum((a-ref)^2) / sum(ref^2); 0 if both zero. */
double tu_nmse(const float *a, const float *ref, size_t n);
double tu_max_abs_diff(const float *a, const float *b, size_t n);
/* Reads a whole file (malloc'ed, NUL-terminated); NULL on error. */
char *tu_read_file(const char *path, size_t *len);
/* Runs the suite (CK_FORK etc. as Check documents) and returns the process exit status. */
int tu_run(Suite *s);

#endif
