/**
 * The studio API's invariants on tiny models (attention: attention.test.ts): next-token
 * probabilities equal `generate --top`; embeddings neighbours equal a brute-force cosine
 * search; the filters, rollout and PCA do what they say; bad requests are typed errors.
 */
import '../../src/backend/index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createModel, gpt2Preset, type LanguageModel } from '../../src/models/index.js';
import { nextTokens } from '../../src/generate/index.js';
import {
  cosineNeighbours,
  createStudioApp,
  nextTokenView,
  pca2,
  tokenEmbeddings,
  type EmbeddingsResponse,
  type NextTokenResponse,
  type StudioContext,
  type StudioModel,
} from '../../src/studio/index.js';
import { attentionRollout } from '../../src/studio/rollout.js';
import { ConfigError } from '../../src/util/errors.js';
import { lastJson, run } from '../e2e/cli-util.js';
import { assertThrowsAt } from '../util/throws.js';
import { saveTinyChatModel, tinyLlama, tinyTokenizer } from './fixture.js';

const text = 'the cat sat on the mat';

function entry(id: string, model: LanguageModel): StudioModel {
  return { id, path: id, model, tokenizer: tinyTokenizer, chatTemplate: null, eosIds: [] };
}

function context(models: StudioModel[]): StudioContext {
  return { models, runs: { dirs: [], roots: [] }, feedback: null, webRoot: null };
}

async function post<T>(
  app: ReturnType<typeof createStudioApp>,
  path: string,
  body: unknown,
): Promise<{ status: number; body: T }> {
  const response = await app.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: response.status, body: (await response.json()) as T };
}

