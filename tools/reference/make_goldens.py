#!/usr/bin/python3
"""Writes lmforge's PyTorch golden fixtures: test/golden/fixtures/*.safetensors and
test/golden/manifest.json.

Every op case stores its inputs, a random upstream gradient for each output, the
outputs, and the gradient of every float input (torch.autograd.grad with that upstream
gradient). The tiny-transformer case stores weights, ids/targets, logits, loss, every
parameter gradient, and the parameters after each of 3 AdamW steps.

Run: /usr/bin/python3 tools/reference/make_goldens.py   (torch 1.13, CPU; a few seconds)
The safetensors files are written by the small writer below (the `safetensors` package
is not needed); it lays files out byte for byte as the reference Rust writer does.
"""
import json
import math
import os
import platform
import struct
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, 'test', 'golden')
FIXTURES = os.path.join(OUT_DIR, 'fixtures')
BASE_SEED = 1337

torch.set_num_threads(1)  # one thread: reductions in a fixed order, files identical on every run

# ---- safetensors writer -------------------------------------------------------------

ST_DTYPE = {torch.float64: 'F64', torch.float32: 'F32', torch.int64: 'I64', torch.int32: 'I32',
            torch.float16: 'F16', torch.bfloat16: 'BF16', torch.uint8: 'U8', torch.bool: 'BOOL'}
# The reference writer orders tensors by its Dtype enum, descending (widest first), then name.
ST_RANK = {'I64': 7, 'F64': 6, 'F32': 5, 'I32': 4, 'BF16': 3, 'F16': 2, 'U8': 1, 'BOOL': 0}


def write_safetensors(path, tensors, metadata=None):
    items = []
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        items.append((name, ST_DTYPE[t.dtype], t))
    items.sort(key=lambda item: (-ST_RANK[item[1]], item[0]))
    header = {}
    if metadata is not None:
        header['__metadata__'] = {k: metadata[k] for k in sorted(metadata)}
    offset = 0
    blobs = []
    for name, dtype, t in items:
        # numpy has no bfloat16: write its bits through an int16 view.
        array = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy()
        blob = array.astype(array.dtype.newbyteorder('<')).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(',', ':'), ensure_ascii=False).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# ---- reference implementations of ops torch 1.13 lacks --------------------------------

