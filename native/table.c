/*
 * The kernel table of one instruction set (this file is compiled once per ISA, like the
 * kernel sources; LMF_ISA names the copy): one entry per line of the kernel manifest, in
 * its order (LMF_KERNEL_LIST, native/kernels.gen.h).
 */
#include "lmf.h"

#define LMF_PROTOTYPE(c, ret, params) ret LMF_FN(c) params;
LMF_KERNEL_LIST(LMF_PROTOTYPE)
#undef LMF_PROTOTYPE

const lmf_table LMF_FN(lmf_table) = {
    LMF_ISA_NAME,
#define LMF_ENTRY(c, ret, params) LMF_FN(c),
    LMF_KERNEL_LIST(LMF_ENTRY)
#undef LMF_ENTRY
};
