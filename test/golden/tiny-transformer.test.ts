/**
 * The tiny two-layer pre-norm transformer of tools/reference/make_goldens.py, built here
 * from tensor ops (not src/nn): logits, loss and every parameter gradient against
 * PyTorch, then 3 AdamW steps with global-norm gradient clipping through the backend's
 * adamw/sumOfSquares kernels, comparing the parameters after each step.
 *
 * Legend: B batch, T time, C channels, nH heads, hs head size, V vocab.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableBackends, useBackend } from '../../src/index.js';
import {
  type Tensor,
  add,
  backend,
  backward,
  crossEntropy,
  embedding,
  geluTanh,
  layerNorm,
  matmul,
  narrow,
  reshape,
  scaledDotProductAttention,
  split,
  transpose,
  zeroGrad,
} from '../../src/tensor/index.js';
import { assertClose } from '../util/close.js';
import { loadFixture, loadManifest, need, type ModelCase } from './golden.js';

const model = loadManifest().models.find((m) => m.name === 'tiny_transformer');

/** y = x @ W^T + b, nn.Linear layout: W (out, in). */
function linear(x: Tensor, weight: Tensor, bias: Tensor): Tensor {
  return add(matmul(x, transpose(weight)), bias);
}

function forward(
  spec: ModelCase,
  p: (name: string) => Tensor,
  ids: Tensor,
  targets: Tensor,
): { logits: Tensor; loss: Tensor } {
  const { B, T, C, nH, L, layerNormEps: eps } = spec.config;
  const hs = C / nH;
  const heads = (z: Tensor): Tensor => transpose(reshape(z, [B, T, nH, hs]), 1, 2); // (B, nH, T, hs)
  let x = add(embedding(p('wte.weight'), ids), narrow(p('wpe.weight'), 0, 0, T)); // (B, T, C)
  for (let i = 0; i < L; i++) {
    const h = (name: string): Tensor => p(`h.${i}.${name}`);
    const a = layerNorm(x, h('ln_1.weight'), h('ln_1.bias'), eps); // (B, T, C)
    const qkv = linear(a, h('attn.c_attn.weight'), h('attn.c_attn.bias')); // (B, T, 3C)
    const [q, k, v] = split(qkv, C, -1).map(heads) as [Tensor, Tensor, Tensor]; // (B, nH, T, hs)
    const y = scaledDotProductAttention(q, k, v, { causal: true }); // (B, nH, T, hs)
    const merged = reshape(transpose(y, 1, 2), [B, T, C]); // (B, T, C)
    x = add(x, linear(merged, h('attn.c_proj.weight'), h('attn.c_proj.bias')));
    const m = layerNorm(x, h('ln_2.weight'), h('ln_2.bias'), eps);
    const hidden = geluTanh(linear(m, h('mlp.c_fc.weight'), h('mlp.c_fc.bias'))); // (B, T, 4C)
    x = add(x, linear(hidden, h('mlp.c_proj.weight'), h('mlp.c_proj.bias')));
  }
  const final = layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), eps);
  const logits = matmul(final, transpose(p('wte.weight'))); // (B, T, V), tied head
  return { logits, loss: crossEntropy(logits, targets) };
}

for (const backendName of availableBackends()) {
  test(
    `[${backendName}] tiny transformer: logits, loss, every gradient and 3 AdamW steps match PyTorch`,
    { skip: model === undefined ? 'no tiny_transformer in the manifest' : false },
    (t) => {
      useBackend(backendName);
      const spec = model!;
      const fixture = loadFixture(spec.file);
      const params = new Map<string, Tensor>();
      for (const name of spec.parameters) {
        const param = need(fixture, `init.${name}`);
        param.requiresGrad = true;
        params.set(name, param);
      }
      const p = (name: string): Tensor => {
        const param = params.get(name);
        assert.ok(param !== undefined, `no parameter ${name}`);
        return param;
      };
      const ids = need(fixture, 'ids');
      const targets = need(fixture, 'targets');
      const tol = spec.tolerance;
      const noise = new Map(spec.noiseDriven.map((n) => [n.parameter, n]));
      const inNoise = (name: string) => (i: number) => {
        const n = noise.get(name);
        return n !== undefined && i >= n.range[0] && i < n.range[1];
      };

      // ---- forward and backward ------------------------------------------------------
      const { logits, loss } = forward(spec, p, ids, targets);
      assertClose('logits', logits, need(fixture, 'logits'), tol.forward);
      assertClose('loss', loss, need(fixture, 'loss'), tol.forward);
      backward(loss);
      let worstGrad = 0;
      for (const [name, param] of params) {
        assert.ok(param.grad !== null, `no gradient reached ${name}`);
        const r = assertClose(`d ${name}`, param.grad, need(fixture, `grad.${name}`), tol.grad);
        worstGrad = Math.max(worstGrad, r.maxAbs);
      }

      // ---- AdamW with global-norm clipping (torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW) --
      const o = spec.optimizer;
      const be = backend();
      const moments = new Map(
        [...params].map(([name, param]) => [
          name,
          { m: new Float32Array(param.size), v: new Float32Array(param.size) },
        ]),
      );
      const initial = new Map([...params].map(([name, param]) => [name, Float32Array.from(param.floats())]));
      const losses = need(fixture, 'losses').toArray();
      const norms = need(fixture, 'gradNorms').toArray();
      let worstParam = 0;
      for (let step = 1; step <= o.steps; step++) {
        if (step > 1) {
          zeroGrad(params.values());
          const again = forward(spec, p, ids, targets);
          assertClose(`loss before step ${step}`, again.loss, [losses[step - 1]!], tol.forward);
          backward(again.loss);
        }
        let squares = 0;
        for (const param of params.values()) squares += be.sumOfSquares(param.grad!.floats(), param.size);
        const norm = Math.sqrt(squares);
        assertClose(`grad norm at step ${step}`, [norm], [norms[step - 1]!], {
          atol: 0,
          rtol: tol.grad.rtol,
        });
        // torch: grads *= min(1, max_norm / (norm + 1e-6))
        const gradScale = Math.min(1, o.gradClip / (norm + 1e-6));
        for (const [name, param] of params) {
          const { m, v } = moments.get(name)!;
          be.adamw(param.floats(), param.grad!.floats(), m, v, param.size, {
            lr: o.lr,
            beta1: o.beta1,
            beta2: o.beta2,
            eps: o.eps,
            weightDecay: param.ndim >= 2 ? o.weightDecay : 0,
            step,
            gradScale,
          });
        }
        for (const [name, param] of params) {
          const r = assertClose(`${name} after step ${step}`, param, need(fixture, `step${step}.${name}`), {
            ...tol.params,
            skip: inNoise(name),
          });
          worstParam = Math.max(worstParam, r.maxAbs);
          // Elements whose true gradient is 0: Adam moves them by rounding noise only, at most lr per step.
          const slice = noise.get(name);
          if (slice !== undefined) {
            const [from, to] = slice.range;
            assertClose(
              `${name}[${from}..${to}) (zero-gradient key bias) moved from its start by step ${step}`,
              param.floats().subarray(from, to),
              initial.get(name)!.subarray(from, to),
              { atol: slice.atol, rtol: 0 },
            );
          }
        }
      }
      t.diagnostic(
        `max abs grad diff ${worstGrad.toExponential(2)}, max abs param diff ${worstParam.toExponential(2)}`,
      );
    },
  );
}