def rms_norm(x, weight, eps):
    """y = x / sqrt(mean(x^2) + eps) * weight over the last axis (Zhang & Sennrich 2019)."""
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def sdpa(q, k, v, causal=False, mask=None, scale=None):
    """softmax(q k^T * scale + mask) v for q (B, nH, Tq, hs), k/v (B, nKV, Tk, hs).

    Grouped-query attention: query head h reads kv head h // (nH / nKV), i.e. the kv heads
    are repeat_interleave'd. Causal with Tk >= Tq (a KV cache): query i sees keys j <= i + Tk - Tq.
    """
    nH, nKV = q.shape[1], k.shape[1]
    if nH != nKV:
        k = k.repeat_interleave(nH // nKV, dim=1)
        v = v.repeat_interleave(nH // nKV, dim=1)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores + mask
    if causal:
        Tq, Tk = q.shape[-2], k.shape[-2]
        allowed = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq)
        scores = scores.masked_fill(~allowed, float('-inf'))
    return torch.softmax(scores, dim=-1) @ v


# ---- case definitions ----------------------------------------------------------------

TOL_ELEMENTWISE = {'rtol': 1e-5, 'atol': 1e-6,
                   'reason': 'float32 elementwise: a few ulp from libm differences; atol for results near 0'}
TOL_TRANSCENDENTAL = {'rtol': 1e-5, 'atol': 1e-6,
                      'reason': 'float32 exp/log/tanh/erf: implementations differ by a few ulp'}
TOL_REDUCE = {'rtol': 1e-5, 'atol': 1e-6,
              'reason': 'float32 sums of <= 60 terms: summation order differs from torch'}
TOL_MATMUL = {'rtol': 1e-5, 'atol': 5e-6,
              'reason': 'float32 dot products of <= 8 terms in a different order; atol for cancellation to ~0'}
TOL_FUSED = {'rtol': 1e-5, 'atol': 1e-6,
             'reason': 'float32 fused kernels (max-subtracted exp, row statistics) in a different order than torch'}
TOL_ATTENTION = {'rtol': 1e-4, 'atol': 1e-6,
                 'reason': 'float32 attention chains two matmuls and a softmax; the backward subtracts '
                           'nearly equal terms, so relative error grows to ~1e-5'}
TOL_EXACT = {'rtol': 0, 'atol': 0, 'reason': 'pure data movement: must be bit exact'}
TOL_F64 = {'rtol': 1e-12, 'atol': 1e-14, 'reason': 'float64: only rounding-order differences'}


def randn(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=torch.float64).to(dtype)


def away_from_zero(x, gap=0.05):
    """Moves values out of (-gap, gap): relu's kink and divisions stay well conditioned."""
    return torch.where(x.abs() < gap, x.sign() * gap + x + (x == 0) * gap, x)


def positive(*shape, low=0.5, high=2.0):
    return low + (high - low) * torch.rand(*shape, dtype=torch.float64).float()


CASES = []


def case(name, op, inputs, fn, args=None, tol=TOL_ELEMENTWISE, dtype='float32', note=None):
    """inputs: builder returning {name: tensor}; fn(inputs, args) -> tensor or list of tensors."""
    CASES.append(dict(name=name, op=op, inputs=inputs, fn=fn, args=args or {}, tol=tol, dtype=dtype, note=note))


def binary_cases():
    ops = {'add': torch.add, 'sub': torch.sub, 'mul': torch.mul, 'div': torch.div, 'pow': torch.pow}
    shapes = [('same', (3, 4), (3, 4)), ('bcast_row', (2, 3, 4), (4,)), ('bcast_both', (2, 1, 4), (3, 1)),
              ('bcast_lead', (3, 1), (2, 3, 4))]
    for op, f in ops.items():
        for tag, sa, sb in shapes:
            if op == 'pow':
                # a > 0 so a^b and ln(a) (in db) are real.
                build = lambda sa=sa, sb=sb: {'a': positive(*sa), 'b': randn(*sb)}
            elif op == 'div':
                build = lambda sa=sa, sb=sb: {'a': randn(*sa), 'b': away_from_zero(randn(*sb), 0.3)}
            else:
                build = lambda sa=sa, sb=sb: {'a': randn(*sa), 'b': randn(*sb)}
            case(f'{op}_{tag}', op, build, lambda x, _, f=f: f(x['a'], x['b']),
                 tol=TOL_TRANSCENDENTAL if op == 'pow' else TOL_ELEMENTWISE)
    case('mul_scalar', 'mul', lambda: {'a': randn(3, 4)}, lambda x, a: x['a'] * a['scalar'], args={'scalar': 2.5})
    case('add_f64', 'add', lambda: {'a': randn(2, 3, dtype=torch.float64), 'b': randn(3, dtype=torch.float64)},
         lambda x, _: x['a'] + x['b'], tol=TOL_F64, dtype='float64')
    case('div_f64', 'div', lambda: {'a': randn(2, 3, dtype=torch.float64),
                                    'b': away_from_zero(randn(2, 3, dtype=torch.float64), 0.3)},
         lambda x, _: x['a'] / x['b'], tol=TOL_F64, dtype='float64')


def unary_cases():
    ops = {
        'exp': (torch.exp, lambda: randn(3, 5)),
        'log': (torch.log, lambda: positive(3, 5, low=0.1, high=3.0)),
        'sqrt': (torch.sqrt, lambda: positive(3, 5, low=0.1, high=3.0)),
        'rsqrt': (torch.rsqrt, lambda: positive(3, 5, low=0.1, high=3.0)),
        'tanh': (torch.tanh, lambda: 2 * randn(3, 5)),
        'sigmoid': (torch.sigmoid, lambda: 2 * randn(3, 5)),
        'relu': (torch.relu, lambda: away_from_zero(randn(3, 5))),
        'gelu': (lambda x: F.gelu(x), lambda: 2 * randn(3, 5)),
        'geluTanh': (lambda x: F.gelu(x, approximate='tanh'), lambda: 2 * randn(3, 5)),
        'silu': (F.silu, lambda: 2 * randn(3, 5)),
    }
    for op, (f, build) in ops.items():
        case(op, op, lambda build=build: {'x': build()}, lambda x, _, f=f: f(x['x']), tol=TOL_TRANSCENDENTAL)
    case('exp_f64', 'exp', lambda: {'x': randn(3, 5, dtype=torch.float64)}, lambda x, _: torch.exp(x['x']),
         tol=TOL_F64, dtype='float64')


def reduce_cases():
    x = lambda: {'x': randn(3, 4, 5)}
    for tag, axis, keep in [('axis1_keep', 1, True), ('axes02', [0, 2], False), ('all', None, False),
                            ('last_keep', -1, True)]:
        dim = tuple(axis) if isinstance(axis, list) else axis
        case(f'sum_{tag}', 'sum', x,
             lambda t, a, dim=dim: t['x'].sum() if dim is None else t['x'].sum(dim=dim, keepdim=a['keepDims']),
             args={'axis': axis, 'keepDims': keep}, tol=TOL_REDUCE)
        case(f'mean_{tag}', 'mean', x,
             lambda t, a, dim=dim: t['x'].mean() if dim is None else t['x'].mean(dim=dim, keepdim=a['keepDims']),
             args={'axis': axis, 'keepDims': keep}, tol=TOL_REDUCE)
    for tag, axis, keep, correction in [('axis1_keep', 1, True, 1), ('last', -1, False, 0), ('axes02', [0, 2], False, 1)]:
        dim = tuple(axis) if isinstance(axis, list) else axis
        case(f'variance_{tag}', 'variance', x,
             lambda t, a, dim=dim: t['x'].var(dim=dim, unbiased=a['correction'] == 1, keepdim=a['keepDims']),
             args={'axis': axis, 'keepDims': keep, 'correction': correction}, tol=TOL_REDUCE)
    for tag, axis, keep in [('axis1_keep', 1, True), ('last', -1, False), ('axis0', 0, False)]:
        case(f'max_{tag}', 'max', x, lambda t, a: t['x'].max(dim=a['axis'], keepdim=a['keepDims']).values,
             args={'axis': axis, 'keepDims': keep}, tol=TOL_EXACT,
             note='random normal inputs have no ties, so the gradient goes to one element')


def matmul_cases():
    def mm(t, a):
        x = t['a'].transpose(-2, -1) if a['transA'] else t['a']
        y = t['b'].transpose(-2, -1) if a['transB'] else t['b']
        return x @ y
    for tag, sa, sb, ta, tb in [('2d', (3, 4), (4, 5), False, False),
                                ('batched', (2, 3, 4), (2, 4, 5), False, False),
                                ('bcast_batch', (2, 1, 3, 4), (3, 4, 5), False, False),
                                ('bcast_matrix', (2, 3, 4), (4, 5), False, False),
                                ('transA', (4, 3), (4, 5), True, False),
                                ('transB', (2, 3, 4), (2, 5, 4), False, True),
                                ('transAB', (2, 4, 3), (5, 4), True, True)]:
        case(f'matmul_{tag}', 'matmul', lambda sa=sa, sb=sb: {'a': randn(*sa), 'b': randn(*sb)}, mm,
             args={'transA': ta, 'transB': tb}, tol=TOL_MATMUL)
    case('matmul_f64', 'matmul', lambda: {'a': randn(2, 3, 4, dtype=torch.float64), 'b': randn(4, 5, dtype=torch.float64)},
         mm, args={'transA': False, 'transB': False}, tol=TOL_F64, dtype='float64')


def softmax_cases():
    for op, f in [('softmax', torch.softmax), ('logSoftmax', torch.log_softmax)]:
        case(f'{op}_last', op, lambda: {'x': 3 * randn(2, 3, 7)}, lambda t, a, f=f: f(t['x'], dim=a['axis']),
             args={'axis': -1}, tol=TOL_FUSED)
        case(f'{op}_axis1', op, lambda: {'x': 3 * randn(2, 5, 3)}, lambda t, a, f=f: f(t['x'], dim=a['axis']),
             args={'axis': 1}, tol=TOL_FUSED)


def cross_entropy_cases():
    N, V = 6, 7

    def build(ignored):
        targets = torch.randint(0, V, (N,))
        targets[list(ignored)] = -100
        return {'logits': 2 * randn(N, V), 'targets': targets}

    def ce(t, a):
        return F.cross_entropy(t['logits'], t['targets'], ignore_index=a['ignoreIndex'],
                               label_smoothing=a['labelSmoothing'], reduction=a['reduction'])
    for tag, ignored, smoothing, reduction in [('mean', [], 0.0, 'mean'), ('mean_ignore', [1, 4], 0.0, 'mean'),
                                               ('sum_ignore', [2], 0.0, 'sum'), ('none_ignore', [0, 5], 0.0, 'none'),
                                               ('smooth_mean_ignore', [3], 0.1, 'mean'),
                                               ('smooth_none', [], 0.2, 'none')]:
        case(f'crossEntropy_{tag}', 'crossEntropy', lambda ignored=ignored: build(ignored), ce,
             args={'ignoreIndex': -100, 'labelSmoothing': smoothing, 'reduction': reduction}, tol=TOL_FUSED)


def norm_cases():
    case('layerNorm', 'layerNorm',
         lambda: {'x': 2 * randn(2, 3, 8) + 0.5, 'weight': 1 + 0.3 * randn(8), 'bias': 0.3 * randn(8)},
         lambda t, a: F.layer_norm(t['x'], (t['x'].shape[-1],), t['weight'], t['bias'], a['eps']),
         args={'eps': 1e-5}, tol=TOL_FUSED)
    case('rmsNorm', 'rmsNorm', lambda: {'x': 2 * randn(2, 3, 8), 'weight': 1 + 0.3 * randn(8)},
         lambda t, a: rms_norm(t['x'], t['weight'], a['eps']), args={'eps': 1e-6}, tol=TOL_FUSED,
         note='RMSNorm by formula: x * rsqrt(mean(x^2, -1) + eps) * weight (torch 1.13 has no rms_norm)')


def embedding_cases():
    def build():
        ids = torch.tensor([[1, 3, 3, 0, 9], [3, 7, 1, 1, 5]])  # repeated ids: gradients must accumulate
        return {'weight': randn(10, 4), 'ids': ids}
    case('embedding', 'embedding', build, lambda t, _: F.embedding(t['ids'], t['weight']), tol=TOL_REDUCE)


def attention_cases():
    def build(B, nH, nKV, Tq, Tk, hs, mask=None):
        def make():
            x = {'q': randn(B, nH, Tq, hs), 'k': randn(B, nKV, Tk, hs), 'v': randn(B, nKV, Tk, hs)}
            if mask == 'padding':
                # Batch 1 has its last two keys padded out; batch 0 sees all.
                m = torch.zeros(B, 1, 1, Tk)
                m[1, :, :, Tk - 2:] = float('-inf')
                x['mask'] = m
            elif mask == 'bias':
                x['mask'] = randn(1, nH, Tq, Tk)  # additive bias (ALiBi-like), broadcast over batch
            return x
        return make

    def attn(t, a):
        return sdpa(t['q'], t['k'], t['v'], causal=a['causal'], mask=t.get('mask'), scale=a.get('scale'))
    for tag, dims, mask, args in [
        ('causal', (2, 2, 2, 5, 5, 4), None, {'causal': True}),
        ('padding_mask', (2, 2, 2, 4, 6, 4), 'padding', {'causal': False}),
        ('bias_mask_causal', (2, 2, 2, 5, 5, 4), 'bias', {'causal': True}),
        ('gqa_causal', (1, 4, 2, 5, 5, 3), None, {'causal': True}),
        ('cross', (2, 2, 2, 3, 6, 4), None, {'causal': False}),
        ('causal_kv_cache', (1, 2, 1, 3, 7, 4), None, {'causal': True}),
        ('scale', (1, 2, 2, 4, 4, 4), None, {'causal': False, 'scale': 0.3}),
    ]:
        case(f'sdpa_{tag}', 'scaledDotProductAttention', build(*dims, mask=mask), attn, args=args, tol=TOL_ATTENTION,
             note='attention by formula (softmax(q k^T * scale + mask) v, kv heads repeat_interleave d for GQA; '
                  'causal: query i sees keys j <= i + Tk - Tq)')


def join_select_cases():
    case('concat', 'concat', lambda: {'a': randn(2, 3, 4), 'b': randn(2, 2, 4), 'c': randn(2, 1, 4)},
         lambda t, a: torch.cat([t['a'], t['b'], t['c']], dim=a['axis']), args={'axis': 1}, tol=TOL_EXACT)
    case('concat_last', 'concat', lambda: {'a': randn(3, 2), 'b': randn(3, 5)},
         lambda t, a: torch.cat([t['a'], t['b']], dim=a['axis']), args={'axis': -1}, tol=TOL_EXACT)
    case('split', 'split', lambda: {'x': randn(2, 7, 3)},
         lambda t, a: list(torch.split(t['x'], a['sizes'], dim=a['axis'])), args={'sizes': [2, 4, 1], 'axis': 1},
         tol=TOL_EXACT)
    case('stack', 'stack', lambda: {'a': randn(3, 4), 'b': randn(3, 4), 'c': randn(3, 4)},
         lambda t, a: torch.stack([t['a'], t['b'], t['c']], dim=a['axis']), args={'axis': 1}, tol=TOL_EXACT)
    case('gather', 'gather',
         lambda: {'x': randn(3, 5), 'index': torch.tensor([[0, 4, 4], [2, 2, 2], [1, 0, 3]])},
         lambda t, a: torch.gather(t['x'], a['axis'], t['index']), args={'axis': 1}, tol=TOL_REDUCE,
         note='repeated indices: their gradients add up')
    case('gather_axis0', 'gather',
         lambda: {'x': randn(4, 3), 'index': torch.tensor([[3, 0, 1], [3, 3, 2]])},
         lambda t, a: torch.gather(t['x'], a['axis'], t['index']), args={'axis': 0}, tol=TOL_REDUCE)
    case('where', 'where',
         lambda: {'cond': torch.rand(3, 4) > 0.5, 'a': randn(3, 4), 'b': randn(3, 4)},
         lambda t, _: torch.where(t['cond'], t['a'], t['b']), tol=TOL_EXACT)
    case('where_bcast', 'where',
         lambda: {'cond': torch.tensor([[True], [False], [True]]), 'a': randn(3, 4), 'b': randn(4)},
         lambda t, _: torch.where(t['cond'], t['a'], t['b']), tol=TOL_REDUCE)
    case('maskedFill', 'maskedFill',
         lambda: {'x': randn(2, 3, 4), 'mask': torch.rand(3, 4) > 0.6},
         lambda t, a: t['x'].masked_fill(t['mask'], a['value']), args={'value': -1e4}, tol=TOL_EXACT)


# ---- running a case -------------------------------------------------------------------

def as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def run_case(index, spec):
    seed = BASE_SEED + index
    torch.manual_seed(seed)
    dtype = torch.float64 if spec['dtype'] == 'float64' else torch.float32
    inputs = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in spec['inputs']().items()}
    differentiable = [k for k, v in inputs.items() if v.is_floating_point() and k != 'mask']
    for k in differentiable:
        inputs[k].requires_grad_(True)
    outs = as_list(spec['fn'](inputs, spec['args']))
    upstream = [torch.randn(o.shape, dtype=torch.float64).to(o.dtype) for o in outs]
    grads = torch.autograd.grad(outs, [inputs[k] for k in differentiable], grad_outputs=upstream)

    # The same computation in float64 measures how far torch's own float32 result is from
    # the exact one: the evidence behind each tolerance.
    inputs64 = {k: (v.detach().double().requires_grad_(k in differentiable) if v.is_floating_point() else v)
                for k, v in inputs.items()}
    outs64 = as_list(spec['fn'](inputs64, spec['args']))
    grads64 = torch.autograd.grad(outs64, [inputs64[k] for k in differentiable],
                                  grad_outputs=[u.double() for u in upstream])
    error = 0.0
    for got, exact in zip(list(outs) + list(grads), list(outs64) + list(grads64)):
        finite = torch.isfinite(exact)
        if finite.any():
            error = max(error, (got.double() - exact)[finite].abs().max().item())

    single = len(outs) == 1
    out_names = ['out'] if single else [f'out.{i}' for i in range(len(outs))]
    up_names = ['dout'] if single else [f'dout.{i}' for i in range(len(outs))]
    tensors = {k: v.detach() for k, v in inputs.items()}
    tensors.update({n: o.detach() for n, o in zip(out_names, outs)})
    tensors.update({n: u for n, u in zip(up_names, upstream)})
    tensors.update({f'grad.{k}': g for k, g in zip(differentiable, grads)})
    file = f"fixtures/{spec['name']}.safetensors"
    write_safetensors(os.path.join(OUT_DIR, file), tensors, {'case': spec['name'], 'seed': str(seed)})
    entry = {
        'name': spec['name'],
        'op': spec['op'],
        'file': file,
        'args': spec['args'],
        'inputs': list(inputs.keys()),
        'outputs': out_names,
        'upstream': up_names,
        'grads': {k: f'grad.{k}' for k in differentiable},
        'seed': seed,
        'torch': torch.__version__,
        'dtype': spec['dtype'],
        'tolerance': spec['tol'],
        'torchFloat32MaxAbsErrorVsFloat64': error if spec['dtype'] == 'float32' else 0.0,
    }
    if spec['note']:
        entry['note'] = spec['note']
    return entry


