/**
 * THE kernel manifest: one line per backend kernel, from which follow
 * - the Backend interface's kernel methods (src/tensor/kernels.gen.ts),
 * - the native wrappers: dtype tests (float64 goes to the JS reference), bounds checks
 *   and argument packing (src/backend/native/kernels.gen.ts),
 * - the C side: parameter structs, op codes, the per-ISA kernel table and the N-API
 *   entries (native/kernels.gen.h),
 * - the version handshake: the addon reports manifestHash() of the manifest it was built
 *   from, and the loader refuses an addon built from another one.
 * `node dist/tools/gen-kernels.js` regenerates the three files (committed, so that a clean
 * `npm ci` needs no generator); test/backend/manifest.test.ts fails when they are stale.
 *
 * Why a TypeScript file and not JSON: the TS side imports it at run time (the handshake
 * hashes it, the tests walk it) with no JSON import attributes or file reads, and tsc
 * checks its shape; the C side cannot read either, so C gets a generated header anyway.
 *
 * Argument grammar (`name: [out ]type[?][+][[length]]`, comma separated):
 *   f32, i32, u8   Float32Array / Int32Array / Uint8Array (the wrapper hands float64 to the JS kernels);
 *                  `out` marks one the kernel writes; `?` allows null; `[expr]` the number
 *                  of elements the kernel reads or writes, checked before the call
 *   word32         Float32Array or Int32Array (moved as 4-byte words)
 *   long, float, double, flag   numbers (C long / float / double) and booleans
 *   op<name>       a name from `enums.name`, sent as its code (codes follow from the list)
 *   struct<name>   an object packed into one Float64Array by `structs.name` (buffer fields
 *                  travel as extra arguments after it)
 *   layout         (custom kernels only) a Float64Array [nd, shape, strides0, strides1]
 *   `+` after a buffer type: an element offset follows it (custom kernels only)
 * Length expressions and `check` calls are TypeScript over the argument names (`p` for a
 * struct argument); `check` names a function of ./native/checks.ts.
 */

export interface KernelSpec {
  /** JS name (Backend method and addon export). */
  readonly name: string;
  /** C name: the table field and LMF_FN(c) in the kernel sources. */
  readonly c: string;
  /** Backend-level arguments (see the grammar above). */
  readonly args: string;
  readonly returns?: 'void' | 'double';
  /** An extra check before the call, e.g. 'ids(targets, rows, V, ignoreIndex)'. */
  readonly check?: string;
  /**
   * Kernels whose TS signature differs from the addon's (layouts): `ts` is the Backend
   * method's signature, `args` the addon's, and the wrapper is hand-written (native/custom.ts).
   */
  readonly custom?: { readonly ts: string };
  /** TSDoc of the Backend method. */
  readonly doc: string;
}

export interface StructSpec {
  /** The C type name. */
  readonly c: string;
  /** The TS type the Backend method takes (from src/tensor/backend.ts). */
  readonly ts: string;
  /**
   * Fields in C order: `name: type` reads `p.name`; `name: type = expr` computes it from `p`.
   * Types: long, int, flag, float, double, u32, f32? (a buffer field: an extra argument).
   */
  readonly fields: string;
}

export interface KernelManifest {
  readonly enums: Readonly<Record<string, readonly string[]>>;
  readonly structs: Readonly<Record<string, StructSpec>>;
  readonly kernels: readonly KernelSpec[];
}

