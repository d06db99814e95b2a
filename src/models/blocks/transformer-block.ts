/**
 * The one transformer block of every family (Vaswani et al., 2017; Radford et al., 2019):
 * self-attention, an optional cross-attention over an encoder output, then a feed-forward
 * sublayer, each with its residual and norm, configured by a BlockSpec:
 * - placement 'pre' (GPT-2, Llama, mBART): x += f(norm(x)), as nanoGPT's Block;
 * - placement 'post' (BERT, Marian, the original transformer): x = norm(x + f(x)).
 * The self-attention rule is causal (decoders) or bidirectional (encoders); padding and
 * additive masks come with the call's context. The feed-forward slot is the dense Mlp or a
 * module the family builds (a mixture of experts later).
 *
 * The spec names every child, so parameter paths equal the family's checkpoint keys: a
 * name may be a dotted path (BERT's `attention.output.LayerNorm`), and an empty MLP name
 * mounts the MLP's own children in the block (Marian's `fc1`, `fc2`; BERT's
 * `intermediate.dense`, `output.dense`; see Module.mount). Children are read through the
 * child map (getters), so replaceChild() can wrap any linear.
 *
 * Legend: B batch, T time, S encoder positions, Tk keys, C channels (nEmbd), nH heads.
 */
import { type Rng, type Tensor, add } from '../../tensor/index.js';
import {
  Module,
  LayerNorm,
  RMSNorm,
  SelfAttention,
  CrossAttention,
  Mlp,
  bidirectionalMask,
  isCausal,
  type Activation,
  type AttentionContext,
  type AttentionMask,
  type AttentionOptions,
  type AttentionProjections,
  type CrossAttentionNames,
  type InitOptions,
  type LayerInitOptions,
  type LinearLayout,
  type MlpNames,
  type MoeContext,
} from '../../nn/index.js';
import { ConfigError } from '../../util/errors.js';

export type NormKind = 'layerNorm' | 'rmsNorm';
export type Norm = LayerNorm | RMSNorm;

export interface NormSpec {
  readonly kind: NormKind;
  readonly eps: number;
  /** LayerNorm's bias (RMSNorm has none). */
  readonly bias: boolean;
}

/** 'pre': x += f(norm(x)); 'post': x = norm(x + f(x)). */
export type NormPlacement = 'pre' | 'post';

/** Which keys self-attention sees before any padding or additive mask. */
export type SelfAttentionRule = 'causal' | 'bidirectional';

/**
 * What sits in the feed-forward slot: anything that maps (B, T, C) to (B, T, C); a mixture
 * of experts also reads the call's MoeContext (mode, jitter rng, router recorder).
 */
export type FeedForward = Module & { forward(x: Tensor, moe?: MoeContext): Tensor };

/** What a block's feed-forward slot holds: the dense MLP (it takes the activation dropout), or a family's module. */
export type BlockFeedForward = Mlp | FeedForward;

export type FeedForwardSpec =
  /** The dense MLP (nn/layers/mlp.ts); its names say GELU-style (up, down) or SwiGLU (gate, up, down). */
  | {
      readonly kind: 'mlp';
      readonly intermediateSize: number;
      readonly activation: Activation;
      readonly names: MlpNames;
      /** The MLP's linear biases (default the spec's `bias`; Llama's mlp_bias). */
      readonly bias?: boolean;
    }
  /** A module the family builds (a mixture of experts), given the block's init options. */
  | { readonly kind: 'module'; readonly create: (init: LayerInitOptions) => FeedForward };

/** The checkpoint names of the block's children; each may be a dotted path. */
export interface BlockNames {
  /** The self-attention sublayer's norm (before it when pre, after the residual when post). */
  readonly norm1: string;
  readonly attention: string;
  readonly projections: AttentionProjections;
  /** The feed-forward sublayer's norm. */
  readonly norm2: string;
  /** The feed-forward slot; '' mounts its children in the block itself (Module.mount). */
  readonly mlp: string;
}

/** The cross-attention sublayer (between self-attention and the feed-forward) and its norm. */
export interface CrossAttentionSpec {
  /** Channels of the encoder output. */
  readonly encoderDim: number;
  readonly norm: string;
  readonly attention: string;
  readonly projections: CrossAttentionNames;
}

