/*
 * A small pthread pool for the kernels' parallel loops.
 *
 * The calling thread runs tasks too (it would otherwise sit idle while the workers work),
 * and idle workers sleep on a condition variable instead of spinning: on a 2-core machine
 * a spinning worker beside Node's own thread takes the core that thread needs (llama.cpp
 * in Node loses 2.5x that way). But waking a sleeping thread costs ~50 us on the VMs we
 * run on, more than a whole decode-step GEMV; so after each job a worker spins for a short
 * window (SPIN_NS) before it sleeps: back-to-back kernel calls (a decode step, a training
 * step) then hand work over in about a microsecond, and a process that stops calling idles
 * within SPIN_NS. The caller waits for the job's tasks to be done, not for every worker to
 * check in: a worker that is slow to wake does not hold up a job the others finished.
 * Tasks are handed out through an atomic counter, so uneven
 * tasks balance themselves. One parallel loop runs at a time; a second caller (another
 * Node worker thread) arriving meanwhile runs its loop on its own thread.
 */
#define _GNU_SOURCE
#include "lmf.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define MAX_THREADS 256
#ifndef SPIN_NS
#define SPIN_NS 50000L /* 50 us */
#endif

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static pthread_t workers[MAX_THREADS];
static int nthreads = 1; /* including the caller */
/* Written under mu; also read without it by spinning threads, hence atomic. */
static atomic_int quit;
static atomic_ulong generation;

static lmf_task_fn job_fn;
static void *job_ctx;
static long job_tasks;
static atomic_long next_task;
/* Tasks finished in the current job: the caller returns when this reaches job_tasks, without
 * waiting for every worker to check in. A worker that wakes late (descheduled on a busy
 * machine, or still asleep) would otherwise hold up a job the caller already did by itself. */
static atomic_long done_tasks;
/* Workers between their check of `generation` and the end of their task loop: they may be
 * reading the job's fields, so the next job's fields are written only once this is 0. */
static atomic_int active;
static atomic_int busy;

/* The generation each worker was created at: a worker must not read the live counter at
 * start-up, or a job posted before it first takes the lock would be skipped. */
static unsigned long start_generation[MAX_THREADS];

static long elapsed_ns(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

/* Spins while cond holds, up to SPIN_NS. */
#define SPIN_WHILE(cond)                                                                                   \
  do {                                                                                                     \
    struct timespec t0_;                                                                                   \
    clock_gettime(CLOCK_MONOTONIC, &t0_);                                                                  \
    for (long i_ = 1; (cond); i_++) {                                                                      \
      cpu_relax();                                                                                         \
      /* yield too: when the machine is oversubscribed the thread we wait for may need */                \
      /* this very core */                                                                                 \
      if ((i_ & 15) == 0) {                                                                                \
        sched_yield();                                                                                     \
        if (elapsed_ns(&t0_) > SPIN_NS) break;                                                             \
      }                                                                                                    \
    }                                                                                                      \
  } while (0)

/* Spins (yielding) while cond holds, however long: used only to wait for tasks that a running
 * thread has already claimed, which end without anyone's help. */
#define WAIT_WHILE(cond)                                                                                   \
  do {                                                                                                     \
    for (long i_ = 1; (cond); i_++) {                                                                      \
      cpu_relax();                                                                                         \
      if ((i_ & 15) == 0) sched_yield();                                                                   \
    }                                                                                                      \
  } while (0)

/* An odd generation means "a job is being posted": workers keep out until it turns even. */
static int job_open(unsigned long g, unsigned long seen) { return g != seen && (g & 1) == 0; }

static void run_tasks(int tid) {
  long n = job_tasks;
  for (;;) {
    long t = atomic_fetch_add(&next_task, 1);
    if (t >= n) return;
    job_fn(job_ctx, t, tid);
    atomic_fetch_add(&done_tasks, 1);
  }
}

static void *worker_main(void *arg) {
  int tid = (int)(intptr_t)arg;
  unsigned long seen = start_generation[tid];
  for (;;) {
    SPIN_WHILE(!job_open(atomic_load_explicit(&generation, memory_order_relaxed), seen) && !atomic_load(&quit));
    pthread_mutex_lock(&mu);
    while (!job_open(generation, seen) && !quit) pthread_cond_wait(&wake, &mu);
    pthread_mutex_unlock(&mu);
    if (quit) break;
    /* Register, then re-read the generation: a poster that bumped it to odd before seeing
     * active == 0 makes this read odd (seq_cst orders the two pairs of accesses). */
    atomic_fetch_add(&active, 1);
    unsigned long g = atomic_load(&generation);
    if (job_open(g, seen)) {
      run_tasks(tid);
      seen = g;
    }
    atomic_fetch_sub(&active, 1);
  }
  return NULL;
}

int lmf_cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

int lmf_threads(void) { return nthreads; }

static void stop_workers(void) {
  pthread_mutex_lock(&mu);
  quit = 1;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  for (int i = 1; i < nthreads; i++) pthread_join(workers[i], NULL);
  quit = 0;
  nthreads = 1;
}

int lmf_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  if (n == nthreads) return 0;
  stop_workers();
  for (int i = 1; i < n; i++) {
    start_generation[i] = generation;
    if (pthread_create(&workers[i], NULL, worker_main, (void *)(intptr_t)i) != 0) {
      nthreads = i;
      return -1;
    }
    nthreads = i + 1;
  }
  return 0;
}

