#!/usr/bin/python3
"""Golden fixtures for lmforge's mixture of experts, in plain PyTorch with Hugging Face's math
written out (transformers itself is not installed):

  MixtralSparseMoeBlock   router logits = gate(x); softmax over ALL experts; top-k; renormalise
                          the k probabilities (which equals a softmax over the k chosen logits:
                          exp(l_i) / sum_{j in top-k} exp(l_j)); each expert's tokens found with
                          torch.where over the one-hot mask and run through w2(silu(w1 x) * w3 x),
                          the per-expert loop of modeling_mixtral.py
  switch routing          softmax over all experts, top-k, NOT renormalised (Switch / GShard;
                          Qwen2-MoE's norm_topk_prob=False)
  shared experts          DeepSeek-MoE style: one dense MLP of hidden S * H added for every token
  load_balancing_loss_func  HF's, over every layer's router logits concatenated
  router z-loss           ST-MoE (HF SwitchTransformers' router_z_loss_func): mean logsumexp^2

Writes test/golden/moe/:
  block-*.safetensors    x, every weight (HF names), out, router_logits, the losses, and the
                         gradient of sum(out * dout) + 0.1 * balance + 0.01 * z for x and every weight
  mixtral-tiny/          a MixtralForCausalLM folder (config.json, model.safetensors) and
                         debug.safetensors: ids, targets, logits, the cross-entropy, the balance
                         and z-loss over both layers, the total loss (ce + router_aux_loss_coef *
                         balance + lmforge_router_z_loss_coef * z, as MixtralForCausalLM adds it
                         with output_router_logits) and its gradient for every parameter
  manifest.json          cases, seed, versions, tolerances with reasons

Reverse direction (lmforge -> PyTorch): runs tools/reference/write_lmforge_mixtral.ts, which saves
a seeded mixtral preset into test/golden/moe/from-lmforge/mixtral/ with lmforge's logits; this
script loads it by HF names into the reference (strictly) and checks the logits agree.

Run: /usr/bin/python3 tools/reference/make_moe_goldens.py   (torch 1.13, CPU, ~1 s)

The reference computes in float64 from float32 weights: the fixtures hold the exact answer
(rounded to float32) and a test's error budget is lmforge's own float32 error.
"""
import json
import os
import platform
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import (  # noqa: E402
    ACT, ROOT, LlamaAttention, LlamaRMSNorm, check_lmforge_folder, randomize as randomize_model, write_safetensors)

OUT = os.path.join(ROOT, 'test', 'golden', 'moe')
SEED = 4321
torch.set_num_threads(1)


class MixtralBlockSparseTop2MLP(nn.Module):
    """One expert: w2(act(w1 x) * w3 x); with act 'gelu' and no w3: w2(gelu(w1 x)) (lmforge's GELU experts)."""

    def __init__(self, C, H, act, swiglu=True):
        super().__init__()
        self.w1 = nn.Linear(C, H, bias=False)
        self.w2 = nn.Linear(H, C, bias=False)
        self.w3 = nn.Linear(C, H, bias=False) if swiglu else None
        self.act = ACT[act]

    def forward(self, x):
        h = self.act(self.w1(x))
        return self.w2(h * self.w3(x) if self.w3 is not None else h)