/**
 * What some families' self-attention adds to the shared one (nn/layers/attention.ts): a
 * head size other than nEmbd / nHead, no bias on the output projection (Qwen2), per-head
 * q/k RMSNorms (Qwen3), a sliding window (Mistral; causal blocks only).
 */
export type SelfAttentionExtras = Pick<AttentionOptions, 'headSize' | 'outBias' | 'qkNorm' | 'window'>;

export interface BlockSpec {
  readonly nEmbd: number;
  readonly nHead: number;
  /** Key/value heads (grouped-query attention); nHead for multi-head attention. */
  readonly nKvHead: number;
  readonly placement: NormPlacement;
  readonly selfAttention: SelfAttentionRule;
  readonly norm: NormSpec;
  /** Biases on every linear layer. */
  readonly bias: boolean;
  /** GPT-2 stores its Conv1D weights (in, out); nn.Linear is (out, in). */
  readonly layout: LinearLayout;
  /** Std of the input projections and of the residual (output) projections. */
  readonly init: { readonly std: number; readonly outStd: number };
  readonly names: BlockNames;
  /** Absent: hs = nEmbd / nHead, every projection biased as `bias`, no q/k norm, no window. */
  readonly attention?: SelfAttentionExtras;
  readonly cross: CrossAttentionSpec | null;
  readonly feedForward: FeedForwardSpec;
}

/** How a model's weights start: drawn from `rng` in construction order, or empty (zeros, to be loaded). */
export type BuildInit = { readonly init: 'random'; readonly rng: Rng } | { readonly init: 'empty' };

/** One weight's init options: N(0, std^2) from the build's rng, or empty. */
export function weightInit(build: BuildInit, std: number): InitOptions {
  return build.init === 'empty' ? build : { std, rng: build.rng };
}

export function makeNorm(spec: NormSpec, dim: number, build: BuildInit): Norm {
  const { init } = build;
  return spec.kind === 'layerNorm'
    ? new LayerNorm(dim, { bias: spec.bias, eps: spec.eps, init })
    : new RMSNorm(dim, { eps: spec.eps, init });
}

/** The encoder side of a cross-attention call. */
export interface CrossContext {
  /** (B, S, Ce); may be null when the cache already holds this layer's cross keys and values. */
  readonly encoderOutput: Tensor | null;
  /** Which encoder positions are seen: bidirectional (default), padding (B, S) or additive. */
  readonly mask?: AttentionMask;
}

export interface BlockContext extends AttentionContext {
  /**
   * Padding or additive mask of the self-attention keys; its causal flag must equal the
   * block's rule (default: the rule alone). With a cache it covers every key so far.
   */
  readonly mask?: AttentionMask;
  /** Dropout on the residual branches (identity in eval mode). */
  readonly drop: (x: Tensor) => Tensor;
  /** Dropout on the feed-forward's hidden activation (HF activation_dropout); absent: none. */
  readonly activationDrop?: (x: Tensor) => Tensor;
  /** The encoder output, for a block with cross-attention (and only for one). */
  readonly cross?: CrossContext;
  /** What a mixture-of-experts feed-forward needs for this call; absent for dense blocks. */
  readonly moe?: MoeContext;
}

export interface BlockResult {
  /** (B, T, C) */
  readonly output: Tensor;
  /** (B, nH, T, Tk) with context.returnProbabilities; null otherwise. */
  readonly probabilities: Tensor | null;
  /** (B, nH, T, S) with context.returnProbabilities and cross-attention; null otherwise. */
  readonly crossProbabilities: Tensor | null;
}

/**
 * One transformer block as its BlockSpec says.
 *
 * @example
 * const block = new TransformerBlock(spec, { init: 'random', rng: new Rng(0) });
 * const { output } = block.run(x, { offset: 0, rope: null, cache: null, layer: 0, attentionDropout: null, drop: (t) => t }); // (B, T, C)
 */
export class TransformerBlock extends Module {
  readonly spec: BlockSpec;
  /** The feed-forward when mounted (names.mlp ''): it has no path, so the block keeps it. */
  readonly #mountedFeedForward: BlockFeedForward | null;