void lmf_parallel(long ntasks, lmf_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  int expected = 0;
  if (nthreads == 1 || ntasks == 1 || !atomic_compare_exchange_strong(&busy, &expected, 1)) {
    for (long t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  atomic_fetch_add(&generation, 1); /* odd: closed */
  WAIT_WHILE(atomic_load(&active) > 0); /* late workers of the last job are leaving */
  job_fn = fn;
  job_ctx = ctx;
  job_tasks = ntasks;
  atomic_store(&next_task, 0);
  atomic_store(&done_tasks, 0);
  pthread_mutex_lock(&mu);
  atomic_fetch_add(&generation, 1); /* even: open */
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  run_tasks(0);
  WAIT_WHILE(atomic_load(&done_tasks) < ntasks);
  atomic_store(&busy, 0);
}

long lmf_chunks(long n, long grain) {
  if (grain < 1) grain = 1;
  long chunks = n / grain;
  if (chunks > nthreads) chunks = nthreads;
  return chunks < 1 ? 1 : chunks;
}

typedef struct {
  lmf_range_fn fn;
  void *ctx;
  long n, chunk;
} range_job;

static void range_task(void *ctx, long task, int tid) {
  (void)tid;
  const range_job *r = ctx;
  long lo = task * r->chunk, hi = lo + r->chunk < r->n ? lo + r->chunk : r->n;
  if (lo < hi) r->fn(r->ctx, lo, hi);
}

void lmf_parallel_range(long n, long grain, lmf_range_fn fn, void *ctx) {
  if (n <= 0) return;
  long tasks = lmf_chunks(n, grain);
  if (tasks == 1) {
    fn(ctx, 0, n);
    return;
  }
  long chunk = (n + tasks - 1) / tasks;
  if (chunk >= 64) chunk = (chunk + 15) / 16 * 16; /* keep big chunks vector-aligned */
  range_job r = {fn, ctx, n, chunk};
  lmf_parallel((n + chunk - 1) / chunk, range_task, &r);
}

typedef struct {
  float *ptr;
  size_t floats;
} scratch_slot;

static __thread scratch_slot scratch[5];

float *lmf_scratch(int slot, size_t floats) {
  scratch_slot *s = &scratch[slot];
  /* A request for nothing still gets a buffer: a thread that never grew this slot would
   * otherwise return NULL, which the callers take as out of memory. */
  if (floats == 0) floats = 16;
  if (s->floats < floats) {
    free(s->ptr);
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    s->ptr = aligned_alloc(64, bytes);
    s->floats = s->ptr == NULL ? 0 : floats;
  }
  return s->ptr;
}
