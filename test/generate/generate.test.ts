import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/backend/index.js';
import { Tensor } from '../../src/tensor/index.js';
import { createModel, gpt2Preset, llamaPreset, type DecoderLM } from '../../src/models/index.js';
import { CharTokenizer, loadTokenizer, type Tokenizer } from '../../src/tokenizers/index.js';
import { generateText, generate, nextTokens, type GeneratedToken } from '../../src/generate/index.js';
import { ConfigError } from '../../src/util/errors.js';

const text = 'abcdefghijklmnopqrstuvwxyz .,\n';
const chars = CharTokenizer.fromText(text);

function randomModel(arch: 'gpt2' | 'llama'): DecoderLM {
  const shape = { vocabSize: chars.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 12 };
  return createModel(arch === 'gpt2' ? gpt2Preset(shape) : llamaPreset({ ...shape, nKvHead: 1 }), {
    seed: 9,
  });
}

/**
 * A stand-in model that emits a scripted id sequence after any prompt: exact control over
 * the tokens, to test streaming text, stop strings and EOS without a trained model.
 */
function scriptedModel(script: readonly number[], vocabSize: number, blockSize = 1024): DecoderLM {
  let promptLength = -1;
  const fake = {
    vocabSize,
    maxPositions: blockSize,
    training: false,
    eval() {
      fake.training = false;
    },
    train() {
      fake.training = true;
    },
    createCache() {
      return {
        length: 0,
        reset() {
          this.length = 0;
        },
        dispose() {},
      };
    },
    forward({ ids, cache }: { ids: Tensor; cache?: { length: number } }) {
      const T = ids.shape[1]!;
      if (promptLength < 0) promptLength = T;
      const position = (cache?.length ?? 0) + T; // tokens seen so far
      if (cache !== undefined) cache.length += T;
      const logits = new Float32Array(vocabSize);
      logits[script[position - promptLength] ?? 0] = 100;
      return { logits: Tensor.fromArray(logits, [1, 1, vocabSize]) };
    },
  };
  return fake as unknown as DecoderLM;
}

async function collect(
  model: DecoderLM,
  tokenizer: Tokenizer,
  prompt: string,
  options: Parameters<typeof generate>[3],
) {
  const tokens: GeneratedToken[] = [];
  for await (const token of generate(model, tokenizer, prompt, options)) tokens.push(token);
  return tokens;
}

describe('generate', () => {
  for (const arch of ['gpt2', 'llama'] as const) {
    it(`${arch}: KV-cache output equals full recomputation, past the context window too`, async () => {
      const model = randomModel(arch);
      // Prompt 5 + 20 new tokens > blockSize 12: crosses into the sliding-window regime.
      for (const sampling of [
        { kind: 'greedy' } as const,
        { kind: 'sample', temperature: 1.5, topK: 10 } as const,
      ]) {
        const cached = await generateText(model, chars, 'hello', { maxNewTokens: 20, sampling, seed: 4 });
        const recomputed = await generateText(model, chars, 'hello', {
          maxNewTokens: 20,
          sampling,
          seed: 4,
          useCache: false,
        });
        assert.deepEqual(
          cached.ids,
          recomputed.ids,
          `${sampling.kind}: cached ${cached.ids} vs recomputed ${recomputed.ids}`,
        );
        assert.equal(cached.text, chars.decode(cached.ids));
        assert.equal(cached.ids.length, 20);
        assert.equal(cached.result.finishReason, 'length');
      }
      model.dispose();
    });
  }

  it('rejects a prompt longer than the context, or left-truncates it when asked', async () => {
    const model = randomModel('gpt2');
    const long = 'abcdefghijklmnopqrstuvwxyz';
    await assert.rejects(generateText(model, chars, long, { maxNewTokens: 1 }), ConfigError);
    const { result } = await generateText(model, chars, long, {
      maxNewTokens: 2,
      promptOverflow: 'truncateLeft',
    });
    assert.deepEqual(result.promptIds, chars.encode(long.slice(-11)));
    model.dispose();
  });

  it('streams multi-byte characters whole, and stops at EOS', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    const target = 'héllo 日本語 🎉 end';
    const ids = gpt2.encode(target);
    assert.ok(ids.length > [...target].length - 6, 'expected characters split over several byte tokens');
    const model = scriptedModel([...ids, gpt2.eosId!, 1, 2, 3], gpt2.vocabSize);
    const tokens = await collect(model, gpt2, 'x', { maxNewTokens: 100 });
    for (const token of tokens)
      assert.ok(!token.text.includes('\uFFFD'), `a partial character was emitted at token ${token.index}`);
    assert.equal(tokens.map((t) => t.text).join(''), target);
    const last = tokens[tokens.length - 1]!;
    assert.equal(last.id, gpt2.eosId);
    assert.equal(last.finishReason, 'eos');
    assert.equal(tokens.length, ids.length + 1);
  });

  it('stops at a stop string (split over tokens), emitting only the text before it', async () => {
    const gpt2 = await loadTokenizer('gpt2');
    const ids = gpt2.encode('alpha beta STOP gamma delta');
    const model = scriptedModel(ids, gpt2.vocabSize);
    const tokens = await collect(model, gpt2, 'x', { maxNewTokens: 100, stop: ['ST' + 'OP', 'never'] });
    assert.equal(tokens.map((t) => t.text).join(''), 'alpha beta ');
    assert.equal(tokens[tokens.length - 1]!.finishReason, 'stop');
    // Held-back text that turned out not to be a stop string is emitted in full.
    const almost = scriptedModel(gpt2.encode('a STOx b'), gpt2.vocabSize);
    const streamed = await collect(almost, gpt2, 'x', {
      maxNewTokens: gpt2.encode('a STOx b').length,
      stop: ['STOP'],
    });
    assert.equal(streamed.map((t) => t.text).join(''), 'a STOx b');
    assert.equal(streamed[streamed.length - 1]!.finishReason, 'length');
  });

  it('character model: a stop string of one newline ends the line', async () => {
    const script = chars.encode('one line\nnext');
    const model = scriptedModel(script, chars.vocabSize);
    const tokens = await collect(model, chars, 'x', { maxNewTokens: 50, stop: ['\n'] });
    assert.equal(tokens.map((t) => t.text).join(''), 'one line');
  });
});

describe('nextTokens', () => {
  it('lists the full-softmax probabilities at temperature 1, highest first', () => {
    const model = randomModel('gpt2');
    const { promptIds, top } = nextTokens(model, chars, 'abc', chars.vocabSize);
    assert.deepEqual(promptIds, chars.encode('abc'));
    const total = top.reduce((s, t) => s + t.prob, 0);
    assert.ok(Math.abs(total - 1) < 1e-9, `probabilities sum to ${total}`);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.prob >= top[i]!.prob);
    // Against the model's logits directly.
    const logits = model
      .forward(Tensor.fromArray(Int32Array.from(promptIds), [1, 3]))
      .toArray()
      .slice(-chars.vocabSize);
    const max = Math.max(...logits);
    const z = logits.reduce((s, l) => s + Math.exp(l - max), 0);
    for (const t of top) {
      const expected = Math.exp(logits[t.id]! - max) / z;
      assert.ok(Math.abs(t.prob - expected) < 1e-6, `id ${t.id}: ${t.prob} vs ${expected}`);
      assert.equal(t.token, chars.decode([t.id]));
    }
    assert.equal(nextTokens(model, chars, 'abc', 3).top.length, 3);
    model.dispose();
  });
});