  constructor(spec: BlockSpec, build: BuildInit) {
    super();
    checkBlockSpec(spec);
    this.spec = spec;
    const { names, nEmbd, nHead, nKvHead, bias, layout, cross } = spec;
    const init: LayerInitOptions = build.init === 'empty' ? build : { ...spec.init, rng: build.rng };
    // Registration order is the checkpoints' attribute order: a pre-norm block's norm
    // before its sublayer (GPT-2's ln_1, attn), a post-norm block's after it (BERT's
    // attention.output.LayerNorm lies in the attention's `output`, so it must come after).
    // A norm whose path lies inside a name the sublayer takes (BERT's names with pre-norm
    // placement: `attention.output.LayerNorm`, `output.LayerNorm` beside the mounted MLP's
    // `output.dense`) comes after it whatever the placement: its parent level must exist.
    // Each sublayer is built in order (attention, cross, feed-forward) and norms draw
    // nothing, so the random weights do not depend on the placement.
    const sublayer = (norm: string, name: string, layer: Module): void => {
      const taken = name === '' ? layer.children().map(([child]) => child) : [name.split('.')[0]!];
      const normFirst = spec.placement === 'pre' && !taken.includes(norm.split('.')[0]!);
      if (normFirst) this.addChild(norm, makeNorm(spec.norm, nEmbd, build));
      if (name === '') this.mount(layer);
      else this.addChild(name, layer);
      if (!normFirst) this.addChild(norm, makeNorm(spec.norm, nEmbd, build));
    };
    const projections = names.projections;
    const attention = { nEmbd, nHead, nKvHead, bias, layout, projections, ...spec.attention, ...init };
    sublayer(names.norm1, names.attention, new SelfAttention(attention));
    if (cross !== null) {
      const { encoderDim, projections } = cross;
      const options = { nEmbd, encoderDim, nHead, nKvHead, bias, layout, names: projections, ...init };
      sublayer(cross.norm, cross.attention, new CrossAttention(options));
    }
    const feedForward = createFeedForward(spec, init);
    sublayer(names.norm2, names.mlp, feedForward);
    const mounted = names.mlp === '' ? feedForward : null;
    this.#mountedFeedForward = mounted;
  }

  get norm1(): Norm {
    return this.child<Norm>(this.spec.names.norm1);
  }

  get attention(): SelfAttention {
    return this.child<SelfAttention>(this.spec.names.attention);
  }

  /** The cross-attention's norm; null without cross-attention. */
  get crossNorm(): Norm | null {
    return this.spec.cross === null ? null : this.child<Norm>(this.spec.cross.norm);
  }

  get crossAttention(): CrossAttention | null {
    return this.spec.cross === null ? null : this.child<CrossAttention>(this.spec.cross.attention);
  }

  get norm2(): Norm {
    return this.child<Norm>(this.spec.names.norm2);
  }

  get mlp(): BlockFeedForward {
    return this.#mountedFeedForward ?? this.child<BlockFeedForward>(this.spec.names.mlp);
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, context: BlockContext): Tensor {
    return this.run(x, context).output;
  }

  /**
   * x (B, T, C) -> the output (B, T, C) and, with returnProbabilities, the self- and
   * cross-attention probabilities.
   */
  run(x: Tensor, context: BlockContext): BlockResult {
    const pre = this.spec.placement === 'pre';
    const drop = context.drop;
    // pre: x + f(norm(x)); post: norm(x + f(x)).
    const residual = (h: Tensor, norm: Norm, f: (input: Tensor) => Tensor): Tensor =>
      pre ? add(h, drop(f(norm.forward(h)))) : norm.forward(add(h, drop(f(h)))); // (B, T, C)

    if (context.cross !== undefined && this.spec.cross === null) {
      throw new ConfigError('this block has no cross-attention', {
        where: 'TransformerBlock.run: cross',
        hint: 'encoder outputs are for blocks whose spec has cross',
      });
    }
    const selfContext = this.#selfAttentionContext(context);
    let probabilities: Tensor | null = null;
    let h = residual(x, this.norm1, (input) => {
      const attended = this.attention.attend(input, selfContext); // (B, T, C)
      probabilities = attended.probabilities; // (B, nH, T, Tk)
      return attended.output;
    });

    let crossProbabilities: Tensor | null = null;
    const crossAttention = this.crossAttention;
    if (crossAttention !== null) {
      const crossContext = {
        encoderOutput: context.cross?.encoderOutput ?? null,
        ...(context.cross?.mask === undefined ? {} : { mask: context.cross.mask }),
        cache: context.cache,
        layer: context.layer,
        attentionDropout: context.attentionDropout,
        returnProbabilities: context.returnProbabilities ?? false,
      };
      h = residual(h, this.crossNorm!, (input) => {
        const attended = crossAttention.attend(input, crossContext); // (B, T, C)
        crossProbabilities = attended.probabilities; // (B, nH, T, S)
        return attended.output;
      });
    }

    // The dense MLP takes the activation dropout; a family's module (MoE) the call's MoeContext.
    const feedForward = this.mlp;
    const output = residual(h, this.norm2, (input) =>
      feedForward instanceof Mlp
        ? feedForward.forward(input, context.activationDrop)
        : feedForward.forward(input, context.moe),
    ); // (B, T, C)
    return { output, probabilities, crossProbabilities };
  }

