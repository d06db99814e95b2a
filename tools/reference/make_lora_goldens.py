#!/usr/bin/python3
"""Golden fixtures for lmforge's LoRA adapters, against a hand-written PyTorch LoRA (PEFT's
formula, y = base(x) + (alpha / r) * B(A(x)); peft itself is not installed) on the tiny
GPT-2 and Llama checkpoints of make_model_goldens.py (its reference modules are reused).

Forward direction (PyTorch -> lmforge), test/golden/models/lora/<base>.safetensors:
  ids, targets, A.<module> / B.<module> (the adapter, every entry non-zero), logits, loss and
  grad.A.<module> / grad.B.<module> (the base frozen: only the adapter has gradients).

Reverse direction (lmforge -> PyTorch): runs tools/reference/write_lmforge_adapters.ts, which
saves PEFT-format adapter folders with lmforge into test/golden/models/lora/from-lmforge/<name>/
with lmforge's logits; this script applies each folder to its base by the key names alone
(base_model.model.<module>.lora_A.weight / lora_B.weight merged as W += scale * B @ A, transposed
for fan_in_fan_out; base_model.model.<parameter> replacing the base weight, the vocabulary
resized to it) and writes its own logits to torch.safetensors beside them. The verdicts go
into test/golden/models/lora/manifest.json; a mismatch exits 1.

Run: /usr/bin/python3 tools/reference/make_lora_goldens.py   (torch 1.13, CPU, a few seconds)

The reference computes in float64 from float32 weights, so the fixtures hold the exact answer
and a test's error budget is lmforge's own float32 error.
"""
import json
import math
import os
import platform
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_goldens as ref  # noqa: E402  (the tiny GPT-2 / Llama reference modules and safetensors I/O)

OUT = os.path.join(ref.OUT, 'lora')
SEED = 4321

FORWARD = {
    'llama-tiny': {'r': 4, 'alpha': 8.0, 'targets': ['q_proj', 'v_proj', 'o_proj', 'gate_proj', 'down_proj']},
    'gpt2-tiny': {'r': 4, 'alpha': 8.0, 'targets': ['c_attn', 'attn.c_proj', 'c_fc']},
}


class LoraWrap(nn.Module):
    """PEFT's LoRA over a frozen nn.Linear ((out, in) weight) or HF Conv1D ((in, out) weight)."""

    def __init__(self, base, r, alpha, gen):
        super().__init__()
        self.base = base
        conv1d = isinstance(base, ref.Conv1D)
        n_in, n_out = (base.weight.shape[0], base.weight.shape[1]) if conv1d else (base.weight.shape[1], base.weight.shape[0])
        self.lora_A = nn.Parameter(0.2 * torch.randn(r, n_in, generator=gen))
        self.lora_B = nn.Parameter(0.2 * torch.randn(n_out, r, generator=gen))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale


def matches(name, targets):
    """PEFT's rule for a list of target_modules: the name itself, or its end after a dot."""
    return any(name == t or name.endswith('.' + t) for t in targets)


def load_base(folder):
    with open(os.path.join(ref.OUT, folder, 'config.json')) as f:
        config = json.load(f)
    model = ref.ARCH[config['model_type']](config)
    missing, unexpected = model.load_state_dict(ref.read_safetensors(os.path.join(ref.OUT, folder, 'model.safetensors')), strict=False)
    assert not unexpected and all(k == 'lm_head.weight' for k in missing), (missing, unexpected)
    return model, config


def make_forward_fixture(folder, spec, gen, B=2, T=10):
    model, config = load_base(folder)
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped = {}
    for name, module in list(model.named_modules()):
        if name and matches(name, spec['targets']) and isinstance(module, (nn.Linear, ref.Conv1D)):
            parent_name, _, child = name.rpartition('.')
            wrap = LoraWrap(module, spec['r'], spec['alpha'], gen)
            setattr(model.get_submodule(parent_name), child, wrap)
            wrapped[name] = wrap
    model = model.double()
    ids = torch.randint(0, config['vocab_size'], (B, T), generator=gen)
    targets = torch.randint(0, config['vocab_size'], (B, T), generator=gen)
    logits = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    frozen_grads = [n for n, p in model.named_parameters() if p.grad is not None and 'lora_' not in n]
    assert not frozen_grads, frozen_grads
    out = {'ids': ids.int(), 'targets': targets.int(), 'logits': logits.float(), 'loss': loss.float().reshape([])}
    for name, wrap in wrapped.items():
        out['A.' + name] = wrap.lora_A.float()
        out['B.' + name] = wrap.lora_B.float()
        out['grad.A.' + name] = wrap.lora_A.grad.float()
        out['grad.B.' + name] = wrap.lora_B.grad.float()
    os.makedirs(OUT, exist_ok=True)
    ref.write_safetensors(os.path.join(OUT, folder + '.safetensors'), out)
    return {'base': folder, 'file': folder + '.safetensors', 'rank': spec['r'], 'alpha': spec['alpha'],
            'targets': spec['targets'], 'modules': sorted(wrapped), 'batch': B, 'time': T, 'loss': loss.item()}


def pattern_value(pattern, module):
    """PEFT's rank_pattern / alpha_pattern lookup: the first key matching (.*\\.)?key$."""
    import re
    for key, value in pattern.items():
        if re.match(rf'(.*\.)?({key})$', module):
            return value
    return None


