/*
 * Runtime CPU dispatch: the widest kernel table this CPU runs, chosen once at load.
 * AVX-512 (F, BW, VL) -> AVX2 + FMA -> portable C. LMF_FORCE_ISA (read by the N-API glue)
 * can pin a narrower one for testing.
 */
#include "lmf.h"

#include <string.h>

static int supported(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
  if (strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return strcmp(isa, "portable") == 0;
}

const lmf_table *lmf_kernels_for(const char *isa) {
  if (!supported(isa)) return NULL;
#if defined(__x86_64__) || defined(__i386__)
  if (strcmp(isa, "avx512") == 0) return &lmf_table_avx512;
  if (strcmp(isa, "avx2") == 0) return &lmf_table_avx2;
#endif
  return &lmf_table_portable;
}

const lmf_table *lmf_kernels(void) {
  const char *order[] = {"avx512", "avx2", "portable"};
  for (int i = 0; i < 3; i++) {
    const lmf_table *t = lmf_kernels_for(order[i]);
    if (t != NULL) return t;
  }
  return &lmf_table_portable;
}
