/* The git commit the binary was built from (-DCF_COMMIT from the Makefile), for benchmark rows. */
#include "bench/bench.h"

#ifndef CF_COMMIT
#define CF_COMMIT "unknown"
#endif

const char *bench_commit(void) { return CF_COMMIT[0] ? CF_COMMIT : "unknown"; }
