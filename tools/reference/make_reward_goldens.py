#!/usr/bin/python3
"""Golden fixtures for lmforge's reward modelling (src/train/objectives/reward.ts), written
from the formula of InstructGPT's reward loss (Ouyang et al. 2022, eq. 1) with Llama 2's margin:

    loss = mean_i -log sigmoid(r_chosen_i - r_rejected_i - margin_i)      (F.logsigmoid)

test/golden/reward/bradley-terry.safetensors: the loss of fixed scores (float64 reference
from float32 inputs; differences from -40 to 40, so a naive log(sigmoid) would overflow, and
one exact 0) and its gradients with respect to both score vectors.

test/golden/reward/gpt2-tiny-reward.safetensors: GPT2ForSequenceClassification (num_labels 1,
no score bias) on make_model_goldens.py's gpt2-tiny weights with a seeded `score.weight`:
two pairs of different lengths, right-padded (the score is read at each row's last real
token, as HF does with pad_token_id), their rewards, the loss, and the gradients of
score.weight and a few body parameters.

Run: /usr/bin/python3 tools/reference/make_reward_goldens.py   (torch 1.13, CPU, < 1 s)
"""
import json
import os
import platform
import subprocess
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_model_goldens as ref  # noqa: E402  (the tiny GPT-2 reference and safetensors I/O)

OUT = os.path.join(ref.ROOT, 'test', 'golden', 'reward')
SEED = 2468
GRADS = ['score.weight', 'transformer.wte.weight', 'transformer.h.0.attn.c_attn.weight', 'transformer.ln_f.weight']


def bradley_terry(chosen, rejected, margin):
    return -F.logsigmoid(chosen - rejected - margin).mean()


def loss_fixture(gen):
    chosen = torch.randn(12, generator=gen) * 3
    rejected = torch.randn(12, generator=gen) * 3
    chosen[0], rejected[0] = 40.0, -0.5     # d = 40.5: log(sigmoid) fine, log(1 + e^-d) underflows
    chosen[1], rejected[1] = -20.0, 20.0    # d = -40: sigmoid(d) = 4e-18, a naive log gives -inf in float32
    chosen[2], rejected[2] = 1.25, 1.25     # d = 0: loss ln 2, gradient -1/2 exactly
    margin = torch.rand(12, generator=gen) * 2
    margin[2] = 0.0
    c = chosen.double().requires_grad_()
    r = rejected.double().requires_grad_()
    loss = bradley_terry(c, r, margin.double())
    loss.backward()
    ref.write_safetensors(os.path.join(OUT, 'bradley-terry.safetensors'), {
        'chosen': chosen, 'rejected': rejected, 'margin': margin, 'loss': loss.float().reshape([]),
        'grad.chosen': c.grad.float(), 'grad.rejected': r.grad.float(),
    })
    return loss.item()


def model_fixture(gen):
    folder = os.path.join(ref.OUT, 'gpt2-tiny')
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    body = ref.GPT2Model(config)
    weights = ref.read_safetensors(os.path.join(folder, 'model.safetensors'))
    body.load_state_dict({k[len('transformer.'):]: v for k, v in weights.items()})
    body = body.double()
    score = torch.nn.Parameter(0.3 * torch.randn(1, config['n_embd'], generator=gen).double())
    pad = 0
    lengths = {'chosen': [9, 5], 'rejected': [6, 11]}
    T = 11
    ids = {}
    for side, ls in lengths.items():
        rows = torch.full((2, T), pad, dtype=torch.int64)
        for b, n in enumerate(ls):
            rows[b, :n] = torch.randint(1, config['vocab_size'], (n,), generator=gen)
        ids[side] = rows
    margin = torch.tensor([0.0, 0.75])

    def rewards(side):
        h = body(ids[side])                          # (B, T, C); causal: padding after a row's end changes nothing before it
        last = torch.tensor(lengths[side]) - 1
        return (h[torch.arange(2), last] @ score.t()).squeeze(-1)   # (B)

    r_chosen, r_rejected = rewards('chosen'), rewards('rejected')
    loss = bradley_terry(r_chosen, r_rejected, margin.double())
    loss.backward()
    named = {'transformer.' + k: p for k, p in body.named_parameters()}
    named['score.weight'] = score
    tensors = {
        'chosen_ids': ids['chosen'], 'rejected_ids': ids['rejected'],
        'chosen_lengths': torch.tensor(lengths['chosen']), 'rejected_lengths': torch.tensor(lengths['rejected']),
        'margin': margin, 'score.weight': score.detach().float(),
        'rewards_chosen': r_chosen.detach().float(), 'rewards_rejected': r_rejected.detach().float(),
        'loss': loss.detach().float().reshape([]),
    }
    for name in GRADS:
        tensors['grad.' + name] = named[name].grad.float()
    ref.write_safetensors(os.path.join(OUT, 'gpt2-tiny-reward.safetensors'), tensors)
    return loss.item()


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    manifest = {
        'generator': 'tools/reference/make_reward_goldens.py',
        'torch': torch.__version__,
        'python': platform.python_version(),
        'seed': SEED,
        'formula': 'mean -log sigmoid(r_chosen - r_rejected - margin)',
        'cases': {
            'bradley-terry': {'file': 'bradley-terry.safetensors', 'loss': loss_fixture(gen),
                              'tolerance': {'rtol': 1e-5, 'atol': 1e-6,
                                            'reason': 'float32 scores; the reference is float64'}},
            'gpt2-tiny-reward': {'file': 'gpt2-tiny-reward.safetensors', 'base': 'models/gpt2-tiny',
                                 'pad_token_id': 0, 'loss': model_fixture(gen), 'gradients': GRADS,
                                 'tolerance': {'rtol': 1e-4, 'atol': 1e-5,
                                               'reason': 'a float32 forward and backward through two blocks vs float64'}},
        },
    }
    path = os.path.join(OUT, 'manifest.json')
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    # The repository lints JSON with prettier (as make_goldens.py does).
    prettier = os.path.join(ref.ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', path], check=True)


if __name__ == '__main__':
    main()
