/**
 * POST /v1/embeddings: the mean over the tokens of the model's last hidden state (an
 * encoder's output, sentence-transformers' mean pooling; a decoder's final normed state),
 * L2-normalised as OpenAI's embeddings are, as floats or base64 little-endian float32.
 * Inputs run one at a time (B = 1, no padding), between the engine's decode steps.
 */
import type { Context } from 'hono';
import { Tensor, noGrad, scope } from '../tensor/index.js';
import type { ServedModel, ServerContext } from './context.js';
import { badRequest } from './errors.js';
import { modelFor } from './generation.js';
import { embeddingSchema, parseBody } from './schemas.js';

/** The embedding (C) of one input's ids. */
export function embed(served: ServedModel, ids: readonly number[]): Float32Array {
  return scope(() =>
    noGrad(() => {
      const input = Tensor.fromArray(Int32Array.from(ids), [1, ids.length]); // (1, T)
      const { hiddenStates } = served.model.forward(
        { ids: input },
        { logits: 'none', hiddenStates: true, mode: 'eval' },
      );
      const last = hiddenStates![hiddenStates!.length - 1]!; // (1, T, C)
      const [, T, C] = last.shape as [number, number, number];
      const values = last.floats();
      const out = new Float32Array(C);
      const mean = new Float64Array(C);
      for (let t = 0; t < T; t++) for (let j = 0; j < C; j++) mean[j]! += values[t * C + j]!;
      let norm = 0;
      for (let j = 0; j < C; j++) norm += (mean[j]! / T) ** 2;
      const scale = 1 / (Math.sqrt(norm) || 1);
      for (let j = 0; j < C; j++) out[j] = (mean[j]! / T) * scale;
      return out;
    }),
  );
}

export async function embeddings(c: Context, ctx: ServerContext, body: unknown): Promise<Response> {
  const request = parseBody(embeddingSchema, body);
  const served = modelFor(ctx, request.model, false);
  const inputs: number[][] =
    typeof request.input === 'string'
      ? [served.tokenizer.encode(request.input)]
      : request.input.every((p): p is string => typeof p === 'string')
        ? (request.input as string[]).map((t) => served.tokenizer.encode(t))
        : [request.input as number[]];
  inputs.forEach((ids, i) => {
    const where = typeof request.input === 'string' ? 'input' : `input.${i}`;
    if (ids.length === 0) throw badRequest(`${where}: the input has no tokens`, 'input');
    if (ids.length > served.model.maxPositions) {
      throw badRequest(
        `${where}: ${ids.length} tokens, over the model's context of ${served.model.maxPositions}`,
        'input',
        'context_length_exceeded',
      );
    }
    if (ids.some((id) => id >= served.model.vocabSize))
      throw badRequest(`${where}: a token id is outside the vocabulary`, 'input');
  });
  if (request.dimensions !== undefined && request.dimensions !== null) {
    throw badRequest('dimensions: this model has a fixed embedding size', 'dimensions');
  }
  const release = await ctx.admission.acquire(c.req.raw.signal);
  try {
    const data = [];
    for (const [index, ids] of inputs.entries()) {
      const vector = embed(served, ids);
      const embedding =
        request.encoding_format === 'base64'
          ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
          : [...vector];
      data.push({ object: 'embedding', index, embedding });
      await new Promise<void>((resolve) => setImmediate(resolve)); // the decode loops run between inputs
    }
    const tokens = inputs.reduce((sum, ids) => sum + ids.length, 0);
    ctx.metrics.tokens(tokens, 0);
    return c.json({
      object: 'list',
      data,
      model: served.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  } finally {
    release();
  }
}
