#!/usr/bin/python3
"""Golden fixtures for lmforge's decoder family: a tiny GPT-2 and a tiny Llama written in
plain PyTorch, faithful to Hugging Face's GPT2LMHeadModel and LlamaForCausalLM (module
attribute names, parameter layouts and formulas; transformers itself is not installed).

Forward direction (PyTorch -> lmforge), test/golden/models/<name>/:
  config.json        HF config (GPT2Config / LlamaConfig fields)
  model.safetensors  the weights under their HF state-dict keys (a loadable HF model folder)
  debug.safetensors  ids, targets, logits, loss and grad.<key> for every parameter

Reverse direction (lmforge -> PyTorch): runs tools/reference/write_lmforge_models.ts, which
saves seeded lmforge models with saveModelFolder() into test/golden/models/from-lmforge/
<name>/ together with lmforge's own logits; this script loads each folder by HF names into
the reference (strictly: no missing or unexpected key, tied lm_head excepted) and checks the
logits agree. The verdicts go into test/golden/models/manifest.json; a mismatch exits 1.

Run: /usr/bin/python3 tools/reference/make_model_goldens.py   (torch 1.13, CPU, a few seconds;
     --skip-lmforge reuses the committed from-lmforge folders instead of rewriting them)

The reference computes in float64 from the float32 weights, so the fixtures hold the exact
answer (rounded to float32) and a test's error budget is lmforge's own float32 error.
"""
import json
import math
import os
import platform
import struct
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'models')
SEED = 1234
torch.set_num_threads(1)

# ---- safetensors (header length u64 LE, JSON header padded with spaces to 8, raw data) ----

ST_DTYPE = {torch.float32: 'F32', torch.float64: 'F64', torch.int32: 'I32', torch.int64: 'I64'}
TORCH_DTYPE = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32, 'I64': torch.int64}
ST_RANK = {'I64': 7, 'F64': 6, 'F32': 5, 'I32': 4}


def write_safetensors(path, tensors):
    items = sorted(((n, ST_DTYPE[t.dtype], t.detach().contiguous()) for n, t in tensors.items()),
                   key=lambda item: (-ST_RANK[item[1]], item[0]))
    header = {'__metadata__': {'format': 'pt'}}
    blobs, offset = [], 0
    for name, dtype, t in items:
        blob = t.numpy().tobytes()  # little-endian on every machine this runs on (x86/arm64)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    out = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        t = torch.frombuffer(bytearray(data[8 + n + begin:8 + n + end]), dtype=TORCH_DTYPE[entry['dtype']])
        out[name] = t.reshape(entry['shape'])
    return out


# ---- GPT2LMHeadModel by formula (transformers/models/gpt2/modeling_gpt2.py) ---------------

