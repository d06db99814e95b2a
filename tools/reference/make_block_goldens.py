#!/usr/bin/python3
"""Golden fixtures for lmforge's shared transformer block (src/models/blocks/transformer-block.ts):
single layers written by hand in plain PyTorch with Hugging Face's formulas and state-dict keys
(transformers itself is not installed):

  bert_layer               BertLayer: post-LayerNorm, bidirectional self-attention with a
                           padding mask (HF's attention_mask, right padding), exact-erf GELU MLP
                           (modeling_bert.py: BertSelfAttention, BertSelfOutput,
                           BertIntermediate, BertOutput)
  marian_decoder_layer     MarianDecoderLayer (modeling_marian.py, = BART's): post-norm, causal
                           self-attention, cross-attention over an encoder output with an
                           encoder padding mask, ReLU MLP (fc1, fc2)
  marian_decoder_layer_pre the same layer with normalize_before (mBART's pre-norm order)

Each test/golden/blocks/<case>.safetensors holds the layer's weights under their HF keys
(relative to the layer), the inputs (`x`; `encoder`; `mask` / `encoder_mask` as I64 0/1),
`out`, a random upstream gradient `dout`, and `grad.<name>` for every float input and weight:
the gradient of <out, dout>. test/golden/blocks/manifest.json lists the cases, sizes,
tolerances (with reasons) and versions.

The reference computes in float64 from float32 weights (as make_model_goldens.py), so the
fixtures hold the exact answer rounded to float32 and the test's budget is lmforge's own
float32 error. Dropout is off (eval), as everywhere in the goldens.

Run: /usr/bin/python3 tools/reference/make_block_goldens.py   (torch 1.13, CPU, ~1 s)
"""
import json
import math
import os
import platform
import subprocess
import sys

import numpy
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import write_safetensors  # noqa: E402  (the one safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'blocks')
SEED = 4321
torch.set_num_threads(1)

B, T, S, C, NH, H = 2, 5, 6, 16, 4, 32
HS = C // NH


def linear(gen, prefix, n_in, n_out):
    return {f'{prefix}.weight': torch.randn(n_out, n_in, generator=gen) * 0.2,
            f'{prefix}.bias': torch.randn(n_out, generator=gen) * 0.1}


def norm(gen, prefix):
    # Gains away from 1 and non-zero biases, so that a norm left out or misplaced shows.
    return {f'{prefix}.weight': 1 + 0.2 * torch.randn(C, generator=gen),
            f'{prefix}.bias': 0.1 * torch.randn(C, generator=gen)}


def heads(x):
    b, t, _ = x.shape
    return x.view(b, t, NH, HS).transpose(1, 2)  # (B, nH, T, hs)


def attention(q, k, v, allowed):
    """softmax(q k^T / sqrt(hs) + mask) v, with allowed (B or 1, 1, Tq, Tk) bool."""
    scores = heads(q) @ heads(k).transpose(-1, -2) / math.sqrt(HS)  # (B, nH, Tq, Tk)
    # HF adds finfo.min where a key is masked; -inf gives the same probabilities (exactly 0).
    scores = scores.masked_fill(~allowed, float('-inf'))
    y = torch.softmax(scores, dim=-1) @ heads(v)  # (B, nH, Tq, hs)
    return y.transpose(1, 2).reshape(q.shape[0], q.shape[1], C)


def padding_allowed(mask):
    return mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)


def layer_norm(p, prefix, x, eps):
    return F.layer_norm(x, (C,), p[f'{prefix}.weight'], p[f'{prefix}.bias'], eps)


def lin(p, prefix, x):
    return F.linear(x, p[f'{prefix}.weight'], p[f'{prefix}.bias'])


# ---- BertLayer (modeling_bert.py) ------------------------------------------------------------

BERT_EPS = 1e-12


def bert_params(gen):
    p = {}
    for name in ('query', 'key', 'value'):
        p.update(linear(gen, f'attention.self.{name}', C, C))
    p.update(linear(gen, 'attention.output.dense', C, C))
    p.update(norm(gen, 'attention.output.LayerNorm'))
    p.update(linear(gen, 'intermediate.dense', C, H))
    p.update(linear(gen, 'output.dense', H, C))
    p.update(norm(gen, 'output.LayerNorm'))
    return p


def bert_layer(p, inputs):
    x, mask = inputs['x'], inputs['mask']
    a = attention(lin(p, 'attention.self.query', x), lin(p, 'attention.self.key', x),
                  lin(p, 'attention.self.value', x), padding_allowed(mask))
    # BertSelfOutput: LayerNorm(dense(a) + input)
    h = layer_norm(p, 'attention.output.LayerNorm', lin(p, 'attention.output.dense', a) + x, BERT_EPS)
    # BertIntermediate: gelu(dense(h)) (hidden_act 'gelu' is the exact erf form); BertOutput.
    m = lin(p, 'output.dense', F.gelu(lin(p, 'intermediate.dense', h)))
    return layer_norm(p, 'output.LayerNorm', m + h, BERT_EPS)


# ---- MarianDecoderLayer (modeling_marian.py) -------------------------------------------------

MARIAN_EPS = 1e-5  # nn.LayerNorm's default, which Marian/BART use