# ---- tiny two-layer pre-norm transformer + AdamW ------------------------------------------

class Tiny:
    B, T, C, nH, V, L = 2, 8, 16, 4, 32, 2
    lr, betas, eps, weight_decay, clip = 1e-2, (0.9, 0.99), 1e-8, 0.1, 1.0
    ln_eps = 1e-5


def tiny_params(seed):
    torch.manual_seed(seed)
    C, V, T = Tiny.C, Tiny.V, Tiny.T
    p = {'wte.weight': 0.3 * randn(V, C), 'wpe.weight': 0.1 * randn(T, C)}
    for i in range(Tiny.L):
        h = f'h.{i}.'
        p[h + 'ln_1.weight'] = 1 + 0.1 * randn(C)
        p[h + 'ln_1.bias'] = 0.1 * randn(C)
        p[h + 'attn.c_attn.weight'] = randn(3 * C, C) / math.sqrt(C)
        p[h + 'attn.c_attn.bias'] = 0.1 * randn(3 * C)
        p[h + 'attn.c_proj.weight'] = randn(C, C) / math.sqrt(C)
        p[h + 'attn.c_proj.bias'] = 0.1 * randn(C)
        p[h + 'ln_2.weight'] = 1 + 0.1 * randn(C)
        p[h + 'ln_2.bias'] = 0.1 * randn(C)
        p[h + 'mlp.c_fc.weight'] = randn(4 * C, C) / math.sqrt(C)
        p[h + 'mlp.c_fc.bias'] = 0.1 * randn(4 * C)
        p[h + 'mlp.c_proj.weight'] = randn(C, 4 * C) / math.sqrt(4 * C)
        p[h + 'mlp.c_proj.bias'] = 0.1 * randn(C)
    p['ln_f.weight'] = 1 + 0.1 * randn(C)
    p['ln_f.bias'] = 0.1 * randn(C)
    ids = torch.randint(0, V, (Tiny.B, T))
    targets = torch.randint(0, V, (Tiny.B, T))
    return p, ids, targets