class SparseMoeBlock(nn.Module):
    """HF MixtralSparseMoeBlock (normalise=True) / Switch routing (normalise=False), shared experts optional."""

    def __init__(self, C, H, E, k, act='silu', swiglu=True, normalise=True, shared=0):
        super().__init__()
        self.E, self.k, self.normalise = E, k, normalise
        self.gate = nn.Linear(C, E, bias=False)
        self.experts = nn.ModuleList([MixtralBlockSparseTop2MLP(C, H, act, swiglu) for _ in range(E)])
        self.shared_experts = MixtralBlockSparseTop2MLP(C, shared * H, act, swiglu) if shared else None

    def forward(self, hidden_states):
        B, T, C = hidden_states.shape
        hidden_states = hidden_states.view(-1, C)
        router_logits = self.gate(hidden_states)
        self.margin = top_k_margin(router_logits.detach(), self.k)
        routing_weights = F.softmax(router_logits, dim=1)
        routing_weights, selected_experts = torch.topk(routing_weights, self.k, dim=-1)
        if self.normalise:
            routing_weights = routing_weights / routing_weights.sum(dim=-1, keepdim=True)
        final = torch.zeros((B * T, C), dtype=hidden_states.dtype)
        expert_mask = F.one_hot(selected_experts, num_classes=self.E).permute(2, 1, 0)
        for expert_idx in range(self.E):
            idx, top_x = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[None, top_x].reshape(-1, C)
            current = self.experts[expert_idx](current_state) * routing_weights[top_x, idx, None]
            final.index_add_(0, top_x, current)
        if self.shared_experts is not None:
            final = final + self.shared_experts(hidden_states)
        return final.reshape(B, T, C), router_logits


def load_balancing_loss_func(gate_logits, num_experts, top_k):
    """transformers' load_balancing_loss_func without an attention mask."""
    concatenated = torch.cat(list(gate_logits), dim=0)
    routing_weights = F.softmax(concatenated, dim=-1)
    _, selected_experts = torch.topk(routing_weights, top_k, dim=-1)
    expert_mask = F.one_hot(selected_experts, num_experts).to(routing_weights.dtype)
    tokens_per_expert = torch.mean(expert_mask, dim=0)
    router_prob_per_expert = torch.mean(routing_weights, dim=0)
    return torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * num_experts


def router_z_loss(gate_logits):
    """ST-MoE's z-loss over every layer's logits: mean over rows of logsumexp^2."""
    concatenated = torch.cat(list(gate_logits), dim=0)
    return (torch.logsumexp(concatenated, dim=-1) ** 2).mean()


def randomize(module, gen, gate_std):
    """Expert weights N(0, 0.3^2); the router wider (gate_std) so that every top-k choice has a margin."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            std = gate_std if name.endswith('gate.weight') else 0.3
            p.copy_(std * torch.randn(p.shape, generator=gen))


def top_k_margin(logits, k):
    """The smallest gap between a row's k-th and (k+1)-th largest logit (inf for k = E)."""
    if k == logits.shape[-1]:
        return float('inf')
    top = torch.topk(logits, k + 1, dim=-1).values
    return (top[:, k - 1] - top[:, k]).min().item()


BLOCK_CASES = [
    {'name': 'block-mixtral', 'routing': 'topk-softmax', 'kind': 'swiglu', 'activation': 'silu',
     'B': 2, 'T': 5, 'C': 16, 'H': 24, 'E': 4, 'k': 2, 'shared': 0},
    {'name': 'block-switch-gelu-shared', 'routing': 'softmax-topk', 'kind': 'gelu', 'activation': 'gelu',
     'B': 2, 'T': 6, 'C': 12, 'H': 20, 'E': 5, 'k': 2, 'shared': 1},
    {'name': 'block-top1', 'routing': 'softmax-topk', 'kind': 'swiglu', 'activation': 'silu',
     'B': 1, 'T': 9, 'C': 8, 'H': 16, 'E': 3, 'k': 1, 'shared': 0},
]
AUX_COEF, Z_COEF = 0.1, 0.01