def apply_adapter(name):
    """Applies an lmforge-written PEFT folder to its base by key names; returns the verdict."""
    folder = os.path.join(OUT, 'from-lmforge', name)
    with open(os.path.join(folder, 'adapter_config.json')) as f:
        adapter = json.load(f)
    assert adapter['peft_type'] == 'LORA' and adapter['bias'] == 'none', adapter
    base_folder = os.path.basename(adapter['base_model_name_or_path'])
    with open(os.path.join(ref.OUT, base_folder, 'config.json')) as f:
        config = json.load(f)
    weights = ref.read_safetensors(os.path.join(ref.OUT, base_folder, 'model.safetensors'))
    tensors = ref.read_safetensors(os.path.join(folder, 'adapter_model.safetensors'))
    prefix = 'base_model.model.'
    assert all(k.startswith(prefix) for k in tensors), sorted(tensors)
    saved = {k[len(prefix):]: v for k, v in tensors.items() if '.lora_' not in k}
    embed = 'transformer.wte.weight' if config['model_type'] == 'gpt2' else 'model.embed_tokens.weight'
    if embed in saved:  # PEFT's saved-embeddings convention: the fine-tune resized the vocabulary
        config = {**config, 'vocab_size': saved[embed].shape[0]}
    weights.update(saved)
    merged = 0
    for key in sorted(tensors):
        if not key.endswith('.lora_A.weight'):
            continue
        module = key[len(prefix):-len('.lora_A.weight')]
        A, Bm = tensors[key].double(), tensors[prefix + module + '.lora_B.weight'].double()
        r = A.shape[0]
        assert r == (pattern_value(adapter['rank_pattern'], module) or adapter['r'])
        alpha = pattern_value(adapter['alpha_pattern'], module) or adapter['lora_alpha']
        scale = alpha / math.sqrt(r) if adapter['use_rslora'] else alpha / r
        delta = scale * (Bm @ A)  # (out, in)
        if adapter['fan_in_fan_out']:
            delta = delta.t()  # Conv1D stores (in, out)
        weights[module + '.weight'] = (weights[module + '.weight'].double() + delta).float()
        merged += 1
    model = ref.ARCH[config['model_type']](config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    assert not unexpected and all(k == 'lm_head.weight' for k in missing), (missing, unexpected)
    expected = ref.read_safetensors(os.path.join(folder, 'expected.safetensors'))
    with torch.no_grad():
        logits = model.double()(expected['ids'].long())
    ref.write_safetensors(os.path.join(folder, 'torch.safetensors'), {'logits': logits.float()})
    max_abs = (logits - expected['logits'].double()).abs().max().item()
    ok = max_abs <= 1e-4
    print(f'lora/from-lmforge/{name}: {merged} adapted layers merged by key name, max |logits diff| {max_abs:.3g} '
          f'{"ok" if ok else "MISMATCH"}', file=sys.stderr)
    return {'folder': 'from-lmforge/' + name, 'base': base_folder, 'mergedLayers': merged,
            'vocabSize': config['vocab_size'], 'maxAbsLogitsDiff': max_abs, 'tolerance': 1e-4, 'ok': ok}


def main():
    gen = torch.Generator().manual_seed(SEED)
    forward = [make_forward_fixture(folder, spec, gen) for folder, spec in FORWARD.items()]
    if '--skip-lmforge' not in sys.argv:
        subprocess.run(['npx', 'tsx', 'tools/reference/write_lmforge_adapters.ts'], cwd=ref.ROOT, check=True)
    reverse = [apply_adapter(name) for name in sorted(os.listdir(os.path.join(OUT, 'from-lmforge')))]
    manifest = {
        'generator': 'tools/reference/make_lora_goldens.py',
        'torch': torch.__version__, 'python': platform.python_version(), 'seed': SEED, 'threads': 1,
        'reference': "hand-written LoRA (PEFT's y = base(x) + alpha/r * B(A(x))) over the reference modules of "
                     'make_model_goldens.py; float64 from float32 weights, stored as float32',
        'tolerance': {
            'logits': {'atol': 2e-5, 'rtol': 1e-5,
                       'why': 'lmforge float32 through 2 blocks with adapters on logits of magnitude ~5 (as the model goldens)'},
            'loss': {'atol': 1e-5, 'why': 'mean of 20 float32 cross-entropies of magnitude ~4'},
            'gradients': {'atol': 5e-6, 'rtol': 1e-4,
                          'why': 'float32 backward through 2 blocks into the adapter weights; an absolute bound as '
                                 "the model goldens' (entries near zero make relative error meaningless)"},
            'reverse': {'atol': 2e-5, 'rtol': 1e-5,
                        'why': 'lmforge applies the adapter unmerged in float32; PyTorch merges W + s*BA in float64'},
        },
        'forward': forward,
        'reverse': reverse,
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    subprocess.run([os.path.join(ref.ROOT, 'node_modules', '.bin', 'prettier'), '--write', os.path.join(OUT, 'manifest.json')],
                   check=True, stdout=subprocess.DEVNULL)
    if not all(r['ok'] for r in reverse):
        sys.exit(1)


if __name__ == '__main__':
    main()
