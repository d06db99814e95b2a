/**
 * The shared TransformerBlock: PyTorch goldens of HF's BertLayer and MarianDecoderLayer
 * (post- and pre-norm; tools/reference/make_block_goldens.py), forward and every
 * gradient; parameter paths equal the HF keys; pre vs post placement as defined;
 * replaceChild on nested and mounted linears; a family-built feed-forward; the errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConfigError,
  Rng,
  type Tensor,
  add,
  backward,
  mul,
  noGrad,
  randn,
  scalar,
  scope,
} from '../../../src/index.js';
import { Linear, Module, bidirectionalMask, paddingKeys, type AttentionMask } from '../../../src/nn/index.js';
import { TransformerBlock, type BlockSpec, type FeedForward } from '../../../src/models/index.js';
import { goldenDir, loadFixture, need } from '../../golden/golden.js';
import { assertBitEqual, assertClose, type Tolerance } from '../../util/close.js';
import { C, bertSpec, marianDecoderSpec, marianEncoderSpec, plainContext } from './specs.js';

interface BlockManifest {
  readonly tolerance: Record<'out' | 'gradients', Tolerance & { reason: string }>;
  readonly cases: ReadonlyArray<{
    name: string;
    file: string;
    parameters: string[];
    inputs: string[];
    gradients: string[];
  }>;
}
const manifest = JSON.parse(
  readFileSync(join(goldenDir, 'blocks', 'manifest.json'), 'utf8'),
) as BlockManifest;

const random = (seed: number) => ({ init: 'random', rng: new Rng(seed) }) as const;
const padding = (keys: Tensor): AttentionMask => ({ kind: 'padding', keys, causal: false });

const goldenSpecs: Readonly<Record<string, BlockSpec>> = {
  bert_layer: bertSpec,
  marian_decoder_layer: marianDecoderSpec,
  marian_decoder_layer_pre: { ...marianDecoderSpec, placement: 'pre' },
};

for (const c of manifest.cases) {
  test(`golden ${c.name}: output and every input and weight gradient equal PyTorch's`, () => {
    const fixture = loadFixture(join('blocks', c.file));
    const block = new TransformerBlock(goldenSpecs[c.name]!, { init: 'empty' });
    // Strict: the block's paths are exactly the layer's HF keys.
    block.loadStateDict(new Map(c.parameters.map((key) => [key, need(fixture, key)])));
    const x = need(fixture, 'x');
    x.requiresGrad = true;
    const encoder = fixture.get('encoder') ?? null;
    if (encoder !== null) encoder.requiresGrad = true;
    scope(() => {
      const context = plainContext({
        ...(fixture.has('mask') ? { mask: padding(need(fixture, 'mask')) } : {}),
        ...(encoder === null
          ? {}
          : { cross: { encoderOutput: encoder, mask: padding(need(fixture, 'encoder_mask')) } }),
      });
      const out = block.forward(x, context);
      assertClose(`${c.name} out`, out, need(fixture, 'out'), manifest.tolerance.out);
      backward(out, need(fixture, 'dout'));
    });
    const params = new Map(block.namedParameters());
    for (const name of c.gradients) {
      const key = name.slice('grad.'.length);
      const tensor = key === 'x' ? x : key === 'encoder' ? encoder : params.get(key);
      assert.ok(tensor?.grad, `${c.name}: no gradient for ${key}`);
      assertClose(`${c.name} ${name}`, tensor.grad, need(fixture, name), manifest.tolerance.gradients);
    }
    block.dispose();
  });
}

const keys = (spec: BlockSpec): string[] =>
  new TransformerBlock(spec, { init: 'empty' }).namedParameters().map(([path]) => path);
const linear = (path: string): string[] => [`${path}.weight`, `${path}.bias`];

test("namedParameters: BERT-named block = BertLayer's state-dict keys, in HF's order", () => {
  assert.deepEqual(keys(bertSpec), [
    ...linear('attention.self.query'),
    ...linear('attention.self.key'),
    ...linear('attention.self.value'),
    ...linear('attention.output.dense'),
    ...linear('attention.output.LayerNorm'),
    ...linear('intermediate.dense'),
    ...linear('output.dense'),
    ...linear('output.LayerNorm'),
  ]);
});

test("namedParameters: Marian-named blocks = MarianEncoderLayer's and MarianDecoderLayer's keys", () => {
  // HF registers k_proj, v_proj, q_proj, out_proj (BART's attribute order), lmforge q, k, v,
  // out; keys are matched by name on load. Otherwise the order is HF's.
  const attention = (prefix: string): string[] =>
    ['q_proj', 'k_proj', 'v_proj', 'out_proj'].flatMap((name) => linear(`${prefix}.${name}`));
  const mlp = [...linear('fc1'), ...linear('fc2'), ...linear('final_layer_norm')];
  const selfAttention = [...attention('self_attn'), ...linear('self_attn_layer_norm')];
  assert.deepEqual(keys(marianEncoderSpec), [...selfAttention, ...mlp]);
  assert.deepEqual(keys(marianDecoderSpec), [
    ...selfAttention,
    ...attention('encoder_attn'),
    ...linear('encoder_attn_layer_norm'),
    ...mlp,
  ]);
});

test('placement: pre is x + f(norm(x)) and post is norm(x + f(x)), from the same weights', () => {
  // Norms draw nothing from the rng, so both blocks get the same weights.
  const pre = new TransformerBlock({ ...marianEncoderSpec, placement: 'pre' }, random(3));
  const post = new TransformerBlock(marianEncoderSpec, random(3));
  noGrad(() =>
    scope(() => {
      const other = new Map(post.namedParameters());
      for (const [path, parameter] of pre.namedParameters()) {
        // Perturb the norms (they start at gain 1, bias 0), identically in both.
        if (!path.includes('layer_norm')) continue;
        parameter.floats().forEach((_, j, values) => (values[j] = 1 + 0.1 * Math.sin(j + path.length)));
        other.get(path)!.floats().set(parameter.floats());
      }
      const x = randn([2, 5, C], new Rng(4));
      // Bidirectional blocks: the attention layer alone defaults to causal.
      const context = plainContext({ mask: bidirectionalMask });
      const attend = (block: TransformerBlock, h: Tensor): Tensor => block.attention.forward(h, context);
      let h = add(x, attend(pre, pre.norm1.forward(x)));
      const expectedPre = add(h, pre.mlp.forward(pre.norm2.forward(h)));
      h = post.norm1.forward(add(x, attend(post, x)));
      const expectedPost = post.norm2.forward(add(h, post.mlp.forward(h)));
      const outPre = pre.forward(x, context);
      const outPost = post.forward(x, context);
      assertBitEqual('pre', outPre, expectedPre);
      assertBitEqual('post', outPost, expectedPost);
      assert.notDeepEqual(outPre.toArray(), outPost.toArray(), 'pre and post differ');
    }),
  );
  pre.dispose();
  post.dispose();
});

/** Multiplies the wrapped module's output by a constant (a LoRA or quantized wrapper's shape). */
class Scaled extends Module {
  constructor(
    inner: Module,
    readonly factor: number,
  ) {
    super();
    this.addChild('inner', inner);
  }