  /** The context as the self-attention sees it: the block's rule, checked against the mask. */
  #selfAttentionContext(context: BlockContext): BlockContext {
    const causal = this.spec.selfAttention === 'causal';
    const mask = context.mask;
    if (mask === undefined) return causal ? context : { ...context, mask: bidirectionalMask };
    if (isCausal(mask) !== causal) {
      throw new ConfigError("the mask disagrees with the block's self-attention rule", {
        where: 'TransformerBlock.run: mask',
        expected: `a mask with causal ${causal} (${this.spec.selfAttention} block)`,
        actual: `${mask.kind} mask with causal ${isCausal(mask)}`,
      });
    }
    return context;
  }
}

function createFeedForward(spec: BlockSpec, init: LayerInitOptions): BlockFeedForward {
  const feedForward = spec.feedForward;
  switch (feedForward.kind) {
    case 'mlp': {
      const { intermediateSize: hidden, activation, names } = feedForward;
      const { nEmbd, layout } = spec;
      const bias = feedForward.bias ?? spec.bias;
      return new Mlp({ nEmbd, hidden, activation, bias, layout, names, ...init });
    }
    case 'module':
      return feedForward.create(init);
  }
}

/** Rejects a spec the layers cannot build, every problem in one ConfigError. */
export function checkBlockSpec(spec: BlockSpec): void {
  const problems: string[] = [];
  const positive = (field: string, value: number): void => {
    if (!Number.isSafeInteger(value) || value < 1)
      problems.push(`${field}: expected an integer >= 1, got ${value}`);
  };
  const { nEmbd, nHead, nKvHead, names, cross } = spec;
  positive('nEmbd', nEmbd);
  positive('nHead', nHead);
  positive('nKvHead', nKvHead);
  const extras = spec.attention ?? {};
  if (extras.headSize !== undefined) positive('attention.headSize', extras.headSize);
  else if (nEmbd % nHead !== 0) problems.push(`nEmbd: expected a multiple of nHead ${nHead}, got ${nEmbd}`);
  if (extras.window !== undefined && extras.window !== null) {
    positive('attention.window', extras.window);
    if (spec.selfAttention !== 'causal')
      problems.push(`attention.window: a sliding window needs causal self-attention, got bidirectional`);
  }
  if (nHead % nKvHead !== 0) problems.push(`nKvHead: expected a divisor of nHead ${nHead}, got ${nKvHead}`);
  if (!(spec.norm.eps > 0)) problems.push(`norm.eps: expected a number > 0, got ${spec.norm.eps}`);
  if (spec.feedForward.kind === 'mlp')
    positive('feedForward.intermediateSize', spec.feedForward.intermediateSize);
  if (cross !== null) positive('cross.encoderDim', cross.encoderDim);
  const named: Array<[string, string]> = [
    ['names.norm1', names.norm1],
    ['names.attention', names.attention],
    ['names.norm2', names.norm2],
    ...(cross === null
      ? []
      : ([
          ['cross.norm', cross.norm],
          ['cross.attention', cross.attention],
        ] as Array<[string, string]>)),
  ];
  for (const [field, name] of named) if (name === '') problems.push(`${field}: expected a name, got ''`);
  if (problems.length > 0) {
    throw new ConfigError('invalid block spec', {
      where: 'BlockSpec',
      actual: problems.join('; '),
    });
  }
}