def make_block_case(case, gen):
    block = SparseMoeBlock(case['C'], case['H'], case['E'], case['k'], case['activation'], case['kind'] == 'swiglu',
                           case['routing'] == 'topk-softmax', case['shared'])
    for _ in range(20):  # redraw until the float32 router cannot pick differently from float64
        randomize(block, gen, 1.0)
        x = torch.randn(case['B'], case['T'], case['C'], generator=gen)
        margin = top_k_margin(block.gate(x.view(-1, case['C'])).detach(), case['k'])
        if margin > 1e-3:
            break
    else:
        raise SystemExit(f"{case['name']}: no draw with a top-k margin")
    weights = {name: p.detach().float().clone() for name, p in block.named_parameters()}
    block = block.double()
    x = x.double().requires_grad_(True)
    dout = torch.randn(case['B'], case['T'], case['C'], generator=gen, dtype=torch.float64)
    out, logits = block(x)
    balance = load_balancing_loss_func([logits], case['E'], case['k'])
    z = router_z_loss([logits])
    objective = (out * dout).sum() + AUX_COEF * balance + Z_COEF * z
    objective.backward()
    tensors = {'x': x.detach().float(), 'dout': dout.float(), 'out': out.detach().float(),
               'router_logits': logits.detach().float(), 'balance': balance.detach().float().reshape([]),
               'z_loss': z.detach().float().reshape([]), 'grad.x': x.grad.float()}
    for name, p in block.named_parameters():
        tensors['weight.' + name] = weights[name]
        tensors['grad.' + name] = p.grad.float()
    write_safetensors(os.path.join(OUT, case['name'] + '.safetensors'), tensors)
    print(f"{case['name']}: balance {balance.item():.4f}, z {z.item():.4f}, top-k margin {margin:.3g}", file=sys.stderr)
    return {**case, 'file': case['name'] + '.safetensors', 'auxCoef': AUX_COEF, 'zCoef': Z_COEF,
            'parameters': sorted(weights), 'topkMargin': margin}


# ---- MixtralForCausalLM by formula (transformers/models/mixtral/modeling_mixtral.py) ---------

class MixtralDecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = LlamaAttention(c)  # Mixtral's attention is Llama's (GQA, RoPE)
        self.block_sparse_moe = SparseMoeBlock(c['hidden_size'], c['intermediate_size'], c['num_local_experts'],
                                               c['num_experts_per_tok'])
        self.input_layernorm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])
        self.post_attention_layernorm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        moe, router_logits = self.block_sparse_moe(self.post_attention_layernorm(x))
        return x + moe, router_logits


class MixtralModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c['vocab_size'], c['hidden_size'])
        self.layers = nn.ModuleList([MixtralDecoderLayer(c) for _ in range(c['num_hidden_layers'])])
        self.norm = LlamaRMSNorm(c['hidden_size'], c['rms_norm_eps'])

    def forward(self, ids):
        x = self.embed_tokens(ids)
        router_logits = []
        for layer in self.layers:
            x, logits = layer(x)
            router_logits.append(logits)
        return self.norm(x), router_logits


class MixtralForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = MixtralModel(c)
        self.lm_head = nn.Linear(c['hidden_size'], c['vocab_size'], bias=False)

    def forward(self, ids):
        h, router_logits = self.model(ids)
        return self.lm_head(h), router_logits

    def margin(self):
        return min(layer.block_sparse_moe.margin for layer in self.model.layers)


MIXTRAL_CONFIG = {
    'architectures': ['MixtralForCausalLM'], 'model_type': 'mixtral', 'vocab_size': 40, 'hidden_size': 16,
    'intermediate_size': 24, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
    'max_position_embeddings': 16, 'hidden_act': 'silu', 'rms_norm_eps': 1e-5, 'rope_theta': 1e6,
    'sliding_window': None, 'attention_dropout': 0.0, 'initializer_range': 0.02, 'tie_word_embeddings': False,
    'num_local_experts': 4, 'num_experts_per_tok': 2, 'router_aux_loss_coef': 0.02, 'router_jitter_noise': 0.0,
    'output_router_logits': True, 'lmforge_router_z_loss_coef': 0.001,
}