class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored (in, out): y = x @ W + b."""

    def __init__(self, nf, nx):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], -1)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {'gelu_new': gelu_new, 'gelu': F.gelu, 'relu': F.relu, 'silu': F.silu}


class GPT2Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head, self.n_embd = c['n_head'], c['n_embd']
        self.c_attn = Conv1D(3 * self.n_embd, self.n_embd)
        self.c_proj = Conv1D(self.n_embd, self.n_embd)

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(hs)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        y = w.softmax(-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class GPT2MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        inner = c['n_inner'] or 4 * c['n_embd']
        self.c_fc = Conv1D(inner, c['n_embd'])
        self.c_proj = Conv1D(c['n_embd'], inner)
        self.act = ACT[c['activation_function']]

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c['n_embd'], eps=c['layer_norm_epsilon'])
        self.attn = GPT2Attention(c)
        self.ln_2 = nn.LayerNorm(c['n_embd'], eps=c['layer_norm_epsilon'])
        self.mlp = GPT2MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c['vocab_size'], c['n_embd'])
        self.wpe = nn.Embedding(c['n_positions'], c['n_embd'])
        self.h = nn.ModuleList([GPT2Block(c) for _ in range(c['n_layer'])])
        self.ln_f = nn.LayerNorm(c['n_embd'], eps=c['layer_norm_epsilon'])

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1]))
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = GPT2Model(c)
        self.lm_head = nn.Linear(c['n_embd'], c['vocab_size'], bias=False)
        if c.get('tie_word_embeddings', True):
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids):
        return self.lm_head(self.transformer(ids))


# ---- LlamaForCausalLM by formula (transformers/models/llama/modeling_llama.py) -------------

class LlamaRMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


def rotate_half(x):
    x1, x2 = x[..., :x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rope_tables(hs, T, theta, dtype):
    # As LlamaRotaryEmbedding: inv_freq and the angles in float32, then cos/sin.
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


class LlamaAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c['hidden_size']
        self.nH, self.nKV = c['num_attention_heads'], c.get('num_key_value_heads', c['num_attention_heads'])
        self.hs = C // self.nH
        self.theta = c.get('rope_theta', 10000.0)
        bias = c.get('attention_bias', False)
        self.q_proj = nn.Linear(C, self.nH * self.hs, bias=bias)
        self.k_proj = nn.Linear(C, self.nKV * self.hs, bias=bias)
        self.v_proj = nn.Linear(C, self.nKV * self.hs, bias=bias)
        self.o_proj = nn.Linear(self.nH * self.hs, C, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.nH, self.hs).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.nKV, self.hs).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.nKV, self.hs).transpose(1, 2)
        cos, sin = rope_tables(self.hs, T, self.theta, x.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nH // self.nKV  # repeat_kv: kv head j serves query heads j*rep .. j*rep+rep-1
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        w = q @ k.transpose(2, 3) / math.sqrt(self.hs)
        w = w + torch.triu(torch.full((T, T), torch.finfo(x.dtype).min, dtype=x.dtype), diagonal=1)
        y = w.softmax(-1) @ v
        return self.o_proj(y.transpose(1, 2).reshape(B, T, C))


class LlamaMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, H = c['hidden_size'], c['intermediate_size']
        bias = c.get('mlp_bias', False)
        self.gate_proj = nn.Linear(C, H, bias=bias)
        self.up_proj = nn.Linear(C, H, bias=bias)
        self.down_proj = nn.Linear(H, C, bias=bias)
        self.act = ACT[c.get('hidden_act', 'silu')]

    def forward(self, x):
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = LlamaAttention(c)
        self.mlp = LlamaMLP(c)
        self.input_layernorm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.post_attention_layernorm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c['num_hidden_layers'])])
        self.norm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, ids):
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c['hidden_size'], c['vocab_size'], bias=False)
        if c.get('tie_word_embeddings', False):
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids):
        return self.lm_head(self.model(ids))


ARCH = {'gpt2': GPT2LMHeadModel, 'llama': LlamaForCausalLM}

# ---- fixtures --------------------------------------------------------------------------

GPT2_CONFIG = {
    'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': 50, 'n_positions': 16,
    'n_embd': 32, 'n_layer': 2, 'n_head': 4, 'n_inner': None, 'activation_function': 'gelu_new',
    'resid_pdrop': 0.0, 'embd_pdrop': 0.0, 'attn_pdrop': 0.0, 'layer_norm_epsilon': 1e-5,
    'initializer_range': 0.02, 'tie_word_embeddings': True,
}
LLAMA_CONFIG = {
    'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': 50, 'hidden_size': 32,
    'intermediate_size': 64, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
    'max_position_embeddings': 16, 'hidden_act': 'silu', 'rms_norm_eps': 1e-5, 'rope_theta': 10000.0,
    'attention_bias': False, 'mlp_bias': False, 'initializer_range': 0.02, 'tie_word_embeddings': False,
}


def randomize(model, gen):
    """Weights large enough that logits and gradients are far from uniform/zero (a test that
    can fail): matrices N(0, 0.15^2), embeddings N(0, 0.3^2), biases N(0, 0.05^2), norm
    weights 1 + N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('ln_1.weight') or name.endswith('ln_2.weight') or name.endswith('ln_f.weight') \
                    or 'layernorm' in name or name == 'model.norm.weight':
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith('.bias'):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif 'wte' in name or 'wpe' in name or 'embed_tokens' in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))


def hf_state_dict(model, config):
    """What HF's save_pretrained writes: the state dict without a tied lm_head."""
    sd = model.state_dict()
    if config.get('tie_word_embeddings', config['model_type'] == 'gpt2'):
        sd.pop('lm_head.weight')
    return {k: v.float() for k, v in sd.items()}


