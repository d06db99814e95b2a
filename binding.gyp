# Builds build/Release/lmforge_native.node on `npm install` (node-gyp). The kernel
# sources are compiled three times, once per instruction set, into static libraries whose
# symbols carry the ISA as a suffix (native/lmf.h, LMF_FN); native/dispatch.c picks one at
# load time. Plain C11 (GNU dialect for vector extensions) against node_api.h.
{
  'variables': {
    'kernel_sources': [
      'native/gemm.c',
      'native/elementwise.c',
      'native/nn.c',
      'native/attention.c',
      'native/rope.c',
      'native/decode.c',
      'native/moe.c',
      'native/rnn.c',
      'native/quant.c',
      'native/table.c',
    ],
    'kernel_cflags': ['-O3', '-fvisibility=hidden', '-std=gnu11', '-fPIC', '-fno-math-errno', '-fno-trapping-math', '-Wall', '-Wextra'],
  },
  'targets': [
    {
      'target_name': 'lmf_portable',
      'type': 'static_library',
      'sources': ['<@(kernel_sources)'],
      'defines': ['LMF_ISA=portable'],
      'cflags': ['<@(kernel_cflags)'],
    },
    {
      'target_name': 'lmf_avx2',
      'type': 'static_library',
      'sources': ['<@(kernel_sources)'],
      'defines': ['LMF_ISA=avx2'],
      'cflags': ['<@(kernel_cflags)', '-mavx2', '-mfma', '-mf16c'],
    },
    {
      'target_name': 'lmf_avx512',
      'type': 'static_library',
      'sources': ['<@(kernel_sources)'],
      'defines': ['LMF_ISA=avx512'],
      'cflags': ['<@(kernel_cflags)', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mfma', '-mf16c'],
    },
    {
      'target_name': 'lmforge_native',
      'sources': ['native/addon.c', 'native/pool.c', 'native/dispatch.c', 'native/probe.c', 'native/tune.c'],
      'dependencies': ['lmf_portable', 'lmf_avx2', 'lmf_avx512'],
      'cflags': ['-O2', '-std=gnu11', '-fvisibility=hidden', '-Wall', '-Wextra'],
      'libraries': ['-lpthread', '-lm'],
    },
  ],
}