  forward(x: Tensor): Tensor {
    return mul(this.child<FeedForward>('inner').forward(x), scalar(this.factor));
  }
}

test('replaceChild on nested (attention.self.query), mounted-nested (output.dense) and mounted (fc2, encoder_attn.q_proj) linears', () => {
  const cases: Array<[BlockSpec, string[]]> = [
    [bertSpec, ['attention.self.query', 'output.dense', 'intermediate.dense']],
    [marianDecoderSpec, ['fc2', 'encoder_attn.q_proj', 'self_attn.out_proj']],
  ];
  for (const [spec, paths] of cases) {
    for (const path of paths) {
      const block = new TransformerBlock(spec, random(5));
      const zeroed = new TransformerBlock(spec, random(5));
      noGrad(() =>
        scope(() => {
          const x = randn([2, 4, C], new Rng(6));
          const encoder = randn([2, 3, C], new Rng(7));
          const context = plainContext(spec.cross === null ? {} : { cross: { encoderOutput: encoder } });
          const before = block.forward(x, context);
          block.replaceChild(path, (current) => new Scaled(current, 0));
          const paths = block.namedParameters().map(([p]) => p);
          assert.ok(paths.includes(`${path}.inner.weight`), `${path}: wrapper's parameters under the path`);
          for (const [p, parameter] of zeroed.namedParameters()) {
            if (p.startsWith(`${path}.`)) parameter.floats().fill(0);
          }
          const after = block.forward(x, context);
          assertBitEqual(`${path} x 0 = zero weights`, after, zeroed.forward(x, context));
          assert.notDeepEqual(after.toArray(), before.toArray(), `${path}: the forward runs the wrapper`);
        }),
      );
      block.dispose();
      zeroed.dispose();
    }
  }
});