def marian_params(gen):
    p = {}
    for attn in ('self_attn', 'encoder_attn'):
        # HF's attribute order (k, v, q, out); the keys are what matters.
        for name in ('k_proj', 'v_proj', 'q_proj', 'out_proj'):
            p.update(linear(gen, f'{attn}.{name}', C, C))
        p.update(norm(gen, f'{attn}_layer_norm'))
    p.update(linear(gen, 'fc1', C, H))
    p.update(linear(gen, 'fc2', H, C))
    p.update(norm(gen, 'final_layer_norm'))
    return p


def marian_attention(p, prefix, x, kv, allowed):
    # MarianAttention scales q_proj(x) by hs^-0.5 before q k^T: the same scores.
    return lin(p, f'{prefix}.out_proj', attention(lin(p, f'{prefix}.q_proj', x), lin(p, f'{prefix}.k_proj', kv),
                                                    lin(p, f'{prefix}.v_proj', kv), allowed))


def marian_decoder_layer(pre):
    def run(p, inputs):
        x, encoder, encoder_mask = inputs['x'], inputs['encoder'], inputs['encoder_mask']
        causal = torch.ones(T, T, dtype=torch.bool).tril()[None, None]  # (1, 1, T, T)

        def sublayer(h, norm_name, f):
            if pre:  # normalize_before: h + f(norm(h))
                return h + f(layer_norm(p, norm_name, h, MARIAN_EPS))
            return layer_norm(p, norm_name, h + f(h), MARIAN_EPS)  # norm(h + f(h))

        h = sublayer(x, 'self_attn_layer_norm', lambda t: marian_attention(p, 'self_attn', t, t, causal))
        h = sublayer(h, 'encoder_attn_layer_norm',
                     lambda t: marian_attention(p, 'encoder_attn', t, encoder, padding_allowed(encoder_mask)))
        return sublayer(h, 'final_layer_norm', lambda t: lin(p, 'fc2', F.relu(lin(p, 'fc1', t))))
    return run


# ---- fixtures ---------------------------------------------------------------------------------

def make_case(name, params, fn, inputs, gen):
    """Runs fn in float64 from the float32 weights and inputs; writes out, dout and every gradient."""
    p64 = {k: v.double().requires_grad_() for k, v in params.items()}
    in64 = {k: (v.double().requires_grad_() if v.is_floating_point() else v) for k, v in inputs.items()}
    out = fn(p64, in64)
    dout = torch.randn(out.shape, generator=gen)
    floats = {k: v for k, v in in64.items() if v.is_floating_point()}
    grads = torch.autograd.grad(out, list(floats.values()) + list(p64.values()), dout.double())
    tensors = {**params, **{k: v for k, v in inputs.items()}, 'out': out.float(), 'dout': dout}
    for key, g in zip(list(floats) + list(p64), grads):
        tensors[f'grad.{key}'] = g.float()
    write_safetensors(os.path.join(OUT, f'{name}.safetensors'), tensors)
    return {'name': name, 'file': f'{name}.safetensors', 'parameters': list(params),
            'inputs': list(inputs), 'gradients': [f'grad.{k}' for k in list(floats) + list(p64)]}


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    # Right padding: row 1 has 3 tokens of T (BERT) / 4 of S (the encoder).
    mask = torch.tensor([[1] * T, [1, 1, 1, 0, 0]], dtype=torch.int64)
    encoder_mask = torch.tensor([[1] * S, [1, 1, 1, 1, 0, 0]], dtype=torch.int64)
    cases = [
        make_case('bert_layer', bert_params(gen), bert_layer,
                  {'x': torch.randn(B, T, C, generator=gen), 'mask': mask}, gen),
    ]
    for name, pre in (('marian_decoder_layer', False), ('marian_decoder_layer_pre', True)):
        cases.append(make_case(name, marian_params(gen), marian_decoder_layer(pre),
                               {'x': torch.randn(B, T, C, generator=gen),
                                'encoder': torch.randn(B, S, C, generator=gen),
                                'encoder_mask': encoder_mask}, gen))
    manifest = {
        'generator': 'tools/reference/make_block_goldens.py',
        'torch': torch.__version__, 'numpy': numpy.__version__, 'python': platform.python_version(),
        'seed': SEED,
        'sizes': {'B': B, 'T': T, 'S': S, 'C': C, 'nH': NH, 'intermediate': H,
                  'bertLayerNormEps': BERT_EPS, 'marianLayerNormEps': MARIAN_EPS},
        'tolerance': {
            'out': {'atol': 2e-6, 'rtol': 1e-5,
                    'reason': 'float32 lmforge vs a float64 reference: outputs are LayerNorm-ed (unit scale); '
                              'observed max abs error 3.6e-7 over the three cases'},
            'gradients': {'atol': 1e-5, 'rtol': 1e-4,
                          'reason': 'gradients (up to ~10 in size) sum over B*T positions and pass back through '
                                    'three norms; observed max abs error 1.4e-6'},
        },
        'cases': cases,
    }
    path = os.path.join(OUT, 'manifest.json')
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    # The repository lints JSON with prettier; format the manifest the way it expects.
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', path], check=True)
    print(f'wrote {len(cases)} block cases to {os.path.relpath(OUT, ROOT)}')


if __name__ == '__main__':
    main()
