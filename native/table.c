/*
 * The kernel table of one instruction set (this file is compiled once per ISA, like the
 * kernel sources it lists; LMF_ISA names the copy).
 */
#include "lmf.h"

void LMF_FN(copy_strided)(const uint32_t *src, uint32_t *dst, int nd, const long *shape, const long *ss,
                          const long *ds);
void LMF_FN(lmf_gemm)(const float *a, const float *b, float *c, const lmf_gemm_params *p);
void LMF_FN(unary)(int op, const float *x, float *y, long N);
void LMF_FN(unary_backward)(int op, const float *x, const float *y, const float *dy, float *dx, long N);
void LMF_FN(binary)(int op, const float *a, const float *b, float *out, int nd, const long *shape, const long *sa,
                    const long *sb);
void LMF_FN(affine)(const float *x, float *y, long N, float alpha, float beta);
void LMF_FN(reduce_sum)(const float *x, float *out, long outer, long R, long inner);
void LMF_FN(reduce_max)(const float *x, float *out, int32_t *argmax, long outer, long R, long inner);
void LMF_FN(softmax)(const float *x, float *y, long rows, long C, int log);
void LMF_FN(softmax_backward)(const float *y, const float *dy, float *dx, long rows, long C, int log);
void LMF_FN(ce_forward)(const float *logits, const int32_t *targets, float *losses, float *lse, long rows, long V,
                        long ignore, float smoothing);
void LMF_FN(ce_backward)(const float *logits, const int32_t *targets, const float *lse, const float *dlosses,
                         float *dlogits, long rows, long V, long ignore, float smoothing);
void LMF_FN(layernorm_forward)(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                               long rows, long C, float eps);
void LMF_FN(layernorm_backward)(const float *dy, const float *x, const float *w, const float *mean,
                                const float *rstd, float *dx, float *dw, float *db, long rows, long C);
void LMF_FN(rmsnorm_forward)(const float *x, const float *w, float *y, float *rstd, long rows, long C, float eps);
void LMF_FN(rmsnorm_backward)(const float *dy, const float *x, const float *w, const float *rstd, float *dx,
                              float *dw, long rows, long C);
void LMF_FN(embedding_forward)(const float *weight, const int32_t *ids, float *out, long N, long C);
void LMF_FN(embedding_backward)(const float *dout, const int32_t *ids, float *dweight, long N, long C);
void LMF_FN(attention_forward)(const float *q, const float *k, const float *v, float *out, float *lse,
                               const lmf_attn_params *p);
void LMF_FN(attention_backward)(const float *q, const float *k, const float *v, const float *out,
                                const float *lse, const float *dout, float *dq, float *dk, float *dv,
                                const lmf_attn_params *p);
double LMF_FN(sum_of_squares)(const float *x, long N);
void LMF_FN(adamw)(float *param, const float *grad, float *m, float *v, long N, const lmf_adamw_params *p);

const lmf_table LMF_FN(lmf_table) = {
    LMF_ISA_NAME,
    LMF_FN(copy_strided),
    LMF_FN(lmf_gemm),
    LMF_FN(unary),
    LMF_FN(unary_backward),
    LMF_FN(binary),
    LMF_FN(affine),
    LMF_FN(reduce_sum),
    LMF_FN(reduce_max),
    LMF_FN(softmax),
    LMF_FN(softmax_backward),
    LMF_FN(ce_forward),
    LMF_FN(ce_backward),
    LMF_FN(layernorm_forward),
    LMF_FN(layernorm_backward),
    LMF_FN(rmsnorm_forward),
    LMF_FN(rmsnorm_backward),
    LMF_FN(embedding_forward),
    LMF_FN(embedding_backward),
    LMF_FN(attention_forward),
    LMF_FN(attention_backward),
    LMF_FN(sum_of_squares),
    LMF_FN(adamw),
};
