/* Core-to-core hand-off probe: how long one cache line takes to go from one thread of a team to
 * another and back (a ping-pong on one line).  Every barrier and every activation a thread reads
 * after another wrote it pays this.  On a shared VM it is not a constant: the dev VM read 54 ns
 * at one moment and 339 ns minutes later (the host moving its vCPUs between core complexes), and
 * small 2-thread calls were 2x slower than serial while it was high. */
#ifndef CF_HANDOFF_H
#define CF_HANDOFF_H

/* Median round trip in ns between threads 0 and 1 of a 2-thread team over `batches` batches of
 * 200 round trips (~0.1-1 ms in all for 5); *min_ns (may be NULL) the fastest batch.  -1 when
 * the machine has one core. */
double cf_handoff_ns(int batches, double *min_ns);

#endif
