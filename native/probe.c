/*
 * Machine probe for the benchmarks: memcpy bandwidth, the yardstick for memory-bound
 * kernels (a matrix-vector product can stream its matrix no faster than memory delivers).
 */
#include "lmf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  char *dst;
  const char *src;
  size_t chunk, bytes;
} copy_ctx;

static void copy_task(void *ctx, long task, int tid) {
  (void)tid;
  const copy_ctx *c = ctx;
  size_t lo = (size_t)task * c->chunk, n = lo + c->chunk < c->bytes ? c->chunk : c->bytes - lo;
  memcpy(c->dst + lo, c->src + lo, n);
}

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

double lmf_copy_bandwidth(size_t bytes, int reps) {
  char *src = malloc(bytes), *dst = malloc(bytes);
  if (src == NULL || dst == NULL) {
    free(src);
    free(dst);
    return 0;
  }
  memset(src, 1, bytes);
  memset(dst, 2, bytes); /* fault the pages in before timing */
  long tasks = lmf_threads();
  copy_ctx c = {dst, src, (bytes / (size_t)tasks + 63) & ~(size_t)63, bytes};
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = seconds();
    lmf_parallel(tasks, copy_task, &c);
    double t = seconds() - t0;
    if (t < best) best = t;
  }
  free(src);
  free(dst);
  return 2.0 * (double)bytes / best * 1e-9;
}
