/**
 * The parameter plan of a TransformerBlock from its BlockSpec alone: every parameter path
 * below the block with its shape, in the order namedParameters() lists them, so that a
 * family's plan (checked against checkpoint headers before anything is allocated) is built
 * from the same spec as the block, never written out twice.
 *
 * namedParameters() walks the child tree depth first in insertion order, and a dotted child
 * name inserts into levels that may already exist (BERT's `attention.output.LayerNorm` lands
 * beside `attention.output.dense`), so the plan is built the same way: paths inserted into a
 * tree in the block's registration order (transformer-block.ts), then read depth first.
 *
 * Legend: C channels (nEmbd), Ce encoder channels, hs head size, nKV key/value heads.
 */
import { ConfigError } from '../../util/errors.js';
import type { BlockSpec, NormSpec } from './transformer-block.js';

type Shape = readonly number[];

/** An ordered tree of path segments; leaves hold shapes. */
class PlanTree {
  readonly #children = new Map<string, PlanTree | Shape>();

  add(path: string, shape: Shape): void {
    const levels = path.split('.');
    const last = levels.pop()!;
    const node = levels.reduce<PlanTree>((parent, level) => {
      let next = parent.#children.get(level);
      if (next === undefined) parent.#children.set(level, (next = new PlanTree()));
      return next as PlanTree;
    }, this);
    node.#children.set(last, shape);
  }

  /** Leaves depth first, each level in insertion order, under `prefix`. */
  flatten(prefix: string, into: Map<string, Shape>): void {
    for (const [name, child] of this.#children) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      if (child instanceof PlanTree) child.flatten(path, into);
      else into.set(path, child);
    }
  }
}

/**
 * Every parameter of one block built from `spec`, by its path under `prefix` (say
 * `model.encoder.layers.0`), in namedParameters() order; added to `into`. A block whose
 * feed-forward is a family-built module has no plan here (the family plans it).
 *
 * @example
 * const plan = new Map(); blockParameterShapes(spec, 'model.decoder.layers.0', plan);
 */
export function blockParameterShapes(spec: BlockSpec, prefix: string, into: Map<string, Shape>): void {
  const { nEmbd: C, nHead, nKvHead, bias, layout, names, cross, feedForward } = spec;
  if (feedForward.kind !== 'mlp') {
    throw new ConfigError('the plan of a family-built feed-forward is the family’s', {
      where: 'blockParameterShapes',
      expected: "feedForward.kind 'mlp'",
      actual: feedForward.kind,
    });
  }
  const kvWidth = nKvHead * (C / nHead);
  const tree = new PlanTree();
  const linear = (path: string, inFeatures: number, outFeatures: number): void => {
    tree.add(`${path}.weight`, layout === 'inOut' ? [inFeatures, outFeatures] : [outFeatures, inFeatures]);
    if (bias) tree.add(`${path}.bias`, [outFeatures]);
  };
  const norm = (path: string, n: NormSpec): void => {
    tree.add(`${path}.weight`, [C]);
    if (n.kind === 'layerNorm' && n.bias) tree.add(`${path}.bias`, [C]);
  };
  // As TransformerBlock's constructor: a pre-norm sublayer registers its norm first.
  const sublayer = (normPath: string, add: () => void): void => {
    if (spec.placement === 'pre') norm(normPath, spec.norm);
    add();
    if (spec.placement === 'post') norm(normPath, spec.norm);
  };
  sublayer(names.norm1, () => {
    const p = names.projections;
    const at = (name: string): string => `${names.attention}.${name}`;
    if (p.kind === 'fused') {
      linear(at(p.qkv), C, C + 2 * kvWidth);
    } else {
      linear(at(p.q), C, C);
      linear(at(p.k), C, kvWidth);
      linear(at(p.v), C, kvWidth);
    }
    linear(at(p.out), C, C);
  });
  if (cross !== null) {
    sublayer(cross.norm, () => {
      const at = (name: string): string => `${cross.attention}.${name}`;
      linear(at(cross.projections.q), C, C);
      linear(at(cross.projections.k), cross.encoderDim, kvWidth);
      linear(at(cross.projections.v), cross.encoderDim, kvWidth);
      linear(at(cross.projections.out), C, C);
    });
  }
  sublayer(names.norm2, () => {
    const m = feedForward.names;
    const hidden = feedForward.intermediateSize;
    // A mounted MLP (names.mlp '') has its linears in the block itself.
    const at = (name: string): string => (names.mlp === '' ? name : `${names.mlp}.${name}`);
    if (m.kind === 'swiglu') linear(at(m.gate), C, hidden);
    linear(at(m.up), C, hidden);
    linear(at(m.down), hidden, C);
  });
  tree.flatten(prefix, into);
}
