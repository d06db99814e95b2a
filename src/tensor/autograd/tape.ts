/**
 * Reverse-mode autograd. Ops call record() after computing their output; backward()
 * walks the recorded graph in reverse topological order, asking the single rules table
 * (./rules.ts) for each op's input gradients.
 *
 * Gradients accumulate into leaf `.grad` across backward() calls (gradient accumulation);
 * zero them with zeroGrad(). Backward runs under noGrad(): rules build no graph.
 */
import { Tensor } from '../tensor.js';
import { keep } from '../scope.js';
import { shapesEqual, formatShape } from '../shape.js';
import { ShapeError } from '../../util/errors.js';
import { rules, type OpName, type SavedOf } from './rules.js';
import { addInPlace, onesLike, sum2 } from './grad-buffers.js';
import { alias } from '../ops/layout.js';

let noGradDepth = 0;

/** Runs fn without recording a graph (inference, optimiser updates, backward rules). */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}

export function isGradEnabled(): boolean {
  return noGradDepth === 0;
}

/** Attaches the graph node to `output` when grad is on and some input requires grad. */
export function record<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  output: Tensor,
  saved: SavedOf<K>,
): Tensor {
  if (noGradDepth > 0 || !inputs.some((t) => t.requiresGrad)) return output;
  output.requiresGrad = true;
  output.node = { op, inputs, saved };
  return output;
}

/** Graph tensors reachable from root, inputs before outputs. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep graphs (long unrolled sequences) must not overflow the JS stack.
  const stack: Array<{ tensor: Tensor; expanded: boolean }> = [{ tensor: root, expanded: false }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.expanded) {
      order.push(top.tensor);
      continue;
    }
    if (visited.has(top.tensor)) continue;
    visited.add(top.tensor);
    stack.push({ tensor: top.tensor, expanded: true });
    for (const input of top.tensor.node?.inputs ?? []) {
      if (input.requiresGrad && !visited.has(input)) stack.push({ tensor: input, expanded: false });
    }
  }
  return order;
}

/**
 * Back-propagates from `root` (a scalar unless `gradient` is given) into every leaf
 * that requires grad. Intermediate gradients are freed as soon as they are consumed.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) {
    throw new ShapeError('backward() on a tensor that does not require grad', {
      where: 'backward',
      hint: 'set requiresGrad on the parameters before the forward pass, outside noGrad()',
    });
  }
  if (gradient === undefined && root.size !== 1) {
    throw new ShapeError('backward() without a gradient needs a scalar', {
      where: 'backward',
      expected: 'one element',
      actual: formatShape(root.shape),
    });
  }
  if (gradient !== undefined && !shapesEqual(gradient.shape, root.shape)) {
    throw new ShapeError('gradient shape differs from the tensor', {
      where: 'backward',
      expected: formatShape(root.shape),
      actual: formatShape(gradient.shape),
    });
  }
  noGrad(() => {
    const order = topologicalOrder(root);
    const grads = new Map<Tensor, Tensor>();
    // An alias, so that the caller's gradient tensor is never disposed here.
    grads.set(root, gradient === undefined ? onesLike(root) : alias(gradient));
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i]!;
      const grad = grads.get(tensor);
      if (grad === undefined) continue;
      grads.delete(tensor);
      const node = tensor.node;
      if (node === null) {
        accumulateLeaf(tensor, grad);
        // Added into leaf.grad: return the buffer to the pool now, not at the end of the scope.
        grad.dispose();
        continue;
      }
      const rule = rules[node.op] as (
        g: Tensor,
        inputs: readonly Tensor[],
        saved: unknown,
      ) => ReadonlyArray<Tensor | null>;
      const inputGrads = rule(grad, node.inputs, node.saved);
      // Rules may pass `grad` straight through; it is then owned by the input it flows to.
      if (!inputGrads.includes(grad)) grad.dispose();
      node.inputs.forEach((input, k) => {
        const g = inputGrads[k] ?? null;
        if (g === null) return;
        if (!input.requiresGrad) {
          g.dispose();
          return;
        }
        if (!shapesEqual(g.shape, input.shape)) {
          throw new ShapeError('backward rule produced a gradient of the wrong shape', {
            where: `backward(${node.op}) input ${k}`,
            expected: formatShape(input.shape),
            actual: formatShape(g.shape),
          });
        }
        const existing = grads.get(input);
        if (existing === undefined) {
          grads.set(input, g);
        } else {
          // Out of place: either gradient may be a view sharing storage with another.
          grads.set(input, sum2(existing, g));
          existing.dispose();
          g.dispose();
        }
      });
    }
  });
}

function accumulateLeaf(leaf: Tensor, grad: Tensor): void {
  if (leaf.grad === null) {
    // The gradient outlives any scope(): it belongs to the parameter.
    leaf.grad = keep(Tensor.empty(leaf.shape, leaf.dtype));
  }
  addInPlace(leaf.grad, grad);
}

/** Clears `.grad` of the given tensors (zero-fills, keeping the buffers). */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) t.grad?.floats().fill(0);
}