export const kernelManifest: KernelManifest = {
  enums: {
    unary: [
      'neg',
      'exp',
      'log',
      'sqrt',
      'rsqrt',
      'tanh',
      'sigmoid',
      'relu',
      'gelu', // exact: x * Phi(x)
      'geluTanh', // GPT-2's tanh approximation
      'silu',
      'abs',
      'square',
      'sign',
    ],
    binary: ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'],
    // GGUF's 32-weight block formats (src/backend/js/quant.ts)
    quant: ['q8_0', 'q4_0'],
  },
  structs: {
    gemm: {
      c: 'lmf_gemm_params',
      ts: 'GemmParams',
      fields:
        'batch: long, m: long, n: long, k: long, transA: flag, transB: flag, lda: long, ldb: long, ldc: long, ' +
        'offA: long = p.offsetA, offB: long = p.offsetB, offC: long = p.offsetC, ' +
        'strideA: long, strideB: long, strideC: long, alpha: float, beta: float',
    },
    attention: {
      c: 'lmf_attn_params',
      ts: 'AttentionParams',
      fields:
        'B: long, nH: long, nKV: long, Tq: long, Tk: long, hs: long, scale: float, causal: flag, ' +
        'causalOffset: long, mask: f32?, maskStrideB: long, maskStrideH: long, maskStrideQ: long, maskOffset: long, ' +
        // the dropout rule (threshold, keep scale) is derived once, in attention-dropout.ts
        'dropout: flag = p.dropout > 0, drop_seed: u32 = p.dropoutSeed, ' +
        'drop_threshold: u32 = dropThreshold(p.dropout), drop_keep: float = dropKeepScale(p.dropout)',
    },
    groupedGemm: {
      c: 'lmf_grouped_gemm_params',
      ts: 'GroupedGemmParams',
      fields:
        'groups: long, inner: flag, m: long, n: long, k: long, transB: flag, lda: long, ldb: long, ldc: long, ' +
        'offA: long = p.offsetA, offB: long = p.offsetB, offC: long = p.offsetC, strideB: long, strideC: long, ' +
        'alpha: float, beta: float',
    },
    decodeLayer: {
      c: 'lmf_decode_params',
      ts: 'DecodeLayerParams',
      fields:
        'C: long, nH: long, nKV: long, hs: long, hidden: long, maxT: long, pos: long, eps: float, scale: float, ' +
        'norm1: f32?, wq: f32?, bq: f32?, wk: f32?, bk: f32?, wv: f32?, bv: f32?, wo: f32?, bo: f32?, ' +
        'norm2: f32?, wGate: f32?, wUp: f32?, wDown: f32?, cos: f32?, sin: f32?',
    },
    adamw: {
      c: 'lmf_adamw_params',
      ts: 'AdamWParams',
      fields:
        'lr: float, beta1: float, beta2: float, eps: float, weightDecay: float, gradScale: float, step: double',
    },
  },
  kernels: [
    {
      name: 'copyStrided',
      c: 'copy_strided',
      args: 'src: word32+, dst: out word32+, layout: layout',
      custom: { ts: '(src: TypedArray, from: StridedLayout, dst: TypedArray, to: StridedLayout) => void' },
      doc: 'Copies every element of a strided view of src into a strided view of dst (same shape).',
    },
    {
      name: 'gemm',
      c: 'lmf_gemm',
      args: 'a: f32, b: f32, c: out f32, p: struct<gemm>',
      check: 'gemm(a, b, c, p)',
      doc: 'C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] (see GemmParams).',
    },
    {
      name: 'unary',
      c: 'unary',
      args: 'op: op<unary>, x: f32[N], y: out f32[N], N: long',
      doc: 'y[i] = op(x[i]), N elements.',
    },
    {
      name: 'unaryBackward',
      c: 'unary_backward',
      args: 'op: op<unary>, x: f32[N], y: f32[N], dy: f32[N], dx: out f32[N], N: long',
      doc: "dx[i] = dy[i] * op'(x[i]) (y = op(x) is given for ops whose derivative uses it).",
    },
    {
      name: 'binary',
      c: 'binary',
      args: 'op: op<binary>, a: f32+, b: f32+, out: out f32, layout: layout',
      custom: {
        ts: '(op: BinaryOp, a: TypedArray, b: TypedArray, out: TypedArray, layout: BroadcastLayout) => void',
      },
      doc: 'out[i] = op(A[.], B[.]) with broadcasting; out is contiguous.',
    },
    {
      name: 'affine',
      c: 'affine',
      args: 'x: f32[N], y: out f32[N], N: long, alpha: float, beta: float',
      doc: 'y[i] = x[i] * alpha + beta.',
    },
    {
      name: 'reduceSum',
      c: 'reduce_sum',
      args: 'x: f32[outer * R * inner], out: out f32[outer * inner], outer: long, R: long, inner: long',
      doc: 'x viewed as (outer, R, inner): out[o, i] = sum over r.',
    },
    {
      name: 'reduceMax',
      c: 'reduce_max',
      args:
        'x: f32[outer * R * inner], out: out f32[outer * inner], argmax: out i32?[outer * inner], ' +
        'outer: long, R: long, inner: long',
      doc: 'x viewed as (outer, R, inner): out[o, i] = max over r, with argmax indices when asked.',
    },
    {
      name: 'softmax',
      c: 'softmax',
      args: 'x: f32[rows * C], y: out f32[rows * C], rows: long, C: long, log: flag',
      doc: 'y = softmax(x) or log_softmax(x) over each row of length C.',
    },
    {
      name: 'softmaxBackward',
      c: 'softmax_backward',
      args: 'y: f32[rows * C], dy: f32[rows * C], dx: out f32[rows * C], rows: long, C: long, log: flag',
      doc: 'dx from y (the forward output) and dy.',
    },
    {
      name: 'crossEntropyForward',
      c: 'ce_forward',
      args:
        'logits: f32[rows * V], targets: i32, losses: out f32[rows], lse: out f32[rows], rows: long, V: long, ' +
        'ignoreIndex: long, labelSmoothing: float',
      check: 'ids(targets, rows, V, ignoreIndex)',
      doc:
        'Cross-entropy of logits (rows, V) against targets (rows): losses[r] (0 for ignored rows) and\n' +
        'lse[r] = logsumexp(logits[r]) saved for backward. Label smoothing eps mixes the one-hot\n' +
        'target with the uniform distribution: q = (1 - eps) onehot + eps / V.',
    },
    {
      name: 'crossEntropyBackward',
      c: 'ce_backward',
      args:
        'logits: f32[rows * V], targets: i32, lse: f32[rows], dlosses: f32[rows], dlogits: out f32[rows * V], ' +
        'rows: long, V: long, ignoreIndex: long, labelSmoothing: float',
      check: 'ids(targets, rows, V, ignoreIndex)',
      doc: 'dlogits[r] = (softmax(logits[r]) - q[r]) * dlosses[r]; 0 for ignored rows.',
    },
    {
      name: 'layerNormForward',
      c: 'layernorm_forward',
      args:
        'x: f32[rows * C], weight: f32?[C], bias: f32?[C], y: out f32[rows * C], mean: out f32[rows], ' +
        'rstd: out f32[rows], rows: long, C: long, eps: float',
      doc: 'y = (x - mean) * rstd * weight + bias over rows of C; saves mean and rstd per row. weight/bias may be null.',
    },
    {
      name: 'layerNormBackward',
      c: 'layernorm_backward',
      args:
        'dy: f32[rows * C], x: f32[rows * C], weight: f32?[C], mean: f32[rows], rstd: f32[rows], ' +
        'dx: out f32[rows * C], dweight: out f32?[C], dbias: out f32?[C], rows: long, C: long',
      doc: 'Writes dx; accumulates dweight, dbias (when not null).',
    },
    {
      name: 'rmsNormForward',
      c: 'rmsnorm_forward',
      args: 'x: f32[rows * C], weight: f32?[C], y: out f32[rows * C], rstd: out f32[rows], rows: long, C: long, eps: float',
      doc: 'y = x * rstd * weight, rstd = 1 / sqrt(mean(x^2) + eps); saves rstd per row.',
    },
    {
      name: 'rmsNormBackward',
      c: 'rmsnorm_backward',
      args:
        'dy: f32[rows * C], x: f32[rows * C], weight: f32?[C], rstd: f32[rows], dx: out f32[rows * C], ' +
        'dweight: out f32?[C], rows: long, C: long',
      doc: 'Writes dx; accumulates dweight (when not null).',
    },
    {
      name: 'embeddingForward',
      c: 'embedding_forward',
      args: 'weight: f32, ids: i32, out: out f32[N * C], N: long, C: long',
      check: 'ids(ids, N, C === 0 ? Infinity : Math.floor(weight.length / C), null)',
      doc: 'out[i] = weight[ids[i]] for N ids, rows of C.',
    },
    {
      name: 'embeddingBackward',
      c: 'embedding_backward',
      args: 'dout: f32[N * C], ids: i32, dweight: out f32, N: long, C: long',
      check: 'ids(ids, N, C === 0 ? Infinity : Math.floor(dweight.length / C), null)',
      doc: 'dweight[ids[i]] += dout[i].',
    },
    {
      name: 'attentionForward',
      c: 'attention_forward',
      args:
        'q: f32, k: f32, v: f32, out: out f32[p.B * p.nH * p.Tq * p.hs], lse: out f32[p.B * p.nH * p.Tq], ' +
        'p: struct<attention>',
      check: 'attention(q, k, v, p)',
      doc: 'out (B, nH, Tq, hs); lse (B, nH, Tq) saved for backward (see AttentionParams).',
    },
    {
      name: 'attentionBackward',
      c: 'attention_backward',
      args:
        'q: f32, k: f32, v: f32, out: f32[p.B * p.nH * p.Tq * p.hs], lse: f32[p.B * p.nH * p.Tq], ' +
        'dout: f32[p.B * p.nH * p.Tq * p.hs], dq: out f32[p.B * p.nH * p.Tq * p.hs], ' +
        'dk: out f32[p.B * p.nKV * p.Tk * p.hs], dv: out f32[p.B * p.nKV * p.Tk * p.hs], p: struct<attention>',
      check: 'attention(q, k, v, p)',
      doc: 'Writes dq, dk, dv (dk, dv sum over the query heads that share a kv head).',
    },
    {
      name: 'rope',
      c: 'rope',
      args:
        'x: f32[R * T * hs], cos: f32[(pos0 + T) * (hs >> 1)], sin: f32[(pos0 + T) * (hs >> 1)], ' +
        'y: out f32[R * T * hs], R: long, T: long, hs: long, pos0: long, inverse: flag',
      check: 'evenHeadSize(hs)',
      doc:
        'Rotary embedding (rotate_half convention) of x (R, T, hs) at positions [pos0, pos0 + T):\n' +
        'y1 = x1 cos - x2 sin, y2 = x2 cos + x1 sin, x1/x2 the two halves of a row, cos/sin\n' +
        '(P, hs/2) tables of the angles. `inverse` rotates by -angle (the backward: dx from dy).',
    },
    {
      name: 'groupedGemm',
      c: 'grouped_gemm',
      args: 'a: f32, b: f32, c: out f32, offsets: i32[p.groups + 1], p: struct<groupedGemm>',
      check: 'groupedGemm(a, b, c, offsets, p)',
      doc:
        'One GEMM per row group [offsets[g], offsets[g + 1]) (the rows of expert g), in one call: C[rows_g] =\n' +
        'A[rows_g] @ op(B_g), or C_g = A[rows_g]^T @ B[rows_g] for the weight gradient (see GroupedGemmParams).',
    },
    {
      name: 'moeTopk',
      c: 'moe_topk',
      args: 'logits: f32[N * E], indices: out i32[N * k], N: long, E: long, k: long',
      check: 'topk(k, E)',
      doc:
        'The k largest of each of N rows of E router logits, largest first (ties: the lower index first;\n' +
        'NaN counts as the largest): indices (N, k) of the chosen experts.',
    },
    {
      name: 'moeGates',
      c: 'moe_gates',
      args: 'logits: f32[N * E], indices: i32[N * k], gates: out f32[N * k], N: long, E: long, k: long, chosen: flag',
      check: 'ids(indices, N * k, E, null)',
      doc:
        'The gates of the chosen experts: with `chosen`, a softmax over the k chosen logits of each row\n' +
        '(Mixtral); else the softmax over all E, read at the chosen experts (Switch).',
    },
    {
      name: 'moeGatesBackward',
      c: 'moe_gates_backward',
      args:
        'logits: f32[N * E], indices: i32[N * k], gates: f32[N * k], dgates: f32[N * k], dlogits: out f32[N * E], ' +
        'N: long, E: long, k: long, chosen: flag',
      check: 'ids(indices, N * k, E, null)',
      doc:
        'dlogits of moeGates: with `chosen`, g (dg - <dg, g>) at the chosen experts and 0 elsewhere;\n' +
        'else p (dp - <dg, g>) over all E, p the softmax and dp the gate gradients at the chosen experts.',
    },
    {
      name: 'moeDispatch',
      c: 'moe_dispatch',
      args:
        'x: f32[N * C], slots: i32[N * k], weights: f32?[N * k], out: out f32[R * C], N: long, k: long, C: long, ' +
        'R: long',
      check: 'ids(slots, N * k, R, -1)',
      doc:
        'Token rows to expert rows: out[slots[n * k + j]] = weights[n * k + j] * x[n] (x[n] when weights is null)\n' +
        'for N tokens of k slots each; a slot of -1 (dropped by capacity) writes nothing.',
    },
    {
      name: 'moeCombine',
      c: 'moe_combine',
      args:
        'src: f32[R * C], slots: i32[N * k], weights: f32?[N * k], out: out f32[N * C], N: long, k: long, C: long, ' +
        'R: long',
      check: 'ids(slots, N * k, R, -1)',
      doc:
        'Expert rows back to token rows: out[n] = sum over j of weights[n * k + j] * src[slots[n * k + j]] (weight 1\n' +
        'when null), slots of -1 skipped (a token with none gets zeros).',
    },
    {
      name: 'moeGateGrad',
      c: 'moe_gate_grad',
      args:
        'dout: f32[N * C], src: f32[R * C], slots: i32[N * k], dweights: out f32[N * k], N: long, k: long, ' +
        'C: long, R: long',
      check: 'ids(slots, N * k, R, -1)',
      doc: 'The gate gradient of moeCombine: dweights[n * k + j] = dot(dout[n], src[slots[n * k + j]]), 0 where the slot is -1.',
    },
    {
      name: 'lstmCellForward',
      c: 'lstm_cell_forward',
      args: 'gates: out f32[B * 4 * H], cPrev: f32[B * H], c: out f32[B * H], h: out f32[B * H], B: long, H: long',
      doc:
        'One LSTM step for B rows (PyTorch gate order i, f, g, o): gates (B, 4H) holds the pre-activations\n' +
        'x W_ih^T + b_ih + h W_hh^T + b_hh on entry and sigmoid, sigmoid, tanh, sigmoid of them on return\n' +
        '(saved for backward); c = f cPrev + i g, h = o tanh(c), (B, H) each.',
    },
    {
      name: 'lstmCellBackward',
      c: 'lstm_cell_backward',
      args:
        'gates: f32[B * 4 * H], cPrev: f32[B * H], c: f32[B * H], dhOut: f32[B * H], dhNext: f32[B * H], ' +
        'dc: out f32[B * H], dGates: out f32[B * 4 * H], B: long, H: long',
      doc:
        'The backward of lstmCellForward from its saved gates and cells: dh = dhOut + dhNext; dc holds the\n' +
        "gradient of c from the next step on entry and cPrev's on return; dGates (B, 4H) are the gradients\n" +
        'of the pre-activations.',
    },
    {
      name: 'gruCellForward',
      c: 'gru_cell_forward',
      args:
        'xg: f32[B * 3 * H], hg: f32[B * 3 * H], hPrev: f32[B * H], gates: out f32[B * 3 * H], h: out f32[B * H], ' +
        'B: long, H: long',
      doc:
        'One GRU step for B rows (PyTorch: gates r, z, n): xg = x W_ih^T + b_ih and hg = hPrev W_hh^T + b_hh,\n' +
        '(B, 3H) each; r = sigmoid(xr + hr), z = sigmoid(xz + hz), n = tanh(xn + r hn),\n' +
        'h = (1 - z) n + z hPrev; gates (B, 3H) = r, z, n (saved for backward).',
    },
    {
      name: 'gruCellBackward',
      c: 'gru_cell_backward',
      args:
        'gates: f32[B * 3 * H], hg: f32[B * 3 * H], hPrev: f32[B * H], dhOut: f32[B * H], dhNext: f32[B * H], ' +
        'dxg: out f32[B * 3 * H], dhg: out f32[B * 3 * H], dhPrev: out f32[B * H], B: long, H: long',
      doc:
        'The backward of gruCellForward: dh = dhOut + dhNext; dxg, dhg (B, 3H) the gradients of xg and hg;\n' +
        'dhPrev = dh z, the direct part of the gradient of hPrev (dhg W_hh adds the rest).',
    },
    {
      name: 'quantMatmul',
      c: 'quant_matmul',
      args:
        "type: op<quant>, w: u8[n * (k >> 5) * (type === 'q8_0' ? 34 : 18)], x: f32[m * k], y: out f32[m * n], " +
        'm: long, n: long, k: long',
      check: 'quantBlocks(k)',
      doc:
        "y (m, n) = x (m, k) W^T for W (n, k) stored as Q8_0 or Q4_0 blocks (GGUF's bytes, 32 weights and an\n" +
        'fp16 scale each): each row of x quantized per block to Q8_0 (d = amax / 127 as fp16, q = round(x / d)),\n' +
        'integer dot products per block pair, y = sum of sumi * dW * dX (ggml_vec_dot_q8_0_q8_0 / q4_0_q8_0).',
    },
    {
      name: 'decodeLayer',
      c: 'decode_layer',
      args: 'x: out f32[p.C], keys: out f32[p.nKV * p.maxT * p.hs], values: out f32[p.nKV * p.maxT * p.hs], p: struct<decodeLayer>',
      check: 'decodeLayer(x, p)',
      doc:
        'One KV-cached decode step of a pre-norm Llama-style block for one token (batch 1), in place on x (C):\n' +
        'x += Wo attn(rope(Wq n + bq), K, V) (+ bo), n = rmsnorm(x) * norm1, with rope(Wk n + bk) and Wv n + bv\n' +
        'written at position pos of keys / values (nKV, maxT, hs); then x += Wdown (silu(Wgate m) * (Wup m)),\n' +
        'm = rmsnorm(x) * norm2. The arithmetic of the composed kernels (gemm, rope, attentionForward, ...)\n' +
        'step by step, so the result equals the unfused block on the same backend bit for bit (see DecodeLayerParams).',
    },
    {
      name: 'sumOfSquares',
      c: 'sum_of_squares',
      args: 'x: f32[N], N: long',
      returns: 'double',
      doc: 'Sum of squares of x (for gradient-norm clipping), accumulated in float64.',
    },
    {
      name: 'adamw',
      c: 'adamw',
      args: 'param: out f32[N], grad: f32[N], m: out f32[N], v: out f32[N], N: long, p: struct<adamw>',
      doc: 'One decoupled-weight-decay Adam step, in place on param, m, v.',
    },
  ],
};