test("feedForward 'module': the family's module sits in the MLP slot under its name, built with the block's init", () => {
  let seen: unknown = null;
  const spec: BlockSpec = {
    ...marianEncoderSpec,
    names: { ...marianEncoderSpec.names, mlp: 'experts' },
    feedForward: {
      kind: 'module',
      create: (init) => {
        seen = init;
        const weights = init.init === 'empty' ? init : { std: init.outStd, rng: init.rng };
        return new Scaled(new Linear(C, C, { bias: true, ...weights }), 0.5);
      },
    },
  };
  const block = new TransformerBlock(spec, random(2));
  assert.deepEqual(Object.keys(seen as object).sort(), ['outStd', 'rng', 'std']);
  assert.ok(block.namedParameters().some(([path]) => path === 'experts.inner.weight'));
  noGrad(() =>
    scope(() => {
      const x = randn([1, 3, C], new Rng(3));
      const h = block.norm1.forward(
        add(x, block.attention.forward(x, plainContext({ mask: bidirectionalMask }))),
      );
      assertBitEqual(
        'post-norm with the module',
        block.forward(x, plainContext()),
        block.norm2.forward(add(h, block.mlp.forward(h))),
      );
    }),
  );
  block.dispose();
});

test('errors: bad spec fields in one ConfigError; a mask against the rule; cross inputs for a block without cross-attention; no encoder output', () => {
  assert.throws(
    () =>
      new TransformerBlock(
        { ...bertSpec, nEmbd: 18, nKvHead: 3, names: { ...bertSpec.names, norm2: '' } },
        { init: 'empty' },
      ),
    (e: unknown) =>
      e instanceof ConfigError &&
      /nEmbd: expected a multiple of nHead 4, got 18/.test(e.message) &&
      /nKvHead: expected a divisor of nHead 4, got 3/.test(e.message) &&
      /names.norm2: expected a name/.test(e.message),
  );
  // A new child may not be put into another layer's own names (only into ModuleDicts).
  assert.throws(
    () =>
      new TransformerBlock(
        { ...bertSpec, names: { ...bertSpec.names, norm1: 'attention.LayerNorm' } },
        { init: 'empty' },
      ),
    (e: unknown) => e instanceof ConfigError && /attention is a SelfAttention/.test(e.message),
  );
  const encoderBlock = new TransformerBlock(bertSpec, { init: 'empty' });
  const decoderBlock = new TransformerBlock(marianDecoderSpec, { init: 'empty' });
  noGrad(() =>
    scope(() => {
      const x = randn([1, 3, C], new Rng(1));
      const keys = paddingKeys([2], 3, 'right');
      assert.throws(
        () => encoderBlock.forward(x, plainContext({ mask: { kind: 'causal' } })),
        (e: unknown) => e instanceof ConfigError && /causal false \(bidirectional block\)/.test(e.message),
      );
      assert.throws(
        () => decoderBlock.forward(x, plainContext({ mask: { kind: 'padding', keys, causal: false } })),
        (e: unknown) => e instanceof ConfigError && /causal true \(causal block\)/.test(e.message),
      );
      assert.throws(
        () => encoderBlock.forward(x, plainContext({ cross: { encoderOutput: x } })),
        (e: unknown) => e instanceof ConfigError && /no cross-attention/.test(e.message),
      );
      assert.throws(
        () => decoderBlock.forward(x, plainContext()),
        (e: unknown) => e instanceof ConfigError && /needs the encoder output/.test(e.message),
      );
    }),
  );
  encoderBlock.dispose();
  decoderBlock.dispose();
});
