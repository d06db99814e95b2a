/**
 * BERT's parameter plan and checkpoint keys. The plan lists every parameter path with its
 * shape in namedParameters() order, from the config alone (so a checkpoint's header and
 * the model's size are checked before anything is allocated; a test compares it with the
 * modules). The keys map a stored checkpoint onto the paths, doing what HF's
 * from_pretrained does for BERT: buffers (position_ids, token_type_ids) skipped, the tied
 * decoder weight (cls.predictions.decoder.weight) and bias (decoder.bias = the head's bias)
 * skipped, the next-sentence head of BertForPreTraining and an unused pooler ignored, a
 * bare BertModel checkpoint given the `bert.` prefix (or a head checkpoint read as a bare
 * body without it), and TF-era LayerNorm.gamma / .beta read as weight / bias.
 */
import { sizeOfPlan, type ModelSize } from '../size.js';
import { headHasPooler, type BertConfig } from './config.js';

/** The prefix of the body's paths: HF's base_model_prefix, absent in a bare BertModel. */
export function bodyPrefix(config: BertConfig): string {
  return config.head === 'none' ? '' : 'bert.';
}

/** Parameter path -> shape, in the order BertModel registers them. */
export function bertParameterShapes(config: BertConfig): Map<string, readonly number[]> {
  const { vocabSize: V, nEmbd: C, maxPositions, typeVocabSize, intermediateSize: H } = config;
  const shapes = new Map<string, readonly number[]>();
  const linear = (path: string, inFeatures: number, outFeatures: number): void => {
    shapes.set(`${path}.weight`, [outFeatures, inFeatures]);
    shapes.set(`${path}.bias`, [outFeatures]);
  };
  const norm = (path: string): void => {
    shapes.set(`${path}.weight`, [C]);
    shapes.set(`${path}.bias`, [C]);
  };
  const body = bodyPrefix(config);
  shapes.set(`${body}embeddings.word_embeddings.weight`, [V, C]);
  shapes.set(`${body}embeddings.position_embeddings.weight`, [maxPositions, C]);
  shapes.set(`${body}embeddings.token_type_embeddings.weight`, [typeVocabSize, C]);
  norm(`${body}embeddings.LayerNorm`);
  for (let layer = 0; layer < config.nLayer; layer++) {
    const block = `${body}encoder.layer.${layer}`;
    for (const name of ['query', 'key', 'value']) linear(`${block}.attention.self.${name}`, C, C);
    linear(`${block}.attention.output.dense`, C, C);
    norm(`${block}.attention.output.LayerNorm`);
    linear(`${block}.intermediate.dense`, C, H);
    linear(`${block}.output.dense`, H, C);
    norm(`${block}.output.LayerNorm`);
  }
  if (config.placement === 'pre') norm(`${body}encoder.LayerNorm`);
  if (headHasPooler(config.head)) linear(`${body}pooler.dense`, C, C);
  switch (config.head) {
    case 'masked-lm':
      // The head's own bias comes before its children (as in PyTorch's state_dict); the
      // decoder weight is the word embedding.
      shapes.set('cls.predictions.bias', [V]);
      linear('cls.predictions.transform.dense', C, C);
      norm('cls.predictions.transform.LayerNorm');
      break;
    case 'sequence-classification':
    case 'token-classification':
      linear('classifier', C, config.labels!.names.length);
      break;
    case 'none':
      break;
  }
  return shapes;
}

export function bertSize(config: BertConfig): ModelSize {
  return sizeOfPlan(bertParameterShapes(config));
}

/** Stored keys that are never parameters. */
const skipped: readonly RegExp[] = [
  /^(bert\.)?embeddings\.(position_ids|token_type_ids)$/, // buffers
  /^cls\.predictions\.decoder\.weight$/, // the tied copy of the word embeddings
  /^cls\.seq_relationship\./, // BertForPreTraining's next-sentence head
];

/** The checkpoint keys to load as parameters, by parameter path (see the file header). */
export function bertCheckpointKeys(config: BertConfig, stored: readonly string[]): Map<string, string> {
  const prefixed = stored.some((key) => key.startsWith('bert.'));
  const storedSet = new Set(stored);
  const out = new Map<string, string>();
  const isBodyKey = (key: string): boolean => /^(embeddings|encoder|pooler)\./.test(key);
  for (const key of stored) {
    if (skipped.some((pattern) => pattern.test(key))) continue;
    let path = key
      .replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight')
      .replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
    if (config.head === 'none') {
      // A bare body from a head checkpoint: its body keys, without the prefix; heads dropped.
      if (prefixed) {
        if (!path.startsWith('bert.')) continue;
        path = path.slice('bert.'.length);
      }
    } else if (!prefixed && isBodyKey(path)) {
      path = `bert.${path}`;
    }
    // HF ties cls.predictions.decoder.bias to cls.predictions.bias; older files hold both.
    if (path === 'cls.predictions.decoder.bias') {
      if (storedSet.has('cls.predictions.bias')) continue;
      path = 'cls.predictions.bias';
    }
    if (!headHasPooler(config.head) && /^(bert\.)?pooler\./.test(path)) continue;
    out.set(path, key);
  }
  return out;
}
