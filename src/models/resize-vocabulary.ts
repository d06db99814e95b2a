/**
 * Resizing a model's vocabulary (transformers' `resize_token_embeddings`), for any
 * registered family: the config's vocab_size changes (through the family's config.json
 * mapping), a model of the new size is built and every parameter is copied over; the ones
 * whose first dimension is the vocabulary (the token embedding, an untied output head, a
 * head bias) keep their old rows, and new rows start at the mean of the old ones (so a new
 * token starts as an average token instead of noise), each such tensor from its own mean.
 *
 * Legend: V old vocabulary, V' new vocabulary, C channels.
 */
import { noGrad } from '../tensor/index.js';
import { ConfigError, ShapeError } from '../util/errors.js';
import type { LanguageModel } from './model.js';
import { configFromHf, configToHf, createModel, type AnyLanguageModel } from './registry.js';

/**
 * A copy of `model` with `vocabSize` ids (>= 1; smaller keeps the first rows). The input
 * model is left as it was (dispose it when done); the copy takes its training mode.
 *
 * @example
 * const bigger = resizeVocabulary(model, tokenizer.vocabSize); // (V, C) embeddings -> (V', C)
 */
export function resizeVocabulary(model: LanguageModel, vocabSize: number): AnyLanguageModel {
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new ConfigError('the new vocabulary size must be an integer >= 1', {
      where: 'resizeVocabulary',
      actual: vocabSize,
    });
  }
  const V = model.vocabSize;
  const raw = configToHf(model.config);
  const config = configFromHf({ ...raw, vocab_size: vocabSize }, 'resizeVocabulary');
  const resized = createModel(config, { init: 'empty' }) as AnyLanguageModel;
  const old = new Map(model.namedParameters());
  noGrad(() => {
    for (const [path, target] of resized.namedParameters()) {
      const source = old.get(path);
      const sameTail = source !== undefined && source.shape.slice(1).join() === target.shape.slice(1).join();
      if (source === undefined || source.ndim !== target.ndim || !sameTail) {
        throw new ShapeError('a parameter of the resized model has no counterpart', {
          where: `resizeVocabulary ${path}`,
          expected: source === undefined ? 'a parameter of the same path' : `(${source.shape.join(', ')})`,
          actual: `(${target.shape.join(', ')})`,
        });
      }
      const from = source.floats();
      const into = target.floats();
      if (source.shape[0] === target.shape[0]) {
        into.set(from);
        continue;
      }
      if (source.shape[0] !== V || target.shape[0] !== vocabSize) {
        throw new ShapeError('only the vocabulary dimension may change', {
          where: `resizeVocabulary ${path}`,
          expected: `first dimension ${V} -> ${vocabSize}`,
          actual: `${source.shape[0]} -> ${target.shape[0]}`,
        });
      }
      const row = source.size / V; // C (1 for a bias)
      const kept = Math.min(V, vocabSize);
      into.set(from.subarray(0, kept * row));
      if (vocabSize <= V) continue;
      // The mean over the V old rows (in float64), written into every new row.
      const mean = new Float64Array(row);
      for (let v = 0; v < V; v++) for (let c = 0; c < row; c++) mean[c]! += from[v * row + c]!;
      for (let c = 0; c < row; c++) mean[c]! /= V;
      for (let v = V; v < vocabSize; v++) for (let c = 0; c < row; c++) into[v * row + c] = mean[c]!;
    }
  });
  resized.train(model.training);
  return resized;
}
