"""Hugging Face model folders in plain PyTorch, without the transformers package.

Hand-written torch modules with transformers' state-dict names and math for the decoder
families lmforge loads: GPT2LMHeadModel, and LlamaForCausalLM / MistralForCausalLM /
Qwen2ForCausalLM / Qwen3ForCausalLM (one Llama-style module set: head_dim, per-projection
biases, Qwen3's per-head q/k RMSNorm, sliding windows, RoPE 'default' / 'linear' /
'llama3' / 'dynamic' scaling), plus a safetensors reader/writer (F32, F16, BF16, F64, I32,
I64), the sharded index, and folder load/save. The config rules follow transformers'
configuration_*.py and modeling_*.py as documented (defaults per config class, fields each
modeling file reads); they are written here independently of lmforge's TypeScript mapping,
so the golden fixtures check one reading against the other.

Used by tools/scale-out/continue_ddp.py (training under torch.distributed) and by
tools/reference/make_hf_folders.py (the golden fixtures of test/golden/hf-folders/).
Needs only torch (>= 1.13) and the standard library.
"""
import json
import math
import os
import shutil
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---- safetensors -----------------------------------------------------------------------

ST_DTYPE = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64',
            torch.int32: 'I32', torch.int64: 'I64'}
TORCH_DTYPE = {v: k for k, v in ST_DTYPE.items()}
# The reference writer's order: widest dtype first, then name (so every tensor is aligned).
ST_RANK = {'I64': 7, 'F64': 6, 'F32': 5, 'I32': 4, 'BF16': 3, 'F16': 2}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: write its 16-bit patterns
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()  # little-endian on every machine this runs on (x86, arm64)


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (name -> tensor) laid out as the reference Rust writer does."""
    items = sorted(((n, ST_DTYPE[t.dtype], t) for n, t in tensors.items()), key=lambda it: (-ST_RANK[it[1]], it[0]))
    header = {'__metadata__': metadata or {'format': 'pt'}}
    blobs, offset = [], 0
    for name, dtype, t in items:
        blob = tensor_bytes(t)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def read_safetensors(path):
    """name -> tensor in its stored dtype."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    out = {}
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        dtype = TORCH_DTYPE[entry['dtype']]
        raw = bytearray(data[8 + n + begin:8 + n + end])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dtype)
        else:
            t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry['shape'])
    return out


def read_weights(folder):
    """The state dict of an HF folder: model.safetensors, else the shards of model.safetensors.index.json."""
    single = os.path.join(folder, 'model.safetensors')
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(folder, 'model.safetensors.index.json')) as f:
        weight_map = json.load(f)['weight_map']
    out = {}
    for shard in sorted(set(weight_map.values())):
        out.update(read_safetensors(os.path.join(folder, shard)))
    return out


def write_sharded(folder, tensors, shards):
    """Writes `tensors` as `shards` files model-0000k-of-0000N.safetensors and the index, as save_pretrained does."""
    names = sorted(tensors)
    per = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for k in range(shards):
        file = f'model-{k + 1:05d}-of-{shards:05d}.safetensors'
        part = {name: tensors[name] for name in names[k * per:(k + 1) * per]}
        write_safetensors(os.path.join(folder, file), part)
        for name, t in part.items():
            weight_map[name] = file
            total += t.numel() * t.element_size()
    index = {'metadata': {'total_size': total}, 'weight_map': dict(sorted(weight_map.items()))}
    with open(os.path.join(folder, 'model.safetensors.index.json'), 'w') as f:
        json.dump(index, f, indent=2)
        f.write('\n')


# ---- the configs, as transformers reads them ---------------------------------------------

# Each config class's defaults for the fields a config.json may leave out.
LLAMA_STYLE_DEFAULTS = {
    'llama': {'num_key_value_heads': None, 'max_position_embeddings': 2048, 'rms_norm_eps': 1e-6, 'head_dim': None,
              'rope_theta': 10000.0, 'tie_word_embeddings': False},
    'mistral': {'num_key_value_heads': 8, 'max_position_embeddings': 4096 * 32, 'rms_norm_eps': 1e-6,
                'head_dim': None, 'rope_theta': 10000.0, 'tie_word_embeddings': False, 'sliding_window': 4096},
    'qwen2': {'num_key_value_heads': 32, 'max_position_embeddings': 32768, 'rms_norm_eps': 1e-6, 'head_dim': None,
              'rope_theta': 10000.0, 'tie_word_embeddings': False, 'sliding_window': 4096,
              'max_window_layers': 28},
    'qwen3': {'num_key_value_heads': 32, 'max_position_embeddings': 32768, 'rms_norm_eps': 1e-6, 'head_dim': 128,
              'rope_theta': 10000.0, 'tie_word_embeddings': False, 'sliding_window': 4096,
              'max_window_layers': 28},
}