def tiny_forward(p, ids, targets):
    """GPT-2 style, nn.Linear weight layout (out, in): y = x @ W^T + b."""
    B, T, C, nH = Tiny.B, Tiny.T, Tiny.C, Tiny.nH
    hs = C // nH
    x = F.embedding(ids, p['wte.weight']) + p['wpe.weight'][:T]  # (B, T, C)
    for i in range(Tiny.L):
        h = f'h.{i}.'
        a = F.layer_norm(x, (C,), p[h + 'ln_1.weight'], p[h + 'ln_1.bias'], Tiny.ln_eps)
        qkv = a @ p[h + 'attn.c_attn.weight'].t() + p[h + 'attn.c_attn.bias']  # (B, T, 3C)
        q, k, v = qkv.split(C, dim=-1)
        q, k, v = (z.reshape(B, T, nH, hs).transpose(1, 2) for z in (q, k, v))  # (B, nH, T, hs)
        y = sdpa(q, k, v, causal=True).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p[h + 'attn.c_proj.weight'].t() + p[h + 'attn.c_proj.bias']
        m = F.layer_norm(x, (C,), p[h + 'ln_2.weight'], p[h + 'ln_2.bias'], Tiny.ln_eps)
        m = F.gelu(m @ p[h + 'mlp.c_fc.weight'].t() + p[h + 'mlp.c_fc.bias'], approximate='tanh')
        x = x + m @ p[h + 'mlp.c_proj.weight'].t() + p[h + 'mlp.c_proj.bias']
    x = F.layer_norm(x, (C,), p['ln_f.weight'], p['ln_f.bias'], Tiny.ln_eps)
    logits = x @ p['wte.weight'].t()  # (B, T, V), tied head
    loss = F.cross_entropy(logits.reshape(-1, Tiny.V), targets.reshape(-1))
    return logits, loss


