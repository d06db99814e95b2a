/**
 * The functions the compiled addon (native/addon.c) exports, argument for argument.
 * Kernels take Float32Array / Int32Array and sizes; layouts and attention parameters
 * travel in small Float64Arrays so that a call converts few JS values.
 */

export interface NativeAddon {
  copyStrided(
    src: Float32Array | Int32Array,
    srcOffset: number,
    dst: Float32Array | Int32Array,
    dstOffset: number,
    layout: Float64Array,
  ): void;
  gemm(
    a: Float32Array,
    b: Float32Array,
    c: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
    lda: number,
    ldb: number,
    ldc: number,
    offsetA: number,
    offsetB: number,
    offsetC: number,
    strideA: number,
    strideB: number,
    strideC: number,
    alpha: number,
    beta: number,
  ): void;
  unary(op: number, x: Float32Array, y: Float32Array, N: number): void;
  unaryBackward(
    op: number,
    x: Float32Array,
    y: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    N: number,
  ): void;
  binary(
    op: number,
    a: Float32Array,
    offsetA: number,
    b: Float32Array,
    offsetB: number,
    out: Float32Array,
    layout: Float64Array,
  ): void;
  affine(x: Float32Array, y: Float32Array, N: number, alpha: number, beta: number): void;
  reduceSum(x: Float32Array, out: Float32Array, outer: number, R: number, inner: number): void;
  reduceMax(
    x: Float32Array,
    out: Float32Array,
    argmax: Int32Array | null,
    outer: number,
    R: number,
    inner: number,
  ): void;
  softmax(x: Float32Array, y: Float32Array, rows: number, C: number, log: boolean): void;
  softmaxBackward(
    y: Float32Array,
    dy: Float32Array,
    dx: Float32Array,
    rows: number,
    C: number,
    log: boolean,
  ): void;
  crossEntropyForward(
    logits: Float32Array,
    targets: Int32Array,
    losses: Float32Array,
    lse: Float32Array,
    rows: number,
    V: number,
    ignoreIndex: number,
    labelSmoothing: number,
  ): void;
  crossEntropyBackward(
    logits: Float32Array,
    targets: Int32Array,
    lse: Float32Array,
    dlosses: Float32Array,
    dlogits: Float32Array,
    rows: number,
    V: number,
    ignoreIndex: number,
    labelSmoothing: number,
  ): void;
  layerNormForward(
    x: Float32Array,
    weight: Float32Array | null,
    bias: Float32Array | null,
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    rows: number,
    C: number,
    eps: number,
  ): void;
  layerNormBackward(
    dy: Float32Array,
    x: Float32Array,
    weight: Float32Array | null,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dweight: Float32Array | null,
    dbias: Float32Array | null,
    rows: number,
    C: number,
  ): void;
  rmsNormForward(
    x: Float32Array,
    weight: Float32Array | null,
    y: Float32Array,
    rstd: Float32Array,
    rows: number,
    C: number,
    eps: number,
  ): void;
  rmsNormBackward(
    dy: Float32Array,
    x: Float32Array,
    weight: Float32Array | null,
    rstd: Float32Array,
    dx: Float32Array,
    dweight: Float32Array | null,
    rows: number,
    C: number,
  ): void;
  embeddingForward(weight: Float32Array, ids: Int32Array, out: Float32Array, N: number, C: number): void;
  embeddingBackward(dout: Float32Array, ids: Int32Array, dweight: Float32Array, N: number, C: number): void;
  /** params: [B, nH, nKV, Tq, Tk, hs, scale, causal, causalOffset, maskStrideB, maskStrideH, maskStrideQ, maskOffset] */
  attentionForward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    mask: Float32Array | null,
    params: Float64Array,
  ): void;
  attentionBackward(
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    dout: Float32Array,
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    mask: Float32Array | null,
    params: Float64Array,
  ): void;
  sumOfSquares(x: Float32Array, N: number): number;
  adamw(
    param: Float32Array,
    grad: Float32Array,
    m: Float32Array,
    v: Float32Array,
    N: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    step: number,
    gradScale: number,
  ): void;

  /** The instruction set of the kernel table in use: 'avx512', 'avx2' or 'portable'. */
  isa(): string;
  /** Switches to another kernel table; false when this CPU cannot run it. */
  useIsa(isa: string): boolean;
  threads(): number;
  setThreads(threads: number): void;
  cpuCount(): number;
  /** Kernel calls made through this addon so far (proves the native path ran). */
  calls(): number;
  /** memcpy bandwidth in GB/s (bytes read + written) over buffers of `bytes`, best of `reps`. */
  copyBandwidth(bytes: number, reps: number): number;
  /** Forces one GEMV prefetch strategy ('keep' | 'stream'), or null for measured per shape; false for an unknown name. */
  forceGemvStrategy(strategy: string | null): boolean;
  /** The strategy measured for y = M x, M (rows, cols) of row stride ld, at this ISA and thread count; null when none yet. */
  gemvChoice(rows: number, cols: number, ld: number): string | null;
  /** Drops every measured GEMV choice. */
  forgetGemvChoices(): void;
}