class LlamaStyle:
    """The resolved settings of a Llama-style config.json (what the modeling code reads)."""

    def __init__(self, c):
        family = c['model_type']
        d = LLAMA_STYLE_DEFAULTS[family]
        get = lambda key: c[key] if key in c else d.get(key)  # noqa: E731 (absent -> the class default)
        self.family = family
        self.V, self.C = c['vocab_size'], c['hidden_size']
        self.L, self.nH = c['num_hidden_layers'], c['num_attention_heads']
        self.nKV = get('num_key_value_heads') or self.nH
        self.hs = get('head_dim') or self.C // self.nH
        self.inter = c['intermediate_size']
        self.max_pos = get('max_position_embeddings')
        self.eps = get('rms_norm_eps')
        self.act = c.get('hidden_act', 'silu')
        self.tie = get('tie_word_embeddings')
        # Biases: Llama's attention_bias (q, k, v, o) and mlp_bias; Qwen2's fixed q/k/v; Qwen3's attention_bias.
        attention_bias = c.get('attention_bias', False) if family in ('llama', 'qwen3') else False
        self.qkv_bias = attention_bias or family == 'qwen2'
        self.o_bias = attention_bias
        self.mlp_bias = c.get('mlp_bias', False) if family == 'llama' else False
        self.qk_norm = family == 'qwen3'
        # RoPE: v5's rope_parameters or v4's rope_theta + rope_scaling ('type' is the old 'rope_type').
        params = c.get('rope_parameters')
        if params is not None:
            self.theta = params.get('rope_theta', get('rope_theta'))
            scaling = params
        else:
            self.theta = get('rope_theta')
            scaling = c.get('rope_scaling') or {}
        self.rope_type = scaling.get('rope_type', scaling.get('type', 'default'))
        self.rope = scaling
        # Sliding windows per layer (None: full causal attention).
        self.windows = [None] * self.L
        if family == 'mistral':
            size = get('sliding_window')
            self.windows = [size] * self.L
        elif family in ('qwen2', 'qwen3'):
            size = get('sliding_window') if c.get('use_sliding_window', False) else None
            types = c.get('layer_types')
            if types is None:
                first = get('max_window_layers')
                types = ['sliding_attention' if size is not None and i >= first else 'full_attention'
                         for i in range(self.L)]
            self.windows = [size if t == 'sliding_attention' else None for t in types]

    def inv_freq(self):
        """RoPE's inverse frequencies in float32, as modeling_rope_utils.py computes them."""
        hs = self.hs
        inv = 1.0 / (self.theta ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
        if self.rope_type in ('default', 'dynamic'):
            # dynamic NTK rescales only past max_position_embeddings: default frequencies up to it.
            return inv
        if self.rope_type == 'linear':
            return inv / self.rope['factor']
        if self.rope_type == 'llama3':
            factor, low, high = self.rope['factor'], self.rope['low_freq_factor'], self.rope['high_freq_factor']
            old = self.rope['original_max_position_embeddings']
            wavelen = 2 * math.pi / inv
            # Wavelengths longer than old / low are interpolated (divided by factor), shorter
            # than old / high kept, and the band between blended smoothly.
            scaled = torch.where(wavelen > old / low, inv / factor, inv)
            smooth = (old / wavelen - low) / (high - low)
            blended = (1 - smooth) * scaled / factor + smooth * scaled
            between = ~(wavelen < old / high) * ~(wavelen > old / low)
            return torch.where(between, blended, scaled)
        raise ValueError(f'rope type {self.rope_type!r} is not implemented here')


# ---- GPT2LMHeadModel (modeling_gpt2.py) ---------------------------------------------------

class Conv1D(nn.Module):
    """HF's Conv1D: a linear layer whose weight is stored (in, out): y = x @ W + b."""

    def __init__(self, nf, nx, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf)) if bias else None

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        y = flat @ self.weight if self.bias is None else torch.addmm(self.bias, flat, self.weight)
        return y.reshape(*x.shape[:-1], -1)


def layer_norm(dim, eps, bias):
    """nn.LayerNorm, without its bias for a bias-free GPT-2 (torch 1.13's LayerNorm has no bias=False)."""
    norm = nn.LayerNorm(dim, eps=eps)
    if not bias:
        norm.bias = None
    return norm


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


