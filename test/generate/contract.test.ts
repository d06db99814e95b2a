/**
 * generate, nextTokens, evaluateLoss and the Trainer code against the model contract only:
 * a wrapper that is not a DecoderLM (its config has no decoder field) drives them to the
 * same results as the model it wraps; and generations never change shared model state:
 * two generations stepped alternately on one model (one started while it trains with
 * dropout) equal the same two run alone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { type Tensor, isTensor } from '../../src/tensor/index.js';
import {
  createModel,
  gpt2Preset,
  llamaPreset,
  type DecoderLM,
  type LanguageModel,
  type LogitsOptions,
  type ModelCache,
  type ModelInputs,
  type ModelOutputs,
  type OutputOptions,
} from '../../src/models/index.js';
import { generate, generateText, nextTokens, type GenerateOptions } from '../../src/generate/index.js';
import { evaluateLoss } from '../../src/train/index.js';
import { tinyModel, tinyOptions, tinyText, tinyTokenizer, tinyTrainer, weights } from '../train/tiny-run.js';

/** Any LanguageModel by delegation; counts the contract calls it serves. */
class Wrapped implements LanguageModel<{ readonly arch: 'wrapped' }> {
  readonly family = 'wrapped';
  readonly kind = 'decoder';
  readonly config = { arch: 'wrapped' } as const;
  calls = 0;
  constructor(readonly inner: DecoderLM) {}
  get training(): boolean {
    return this.inner.training;
  }
  set training(mode: boolean) {
    this.inner.training = mode;
  }
  get vocabSize(): number {
    return this.inner.vocabSize;
  }
  get maxPositions(): number {
    return this.inner.maxPositions;
  }
  train(mode?: boolean): this {
    this.inner.train(mode);
    return this;
  }
  eval(): this {
    this.inner.eval();
    return this;
  }
  namedParameters(): Array<[string, Tensor]> {
    return this.inner.namedParameters();
  }
  parameters(): Tensor[] {
    return this.inner.parameters();
  }
  forward(inputs: ModelInputs, outputs?: OutputOptions): ModelOutputs;
  forward(ids: Tensor, options?: LogitsOptions): Tensor;
  forward(input: ModelInputs | Tensor, options?: OutputOptions | LogitsOptions): ModelOutputs | Tensor {
    this.calls++;
    return isTensor(input)
      ? this.inner.forward(input, options as LogitsOptions)
      : this.inner.forward(input, options as OutputOptions);
  }
  createCache(batch: number, maxT?: number): ModelCache {
    return this.inner.createCache(batch, maxT);
  }
  dispose(): void {
    this.inner.dispose();
  }
}

const chars = tinyTokenizer;

describe('the contract drives every caller', () => {
  it('generate and nextTokens on a wrapper equal the wrapped model', async () => {
    for (const arch of ['gpt2', 'llama'] as const) {
      const model = tinyModel(arch);
      const wrapped = new Wrapped(model);
      const options: GenerateOptions = {
        maxNewTokens: 20,
        sampling: { kind: 'sample', temperature: 1.2, topK: 8 },
        seed: 3,
      };
      const direct = await generateText(model, chars, 'the cat', options);
      const through = await generateText(wrapped, chars, 'the cat', options);
      assert.deepEqual(through.ids, direct.ids, arch);
      assert.ok(wrapped.calls >= 20, `${arch}: the wrapper served ${wrapped.calls} calls`);
      assert.deepEqual(nextTokens(wrapped, chars, 'the', 5), nextTokens(model, chars, 'the', 5));
      model.dispose();
    }
  });

  it('evaluateLoss and the Trainer on a wrapper equal the wrapped model', async () => {
    const ids = Int32Array.from(chars.encode(tinyText.slice(0, 200)));
    const plain = tinyModel('llama', 0.1);
    const inner = tinyModel('llama', 0.1);
    const wrapped = new Wrapped(inner);
    assert.deepEqual(
      evaluateLoss(wrapped, ids, { blockSize: 16 }),
      evaluateLoss(plain, ids, { blockSize: 16 }),
    );
    const options = tinyOptions({ iters: 6, evalEvery: 3 });
    const a = tinyTrainer(plain, options, null);
    const b = tinyTrainer(wrapped as unknown as DecoderLM, options, null);
    const [left, right] = [await a.run(), await b.run()];
    assert.deepEqual(right.losses, left.losses);
    assert.equal(right.valLoss, left.valLoss);
    assert.deepEqual(weights(inner), weights(plain));
    a.dispose();
    b.dispose();
    plain.dispose();
    inner.dispose();
  });
});

describe('generation does not mutate shared model state', () => {
  it('two generations stepped alternately on one model equal the same two run alone', async () => {
    const shape = { vocabSize: chars.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 16, dropout: 0.3 };
    for (const config of [gpt2Preset(shape), llamaPreset({ ...shape, nKvHead: 1 })]) {
      const model = createModel(config, { seed: 4 });
      const first: [string, GenerateOptions] = [
        'the cat',
        { maxNewTokens: 24, sampling: { kind: 'sample', temperature: 1, topK: 10 }, seed: 1 },
      ];
      const second: [string, GenerateOptions] = [
        'a dog',
        { maxNewTokens: 18, sampling: { kind: 'greedy' }, seed: 2 },
      ];
      model.eval();
      const aloneFirst = (await generateText(model, chars, ...first)).ids;
      const aloneSecond = (await generateText(model, chars, ...second)).ids;

      // The first starts while the model is in training mode (dropout 0.3, and no rng: a
      // generation that read model.training would throw or draw different tokens).
      model.train();
      const a = generate(model, chars, ...first);
      const b = generate(model, chars, ...second);
      const ids: [number[], number[]] = [[], []];
      const done = [false, false];
      for (let step = 0; !(done[0] && done[1]); step++) {
        const which = step % 2;
        if (done[which]) continue;
        const next = await (which === 0 ? a : b).next();
        if (next.done === true) done[which] = true;
        else ids[which]!.push(next.value.id);
        // Flip the mode under the running generations.
        if (step === 10) model.eval();
        if (step === 20) model.train();
      }
      assert.deepEqual(ids[0], aloneFirst, `${config.arch}: first generation`);
      assert.deepEqual(ids[1], aloneSecond, `${config.arch}: second generation`);
      assert.equal(model.training, true, 'generation left the mode as the caller set it');
      model.dispose();
    }
  });
});