describe('studio API', () => {
  const gpt2 = createModel(
    gpt2Preset({ vocabSize: tinyTokenizer.vocabSize, nLayer: 2, nHead: 2, nEmbd: 16, blockSize: 64 }),
    { seed: 3 },
  );
  const llama = tinyLlama();
  after(() => {
    gpt2.dispose();
    llama.dispose();
  });

  describe('next token', () => {
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'lmforge-studio-next-'));
      await saveTinyChatModel(dir);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('probabilities equal `generate --top` and nextTokens()', () => {
      const cli = run(['generate', dir, '--prompt', 'the cat', '--top', '8', '--json']);
      assert.equal(cli.status, 0, cli.stderr);
      const top = lastJson(cli.stdout)['top'] as Array<{ id: number; prob: number }>;
      const view = nextTokenView('llama', llama, tinyTokenizer, 'the cat', {
        top: 8,
        temperature: 1,
        seed: 0,
      });
      assert.deepEqual(
        view.candidates.map((c) => c.id),
        top.map((t) => t.id),
      );
      view.candidates.forEach((c, i) =>
        assert.ok(Math.abs(c.prob - top[i]!.prob) < 1e-6, `${c.prob} vs ${top[i]!.prob}`),
      );
      assert.deepEqual(
        view.candidates.map((c) => c.prob),
        nextTokens(llama, tinyTokenizer, 'the cat', 8).top.map((t) => t.prob),
      );
    });
  });

  it('next token: top-k 1 leaves one survivor; top-p keeps the smallest prefix; greedy is the first', () => {
    const one = nextTokenView('m', gpt2, tinyTokenizer, 'the', { top: 10, temperature: 1, topK: 1, seed: 0 });
    assert.equal(one.survivors, 1);
    assert.deepEqual(
      one.candidates.map((c) => c.filtered),
      [1, ...new Array<number>(9).fill(0)],
    );
    assert.equal(one.greedy.id, one.candidates[0]!.id);
    assert.equal(one.sampled.id, one.candidates[0]!.id);
    const nucleus = nextTokenView('m', gpt2, tinyTokenizer, 'the', {
      top: 70,
      temperature: 0.5,
      topP: 0.5,
      seed: 0,
    });
    let mass = 0;
    const kept = nucleus.candidates.filter((c) => c.keptTopP);
    for (const c of kept.slice(0, -1)) mass += c.scaled;
    assert.ok(mass < 0.5 && mass + kept.at(-1)!.scaled >= 0.5 - 1e-12, `kept mass ${mass}`);
    assert.ok(Math.abs(kept.reduce((s, c) => s + c.filtered, 0) - 1) < 1e-12);
    assert.equal(nucleus.survivors, kept.length);
    assertThrowsAt(
      () => nextTokenView('m', gpt2, tinyTokenizer, 'the', { top: 0, temperature: 1, seed: 0 }),
      ConfigError,
      'next-token.top',
    );
  });

  it('embeddings: neighbours equal a brute-force cosine search over the vocabulary', () => {
    const table = tokenEmbeddings(llama);
    const query = tinyTokenizer.encode('c')[0]!;
    const norm = (r: number): number =>
      Math.hypot(...table.values.subarray(r * table.dim, (r + 1) * table.dim));
    const cosine = (a: number, b: number): number => {
      let dot = 0;
      for (let c = 0; c < table.dim; c++)
        dot += table.values[a * table.dim + c]! * table.values[b * table.dim + c]!;
      return dot / (norm(a) * norm(b));
    };
    const brute = Array.from({ length: table.rows }, (_, r) => r)
      .filter((r) => r !== query)
      .map((r) => ({ index: r, similarity: cosine(query, r) }))
      .sort((a, b) => b.similarity - a.similarity || a.index - b.index)
      .slice(0, 10);
    const found = cosineNeighbours(
      table,
      table.values.subarray(query * table.dim, (query + 1) * table.dim),
      10,
      query,
    );
    assert.deepEqual(
      found.map((f) => f.index),
      brute.map((b) => b.index),
    );
    found.forEach((f, i) => assert.ok(Math.abs(f.similarity - brute[i]!.similarity) < 1e-9));
  });

  it('POST /api/embeddings: tokens and sentences, PCA and UMAP', async () => {
    const app = createStudioApp(context([entry('llama', llama)]));
    const tokens = await post<EmbeddingsResponse>(app, '/api/embeddings', { texts: ['cat', 'mat'], k: 3 });
    assert.equal(tokens.status, 200);
    assert.deepEqual(
      tokens.body.points.map((p) => p.label),
      ['c', 'a', 't', 'm'],
    );
    assert.equal(tokens.body.query, 'c');
    assert.equal(tokens.body.neighbours.length, 3);
    const sentences = await post<EmbeddingsResponse>(app, '/api/embeddings', {
      mode: 'sentences',
      texts: ['a cat', 'a kitten', 'a tractor', 'the dog', 'a puppy'],
      projection: 'umap',
      query: 1,
    });
    assert.equal(sentences.status, 200, JSON.stringify(sentences.body));
    assert.equal(sentences.body.points.length, 5);
    assert.ok(sentences.body.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
    assert.equal(sentences.body.query, 'a kitten');
    assert.ok(!sentences.body.neighbours.some((n) => n.label === 'a kitten'));
    const few = await post<{ error: { type: string; message: string } }>(app, '/api/embeddings', {
      texts: ['ab'],
      projection: 'umap',
    });
    assert.equal(few.status, 400);
    assert.equal(few.body.error.type, 'ConfigError');
    assert.match(few.body.error.message, /^embeddings\.projection: UMAP needs at least 4 points/);
  });

  it('PCA: the leading component of points on a line carries all the spread', () => {
    const values = new Float32Array(5 * 3);
    for (let n = 0; n < 5; n++) values.set([n, 2 * n, -n], n * 3);
    const coordinates = pca2({ rows: 5, dim: 3, values });
    const spread = Math.hypot(1, 2, 1);
    coordinates.forEach(([x, y], n) => {
      assert.ok(Math.abs(Math.abs(x) - Math.abs((n - 2) * spread)) < 1e-5, `x ${x}`);
      assert.ok(Math.abs(y) < 1e-5, `y ${y}`);
    });
  });

  it('attention rollout: one layer is (mean of heads + I) / 2; every row sums to 1', () => {
    const T = 3;
    const a = [1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5];
    const b = [1, 0, 0, 0.1, 0.9, 0, 0.6, 0.2, 0.2];
    const one = attentionRollout([[a, b]], T);
    for (let k = 0; k < T * T; k++)
      assert.ok(Math.abs(one[k]! - ((a[k]! + b[k]!) / 2 + (k % (T + 1) === 0 ? 1 : 0)) / 2) < 1e-12);
    const two = attentionRollout([[a, b], [b]], T);
    const second = b.map((v, k) => (v + (k % (T + 1) === 0 ? 1 : 0)) / 2);
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        let expected = 0;
        for (let k = 0; k < T; k++) expected += second[i * T + k]! * one[k * T + j]!;
        assert.ok(Math.abs(two[i * T + j]! - expected) < 1e-12);
      }
    }
  });

  it('bad requests: 400 naming every bad field, 404 for an unknown model, a model name with several', async () => {
    const app = createStudioApp(context([entry('a', gpt2), entry('b', llama)]));
    const unnamed = await post<{ error: { type: string; message: string } }>(app, '/api/attention', { text });
    assert.equal(unnamed.status, 400);
    assert.equal(unnamed.body.error.message, 'model: name the model; expected one of a, b');
    const unknown = await post<{ error: { type: string; message: string } }>(app, '/api/attention', {
      text,
      model: 'c',
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.message, 'model: no such model; expected one of a, b, got c');
    const bad = await post<{ error: { type: string; message: string } }>(app, '/api/next-token', {
      model: 'a',
      prompt: 'the',
      temperature: 0,
      topK: 1.5,
    });
    assert.equal(bad.status, 400);
    assert.match(
      bad.body.error.message,
      /^POST \/api\/next-token: invalid request, got temperature: .*; topK: /,
    );
    const long = await post<{ error: { type: string; message: string } }>(app, '/api/attention', {
      model: 'a',
      text: 'x'.repeat(65),
    });
    assert.equal(
      long.body.error.message,
      'attention.text: the text is longer than the model context; expected at most 64 tokens, got 65 tokens',
    );
    const feedback = await post<{ error: { type: string; message: string } }>(app, '/api/feedback', {
      kind: 'rating',
      prompt: 'p',
      response: 'r',
      rating: 3,
    });
    assert.equal(feedback.status, 400);
    assert.equal(
      feedback.body.error.message,
      'feedback: no feedback file (hint: start the studio with --feedback FILE)',
    );
    const route = await app.request('/api/nothing');
    assert.equal(route.status, 404);
  });

  it('POST /api/next-token answers as nextTokenView', async () => {
    const app = createStudioApp(context([entry('a', gpt2)]));
    const answer = await post<NextTokenResponse>(app, '/api/next-token', {
      prompt: 'the',
      top: 5,
      topK: 3,
      seed: 2,
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.body,
      nextTokenView('a', gpt2, tinyTokenizer, 'the', { top: 5, temperature: 1, topK: 3, seed: 2 }),
    );
  });
});