def tiny_model(seed):
    p, ids, targets = tiny_params(seed)
    names = list(p.keys())
    params = [p[n].clone().requires_grad_(True) for n in names]
    live = dict(zip(names, params))
    tensors = {f'init.{n}': p[n] for n in names}
    tensors['ids'] = ids
    tensors['targets'] = targets
    decay = [t for t in params if t.dim() >= 2]
    no_decay = [t for t in params if t.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': Tiny.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=Tiny.lr, betas=Tiny.betas, eps=Tiny.eps)
    losses, norms = [], []
    for step in range(1, 4):
        opt.zero_grad(set_to_none=True)
        logits, loss = tiny_forward(live, ids, targets)
        loss.backward()
        if step == 1:
            tensors['logits'] = logits.detach()
            tensors['loss'] = loss.detach()
            for n, t in live.items():
                tensors[f'grad.{n}'] = t.grad.detach().clone()  # before clipping scales it in place
        norm = torch.nn.utils.clip_grad_norm_(params, Tiny.clip)
        losses.append(loss.item())
        norms.append(norm.item())
        opt.step()
        for n, t in live.items():
            tensors[f'step{step}.{n}'] = t.detach().clone()
    tensors['losses'] = torch.tensor(losses)
    tensors['gradNorms'] = torch.tensor(norms)
    file = 'fixtures/tiny_transformer.safetensors'
    write_safetensors(os.path.join(OUT_DIR, file), tensors, {'case': 'tiny_transformer', 'seed': str(seed)})
    min_grad = min(tensors[f'grad.{n}'].abs().min().item() for n in names)
    return {
        'name': 'tiny_transformer',
        'file': file,
        'seed': seed,
        'dtype': 'float32',
        'config': {'B': Tiny.B, 'T': Tiny.T, 'C': Tiny.C, 'nH': Tiny.nH, 'V': Tiny.V, 'L': Tiny.L,
                   'layerNormEps': Tiny.ln_eps, 'gelu': 'tanh', 'tiedHead': True,
                   'linearLayout': 'nn.Linear (out, in): y = x @ W^T + b',
                   'attention': 'causal; qkv = one projection split into q, k, v (C each), heads (B, nH, T, hs)'},
        'optimizer': {'kind': 'adamw', 'lr': Tiny.lr, 'beta1': Tiny.betas[0], 'beta2': Tiny.betas[1],
                      'eps': Tiny.eps, 'weightDecay': Tiny.weight_decay,
                      'weightDecayOn': 'parameters with ndim >= 2 (matrices and embeddings)',
                      'gradClip': Tiny.clip,
                      'clipRule': 'torch.nn.utils.clip_grad_norm_: scale = min(1, clip / (globalNorm + 1e-6))',
                      'steps': 3},
        'parameters': names,
        'tensors': {'init': 'init.<param>', 'grad': 'grad.<param> (step 1, before clipping)',
                    'afterStep': 'step<k>.<param>', 'losses': 'loss before each step',
                    'gradNorms': 'global grad norm before clipping, each step'},
        'minAbsGradient': min_grad,
        'noiseDriven': [{
            'parameter': f'h.{i}.attn.c_attn.bias', 'range': [Tiny.C, 2 * Tiny.C],
            'reason': 'the key bias adds q.b to every score of a softmax row, so its gradient is exactly 0 and '
                      'torch gets rounding noise (~1e-10); Adam turns noise into updates of up to lr per step '
                      '(g / (|g| + eps)), so after the steps these elements are checked against their start '
                      'value within 3 * lr, and their gradient within atol', 'atol': 3 * Tiny.lr,
        } for i in range(Tiny.L)],
        'tolerance': {
            'forward': {'rtol': 1e-5, 'atol': 1e-5,
                        'reason': 'float32 through 2 layers (~20 ops, sums of <= 64 terms) in another order; '
                                  'logits of magnitude ~1 differ by ~1e-6 (measured 1.3e-6 with the JS backend)'},
            'grad': {'rtol': 1e-4, 'atol': 3e-6,
                     'reason': 'float32 backward through attention and layernorm subtracts nearly equal terms; '
                               'gradients of magnitude ~1e-2 differ by ~3e-7 (measured with the JS backend)'},
            'params': {'rtol': 1e-5, 'atol': 3e-6,
                       'reason': 'Adam normalises each update to ~lr = 1e-2, so a 1e-5 relative gradient error '
                                 'moves a parameter by ~1e-7 per step (measured 3.8e-7 after 3 steps)'},
        },
    }


def dtype_fixture():
    """One tensor per dtype the reader converts, with the float64 values it must produce."""
    values = [1.0, -2.0, 0.5, 0.1, 65504.0, 2.0 ** -24, -0.0, 3.140625, 1e-3, -7.25]
    tensors = {
        'f16': torch.tensor(values, dtype=torch.float16).reshape(2, 5),
        'bf16': torch.tensor(values, dtype=torch.bfloat16).reshape(5, 2),
        'f32': torch.tensor(values, dtype=torch.float32),
        'f64': torch.tensor(values, dtype=torch.float64),
        'i64': torch.tensor([0, 1, -1, 2 ** 31 - 1, -2 ** 31, 42], dtype=torch.int64).reshape(2, 3),
        'i32': torch.tensor([7, -7, 0], dtype=torch.int32),
        'u8': torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'empty': torch.zeros(0, 3),
        'scalar': torch.tensor(2.5),
    }
    file = 'fixtures/format_dtypes.safetensors'
    write_safetensors(os.path.join(OUT_DIR, file), tensors, {'format': 'pt', 'note': 'dtype conversion check'})
    return {
        'file': file,
        'metadata': {'format': 'pt', 'note': 'dtype conversion check'},
        'tensors': {name: {'dtype': ST_DTYPE[t.dtype], 'shape': list(t.shape),
                           'values': [float(x) if t.is_floating_point() else int(x) for x in t.double().flatten()]}
                    for name, t in tensors.items()},
    }


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    for f in os.listdir(FIXTURES):
        if f.endswith('.safetensors'):
            os.remove(os.path.join(FIXTURES, f))
    for builder in [binary_cases, unary_cases, reduce_cases, matmul_cases, softmax_cases, cross_entropy_cases,
                    norm_cases, embedding_cases, attention_cases, join_select_cases]:
        builder()
    entries = [run_case(i, spec) for i, spec in enumerate(CASES)]
    model = tiny_model(BASE_SEED + 1000)
    dtypes = dtype_fixture()
    manifest = {
        'generator': 'tools/reference/make_goldens.py',
        'torch': torch.__version__,
        'numpy': np.__version__,
        'python': platform.python_version(),
        'threads': 1,
        'format': {
            'files': 'safetensors; ints are I64 (read as int32), booleans BOOL (read as int32 0/1)',
            'caseTensors': 'inputs by name; out / out.<i> outputs; dout / dout.<i> upstream gradients; '
                           'grad.<input> = d(sum_i <out_i, dout_i>)/d input',
            'tolerance': '|actual - expected| <= atol + rtol * |expected|, elementwise',
        },
        'notGoldenTested': [
            {'op': 'dropout', 'reason': "lmforge's Rng differs from torch's generator, so the masks differ; "
                                        'tested by invariants (mean preserved, p=0 is identity) instead'},
        ],
        'formatCheck': dtypes,
        'cases': entries,
        'models': [model],
    }
    manifest_path = os.path.join(OUT_DIR, 'manifest.json')
    with open(manifest_path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    # The repository lints JSON with prettier; format the manifest the way it expects.
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', manifest_path], check=True)
    else:
        print('node_modules/.bin/prettier not found: run `npx prettier --write test/golden/manifest.json`',
              file=sys.stderr)
    total = sum(os.path.getsize(os.path.join(FIXTURES, f)) for f in os.listdir(FIXTURES))
    print(f'{len(entries)} cases + 1 model, fixtures {total} bytes', file=sys.stderr)


if __name__ == '__main__':
    main()