def make_mixtral_fixture(gen, B=2, T=12):
    c = MIXTRAL_CONFIG
    model = MixtralForCausalLM(c)
    for _ in range(20):  # redraw until every layer's top-2 choice has a margin float32 keeps
        randomize_model(model, gen)
        ids = torch.randint(0, c['vocab_size'], (B, T), generator=gen)
        with torch.no_grad():
            model.double()(ids)
        model.float()
        if model.margin() > 1e-3:
            break
    else:
        raise SystemExit('mixtral-tiny: no draw with a top-k margin')
    weights = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    model = model.double()
    targets = torch.randint(0, c['vocab_size'], (B, T), generator=gen)
    logits, router_logits = model(ids)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    balance = load_balancing_loss_func(router_logits, c['num_local_experts'], c['num_experts_per_tok'])
    z = router_z_loss(router_logits)
    loss = ce + c['router_aux_loss_coef'] * balance + c['lmforge_router_z_loss_coef'] * z
    loss.backward()
    folder = os.path.join(OUT, 'mixtral-tiny')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(c, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(folder, 'model.safetensors'), weights)
    debug = {'ids': ids.int(), 'targets': targets.int(), 'logits': logits.float(), 'ce': ce.float().reshape([]),
             'balance': balance.float().reshape([]), 'z_loss': z.float().reshape([]), 'loss': loss.float().reshape([])}
    for key, p in model.named_parameters():
        debug['grad.' + key] = p.grad.float()
    write_safetensors(os.path.join(folder, 'debug.safetensors'), debug)
    print(f'mixtral-tiny: ce {ce.item():.4f}, balance {balance.item():.4f}, z {z.item():.4f}, '
          f'top-k margin {model.margin():.3g}', file=sys.stderr)
    return {'folder': 'mixtral-tiny', 'batch': B, 'time': T, 'parameters': sorted(weights),
            'gradients': sorted(k for k in debug if k.startswith('grad.')), 'topkMargin': model.margin()}


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    blocks = [make_block_case(case, gen) for case in BLOCK_CASES]
    model = make_mixtral_fixture(gen)
    if '--skip-lmforge' not in sys.argv:
        subprocess.run(['npx', 'tsx', 'tools/reference/write_lmforge_mixtral.ts'], cwd=ROOT, check=True)
    reverse = check_lmforge_folder('mixtral', OUT, {'mixtral': MixtralForCausalLM})
    manifest = {
        'generator': 'tools/reference/make_moe_goldens.py',
        'torch': torch.__version__, 'python': platform.python_version(), 'seed': SEED, 'threads': 1,
        'reference': 'HF MixtralSparseMoeBlock (per-expert loop) / Switch routing / shared experts, '
                     'load_balancing_loss_func and the ST-MoE z-loss, computed in float64 from float32 weights',
        'tolerance': {
            'forward': {'atol': 1e-5, 'rtol': 1e-5,
                        'why': 'float32 through two expert projections of width <= 24 with outputs of magnitude ~1; '
                               'the router picks the same experts (top-k margins > 1e-3 in the logits)'},
            'loss': {'atol': 2e-6, 'rtol': 1e-5, 'why': 'means of float32 softmax products over <= 20 rows'},
            'gradients': {'atol': 2e-5, 'rtol': 1e-4,
                          'why': 'float32 backward through the gates, the experts and the router; gradients ~1'},
            'model': {'logits': {'atol': 2e-5, 'rtol': 1e-5}, 'loss': {'atol': 1e-5, 'rtol': 0},
                      'gradients': {'atol': 2e-6, 'rtol': 1e-4},
                      'why': 'as the Llama golden (test/golden/models/manifest.json): float32 through 2 blocks, '
                             'logits ~5, gradients <= ~0.05; every router choice has a margin > 1e-3'},
        },
        'blocks': blocks,
        'model': model,
        'reverse': reverse,
    }
    path = os.path.join(OUT, 'manifest.json')
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    # The repository lints JSON with prettier; format the manifest and config.json files its way.
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', OUT], check=True)
    else:
        print(f'node_modules/.bin/prettier not found: run `npx prettier --write {OUT}`', file=sys.stderr)
    if not reverse['ok']:
        sys.exit(1)


if __name__ == '__main__':
    main()