ACT = {'gelu_new': gelu_new, 'gelu_pytorch_tanh': gelu_new, 'gelu': F.gelu, 'relu': F.relu, 'silu': F.silu,
       'swish': F.silu}


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, eps = c['n_embd'], c.get('layer_norm_epsilon', 1e-5)
        inner = c.get('n_inner') or 4 * C
        bias = c.get('lmforge_bias', True)  # lmforge's nanoGPT-style GPT-2 without biases
        self.n_head = c['n_head']
        self.ln_1 = layer_norm(C, eps, bias)
        self.attn = nn.Module()
        self.attn.c_attn = Conv1D(3 * C, C, bias)
        self.attn.c_proj = Conv1D(C, C, bias)
        self.ln_2 = layer_norm(C, eps, bias)
        self.mlp = nn.Module()
        self.mlp.c_fc = Conv1D(inner, C, bias)
        self.mlp.c_proj = Conv1D(C, inner, bias)
        self.act = ACT[c.get('activation_function', 'gelu_new')]

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))
        w = q @ k.transpose(-1, -2) / math.sqrt(hs)
        w = w.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device)), float('-inf'))
        x = x + self.attn.c_proj((w.softmax(-1) @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp.c_proj(self.act(self.mlp.c_fc(self.ln_2(x))))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(c['vocab_size'], c['n_embd'])
        self.transformer.wpe = nn.Embedding(c['n_positions'], c['n_embd'])
        self.transformer.h = nn.ModuleList([GPT2Block(c) for _ in range(c['n_layer'])])
        self.transformer.ln_f = layer_norm(c['n_embd'], c.get('layer_norm_epsilon', 1e-5), c.get('lmforge_bias', True))
        self.lm_head = nn.Linear(c['n_embd'], c['vocab_size'], bias=False)
        self.tied = c.get('tie_word_embeddings', True)
        if self.tied:
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, ids):
        t = self.transformer
        x = t.wte(ids) + t.wpe(torch.arange(ids.shape[1], device=ids.device))
        for block in t.h:
            x = block(x)
        return self.lm_head(t.ln_f(x))


# ---- LlamaForCausalLM and its relatives (modeling_llama/mistral/qwen2/qwen3.py) -----------

class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LlamaStyleAttention(nn.Module):
    def __init__(self, s, window):
        super().__init__()
        self.s, self.window = s, window
        self.q_proj = nn.Linear(s.C, s.nH * s.hs, bias=s.qkv_bias)
        self.k_proj = nn.Linear(s.C, s.nKV * s.hs, bias=s.qkv_bias)
        self.v_proj = nn.Linear(s.C, s.nKV * s.hs, bias=s.qkv_bias)
        self.o_proj = nn.Linear(s.nH * s.hs, s.C, bias=s.o_bias)
        if s.qk_norm:  # Qwen3: RMSNorm over each head (hs channels), before RoPE
            self.q_norm = RMSNorm(s.hs, s.eps)
            self.k_norm = RMSNorm(s.hs, s.eps)

    def forward(self, x, cos, sin):
        s = self.s
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, s.nH, s.hs)
        k = self.k_proj(x).view(B, T, s.nKV, s.hs)
        v = self.v_proj(x).view(B, T, s.nKV, s.hs).transpose(1, 2)
        if s.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = s.nH // s.nKV  # repeat_kv: kv head j serves query heads j*rep .. j*rep + rep - 1
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        w = q @ k.transpose(2, 3) * s.hs ** -0.5
        qi = torch.arange(T, device=x.device).view(T, 1)
        ki = torch.arange(T, device=x.device).view(1, T)
        seen = ki <= qi
        if self.window is not None:  # masking_utils' sliding_window_overlay: kv_idx > q_idx - window
            seen = seen & (ki > qi - self.window)
        w = w.masked_fill(~seen, float('-inf'))
        return self.o_proj((w.softmax(-1) @ v).transpose(1, 2).reshape(B, T, s.nH * s.hs))


class LlamaStyleLayer(nn.Module):
    def __init__(self, s, window):
        super().__init__()
        self.self_attn = LlamaStyleAttention(s, window)
        self.mlp = nn.Module()
        self.mlp.gate_proj = nn.Linear(s.C, s.inter, bias=s.mlp_bias)
        self.mlp.up_proj = nn.Linear(s.C, s.inter, bias=s.mlp_bias)
        self.mlp.down_proj = nn.Linear(s.inter, s.C, bias=s.mlp_bias)
        self.act = ACT[s.act]
        self.input_layernorm = RMSNorm(s.C, s.eps)
        self.post_attention_layernorm = RMSNorm(s.C, s.eps)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        m = self.mlp
        h = self.post_attention_layernorm(x)
        return x + m.down_proj(self.act(m.gate_proj(h)) * m.up_proj(h))


class LlamaStyleForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        s = self.s = LlamaStyle(c)
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(s.V, s.C)
        self.model.layers = nn.ModuleList([LlamaStyleLayer(s, s.windows[i]) for i in range(s.L)])
        self.model.norm = RMSNorm(s.C, s.eps)
        self.lm_head = nn.Linear(s.C, s.V, bias=False)
        self.tied = s.tie
        if self.tied:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.register_buffer('inv_freq', s.inv_freq(), persistent=False)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.model.embed_tokens(ids)
        # cos/sin in float32 as HF's rotary embedding computes them, then in the model's dtype.
        freqs = torch.outer(torch.arange(T, device=ids.device).float(), self.inv_freq.float())
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


def build_model(config):
    """The torch module of an HF config.json dict (GPT-2 or a Llama-style family)."""
    family = config['model_type']
    # lmforge_bias false is a GPT-2 without biases (nanoGPT's choice, `lmforge train`'s
    # default): the same modules minus the bias terms. Other lmforge-only settings have no
    # module here.
    extras = sorted(k for k in config if k.startswith('lmforge_') and not (family == 'gpt2' and k == 'lmforge_bias'))
    if extras:
        raise SystemExit(f'config.json has lmforge-only settings {extras} (no HF architecture has them); '
                         'only models an HF config can describe, and a bias-free GPT-2, go to PyTorch')
    if family == 'gpt2':
        return GPT2LMHeadModel(config)
    if family in LLAMA_STYLE_DEFAULTS:
        return LlamaStyleForCausalLM(config)
    raise ValueError(f'model_type {family!r}: this script implements gpt2, llama, mistral, qwen2 and qwen3')


def hf_state_dict(model, dtype=torch.float32):
    """What save_pretrained writes: the state dict without a tied lm_head, in `dtype`."""
    sd = model.state_dict()
    if model.tied:
        sd.pop('lm_head.weight')
    return {k: v.detach().to(dtype).contiguous() for k, v in sd.items()}


def load_state(model, weights, where):
    """Loads HF-named weights strictly (a tied head's absence and copy excepted; bare base-model keys get their prefix)."""
    body = 'transformer.' if isinstance(model, GPT2LMHeadModel) else 'model.'
    if not any(k.startswith(body) for k in weights):
        weights = {(k if k == 'lm_head.weight' else body + k): v for k, v in weights.items()}
    expected = set(model.state_dict())
    if model.tied:
        weights = {k: v for k, v in weights.items() if k != 'lm_head.weight'}
        expected.discard('lm_head.weight')
    # Buffers older checkpoints carry (GPT-2's causal mask, Llama's inv_freq) are not weights.
    weights = {k: v for k, v in weights.items()
               if not (k.endswith('.attn.bias') or k.endswith('.attn.masked_bias') or k.endswith('rotary_emb.inv_freq'))}
    missing, unexpected = expected - set(weights), set(weights) - expected
    if missing or unexpected:
        raise SystemExit(f'{where}: weights do not match config.json: missing {sorted(missing)}, '
                         f'unexpected {sorted(unexpected)}')
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name in weights:
                if tuple(weights[name].shape) != tuple(p.shape):
                    raise SystemExit(f'{where}: {name} is {tuple(weights[name].shape)}, config.json implies '
                                     f'{tuple(p.shape)}')
                p.copy_(weights[name].to(p.dtype))


def load_folder(folder):
    """(model in float32, config dict) of an HF folder, weights read by their HF names."""
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    model = build_model(config)
    load_state(model, read_weights(folder), folder)
    return model, config


# Files of an HF folder besides the weights that travel with the model.
FOLDER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json',
                'chat_template.jinja']


def save_folder(out, model, config, source):
    """Writes model.safetensors (float32) and config.json, and copies the tokenizer and generation files of `source`."""
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, 'model.safetensors'), hf_state_dict(model))
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump({**config, 'torch_dtype': 'float32'}, f, indent=2)
        f.write('\n')
    for name in FOLDER_FILES:
        if os.path.exists(os.path.join(source, name)):
            shutil.copyfile(os.path.join(source, name), os.path.join(out, name))