def make_forward_fixture(name, config, gen, B=2, T=12):
    model = ARCH[config['model_type']](config)
    randomize(model, gen)
    weights = hf_state_dict(model, config)
    model = model.double()
    ids = torch.randint(0, config['vocab_size'], (B, T), generator=gen)
    targets = torch.randint(0, config['vocab_size'], (B, T), generator=gen)
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(folder, 'model.safetensors'), weights)
    debug = {'ids': ids.int(), 'targets': targets.int(), 'logits': logits.float(), 'loss': loss.float().reshape([])}
    for key, p in model.named_parameters():  # a tied weight appears once (its first name), gradient summed
        debug['grad.' + key] = p.grad.float()
    write_safetensors(os.path.join(folder, 'debug.safetensors'), debug)
    return {'folder': name, 'config': config, 'batch': B, 'time': T, 'loss': loss.item(),
            'parameters': sorted(weights), 'gradients': sorted(k for k in debug if k.startswith('grad.'))}


def check_lmforge_folder(name, out=OUT, arch=ARCH):
    """Loads an lmforge-saved folder (out/from-lmforge/name) by HF names into the reference
    (arch: model_type -> module class); compares logits."""
    folder = os.path.join(out, 'from-lmforge', name)
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    extras = [k for k in config if k.startswith('lmforge_')]
    if extras:
        raise SystemExit(f'{folder}/config.json: lmforge-only keys {extras} (not an HF-clean preset)')
    model = arch[config['model_type']](config)
    weights = read_safetensors(os.path.join(folder, 'model.safetensors'))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = config.get('tie_word_embeddings', config['model_type'] == 'gpt2')
    allowed_missing = ['lm_head.weight'] if tied else []
    if sorted(missing) != allowed_missing or unexpected:
        raise SystemExit(f'{folder}: missing {missing}, unexpected {unexpected}')
    expected = read_safetensors(os.path.join(folder, 'expected.safetensors'))
    with torch.no_grad():
        logits = model.double()(expected['ids'].long())
    if isinstance(logits, tuple):  # models that also return router logits
        logits = logits[0]
    diff = (logits - expected['logits'].double()).abs()
    max_abs = diff.max().item()
    ok = max_abs <= 1e-4
    print(f'from-lmforge/{name}: {len(weights)} tensors loaded by HF names, max |logits diff| {max_abs:.3g} '
          f'{"ok" if ok else "MISMATCH"}', file=sys.stderr)
    return {'folder': 'from-lmforge/' + name, 'modelType': config['model_type'], 'tensors': len(weights),
            'maxAbsLogitsDiff': max_abs, 'tolerance': 1e-4, 'ok': ok}


def main():
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    forward = [make_forward_fixture('gpt2-tiny', GPT2_CONFIG, gen),
               make_forward_fixture('llama-tiny', LLAMA_CONFIG, gen)]
    if '--skip-lmforge' not in sys.argv:
        subprocess.run(['npx', 'tsx', 'tools/reference/write_lmforge_models.ts'], cwd=ROOT, check=True)
    reverse = [check_lmforge_folder(name) for name in sorted(os.listdir(os.path.join(OUT, 'from-lmforge')))
               if os.path.isdir(os.path.join(OUT, 'from-lmforge', name))]
    manifest = {
        'generator': 'tools/reference/make_model_goldens.py',
        'torch': torch.__version__, 'python': platform.python_version(), 'seed': SEED, 'threads': 1,
        'reference': 'plain PyTorch modules with HF GPT2LMHeadModel / LlamaForCausalLM names, layouts and '
                     'formulas; computed in float64 from float32 weights, stored as float32',
        'tolerance': {
            'logits': {'atol': 2e-5, 'rtol': 1e-5,
                       'why': 'lmforge runs in float32 (eps 6e-8) through 2 blocks on logits of magnitude ~5; '
                              'measured max abs error 2e-6, so 10x headroom'},
            'loss': {'atol': 1e-5, 'why': 'mean of 24 float32 cross-entropies of magnitude ~4 (error ~1e-7)'},
            'gradients': {'atol': 2e-6, 'rtol': 1e-4,
                          'why': 'float32 backward through 2 blocks; gradients are at most ~0.05, measured max abs '
                                 'error 1.5e-7, so an absolute bound with >10x headroom (relative error is '
                                 'meaningless for entries near zero)'},
        },
        'forward': forward,
        'reverse': reverse,
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    if not all(r['ok'] for r in reverse):
        sys.exit(1)


if __name__ == '__main__':
    main()
