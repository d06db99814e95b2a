/*
 * Per-shape kernel choices, measured at first use (compiled once, shared by the per-ISA
 * kernel copies): which prefetch strategy a matrix-vector product of a given shape reads
 * its matrix with (gemm.c, LMF_GEMV_*). The best strategy differs between hosts: on the
 * AMD Zen 5 the kernels were first tuned on, non-temporal prefetches stream a matrix
 * larger than the L3 through without evicting the weights a decode step reads next; on an
 * Intel Xeon (Sapphire/Emerald Rapids) the same prefetches cut a 37 MB LM head to a
 * quarter of the bandwidth plain prefetches reach. A rule written on one host fails on the
 * other, so each shape is timed once per process and the winner kept.
 *
 * Every strategy computes the same sums in the same order, so the choice changes the time
 * a product takes, never its result. The table is guarded by a mutex (several Node worker
 * threads may call kernels at once) and holds a fixed number of entries; when it is full
 * the oldest entry is replaced.
 */
#include "lmf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define ENTRIES 256

typedef struct {
  lmf_gemv_key key;
  int strategy;
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry table[ENTRIES];
static int used, next_victim;
static atomic_int forced = -1;

static int same(const lmf_gemv_key *a, const lmf_gemv_key *b) {
  return strcmp(a->isa, b->isa) == 0 && a->rows == b->rows && a->cols == b->cols && a->ld == b->ld &&
         a->threads == b->threads;
}

int lmf_gemv_lookup(const lmf_gemv_key *key) {
  int found = -1;
  pthread_mutex_lock(&mu);
  for (int i = 0; i < used; i++)
    if (same(&table[i].key, key)) {
      found = table[i].strategy;
      break;
    }
  pthread_mutex_unlock(&mu);
  return found;
}

void lmf_gemv_store(const lmf_gemv_key *key, int strategy) {
  pthread_mutex_lock(&mu);
  int slot = -1;
  for (int i = 0; i < used && slot < 0; i++)
    if (same(&table[i].key, key)) slot = i;
  if (slot < 0 && used < ENTRIES) slot = used++;
  if (slot < 0) {
    slot = next_victim;
    next_victim = (next_victim + 1) % ENTRIES;
  }
  table[slot] = (entry){*key, strategy};
  pthread_mutex_unlock(&mu);
}

void lmf_gemv_forget(void) {
  pthread_mutex_lock(&mu);
  used = next_victim = 0;
  pthread_mutex_unlock(&mu);
}

int lmf_gemv_forced(void) { return atomic_load_explicit(&forced, memory_order_relaxed); }

void lmf_gemv_force(int strategy) {
  atomic_store(&forced, strategy >= 0 && strategy < LMF_GEMV_STRATEGIES ? strategy : -1);
}

const char *lmf_gemv_strategy_name(int strategy) {
  switch (strategy) {
    case LMF_GEMV_KEEP:
      return "keep";
    case LMF_GEMV_STREAM:
      return "stream";
    default:
      return NULL;
  }
}