/** One parsed argument of a kernel line (see the grammar above). */
export interface KernelArg {
  readonly name: string;
  readonly type:
    'f32' | 'i32' | 'u8' | 'word32' | 'long' | 'float' | 'double' | 'flag' | 'op' | 'struct' | 'layout';
  /** The kernel writes it (C: not const). */
  readonly out: boolean;
  readonly nullable: boolean;
  /** An element offset follows it (addon argument `${name}Offset`). */
  readonly offset: boolean;
  /** Elements it must hold (a TS expression), or null. */
  readonly length: string | null;
  /** The enum or struct it names (op<...>, struct<...>). */
  readonly ref: string | null;
}

const ARG =
  /^(\w+):\s*(out\s+)?(f32|i32|u8|word32|long|float|double|flag|layout|op<(\w+)>|struct<(\w+)>)(\?)?(\+)?(?:\[(.+)\])?$/;

/** Splits at top-level commas (length expressions may hold calls with commas). */
function splitTop(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (ch === '(' || ch === '[') depth++;
    else if (ch === ')' || ch === ']') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(list.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(list.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/** Parses a kernel's `args`; throws on a line that does not follow the grammar. */
export function parseArgs(kernel: KernelSpec): KernelArg[] {
  return splitTop(kernel.args).map((text) => {
    const m = ARG.exec(text);
    if (m === null) throw new Error(`kernel manifest: ${kernel.name}: cannot parse argument '${text}'`);
    const base = m[3]!.replace(/<.*$/, '') as KernelArg['type'];
    return {
      name: m[1]!,
      type: base,
      out: m[2] !== undefined,
      nullable: m[6] !== undefined,
      offset: m[7] !== undefined,
      length: m[8] ?? null,
      ref: m[4] ?? m[5] ?? null,
    };
  });
}

/** One parsed field of a parameter struct. */
export interface StructField {
  readonly name: string;
  readonly type: 'long' | 'int' | 'flag' | 'float' | 'double' | 'u32' | 'f32?';
  /** The TS expression that computes it from `p`, or null for `p.name`. */
  readonly from: string | null;
}

const FIELD = /^(\w+):\s*(long|int|flag|float|double|u32|f32\?)(?:\s*=\s*(.+))?$/;

export function parseFields(name: string, spec: StructSpec): StructField[] {
  return splitTop(spec.fields).map((text) => {
    const m = FIELD.exec(text);
    if (m === null) throw new Error(`kernel manifest: struct ${name}: cannot parse field '${text}'`);
    return { name: m[1]!, type: m[2] as StructField['type'], from: m[3] ?? null };
  });
}

/**
 * FNV-1a (64-bit), as 16 hex digits, of what fixes the addon's ABI: the enums, the structs'
 * C layout, and each kernel's name, C name, arguments and return type (not docs or checks).
 * native/kernels.gen.h carries it; the loader compares it with the addon's at load.
 */
export function manifestHash(manifest: KernelManifest = kernelManifest): string {
  const abi = {
    enums: manifest.enums,
    structs: Object.entries(manifest.structs).map(([name, s]) => [name, s.c, s.fields]),
    kernels: manifest.kernels.map((k) => [k.name, k.c, k.args, k.returns ?? 'void']),
  };
  const text = JSON.stringify(abi);
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}
