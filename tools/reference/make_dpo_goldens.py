#!/usr/bin/python3
"""Writes test/golden/dpo/dpo.json: DPO, cDPO and IPO losses and their gradients on fixed
log-probabilities, which test/train/dpo.test.ts checks src/train/objectives/dpo.ts against.

The losses are written here from the papers' formulas in PyTorch (float64), not from
lmforge's code. With h = (pi_c - ref_c) - (pi_r - ref_r), the summed log-probabilities of the
chosen (c) and rejected (r) responses under the policy (pi) and the reference (ref):
- DPO (Rafailov et al. 2023, eq. 7):   -logsigmoid(beta h)
- cDPO (Mitchell 2023, TRL's label_smoothing eps): -(1 - eps) logsigmoid(beta h) - eps logsigmoid(-beta h)
- IPO (Azar et al. 2023, eq. 17):      (h - 1 / (2 beta))^2
The batch loss is the mean over pairs; the gradients are those of the mean loss with respect
to the four inputs (the reference's are checked too, although training never needs them).
Rewards are beta (pi - ref) per response. The inputs include a pair with h = 0 (policy equal
to reference: the loss is ln 2 for DPO), large |beta h| (logsigmoid's overflow-free form),
and pairs the policy already ranks the wrong way.

Run: /usr/bin/python3 tools/reference/make_dpo_goldens.py   (torch only; < 1 s)
"""
import json
import math
import os
import platform
import subprocess

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'dpo', 'dpo.json')
SEED = 16

torch.manual_seed(SEED)
torch.set_num_threads(1)

B = 6
policy_chosen = -20 + 8 * torch.randn(B, dtype=torch.float64)
policy_rejected = -20 + 8 * torch.randn(B, dtype=torch.float64)
reference_chosen = policy_chosen + torch.randn(B, dtype=torch.float64)
reference_rejected = policy_rejected + torch.randn(B, dtype=torch.float64)
# Pair 0: policy == reference (h = 0); pair 1: a large h (|beta h| > 30 at beta 1).
reference_chosen[0] = policy_chosen[0]
reference_rejected[0] = policy_rejected[0]
reference_chosen[1] = policy_chosen[1] - 40.0
INPUTS = {
    'policyChosen': policy_chosen,
    'policyRejected': policy_rejected,
    'referenceChosen': reference_chosen,
    'referenceRejected': reference_rejected,
}


def losses_of(kind, beta, eps, pc, pr, rc, rr):
    h = (pc - rc) - (pr - rr)
    if kind == 'sigmoid':
        return -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
    if kind == 'ipo':
        return (h - 1 / (2 * beta)) ** 2
    raise ValueError(kind)


CASES = [
    ('dpo_beta0.1', 'sigmoid', 0.1, 0.0),
    ('dpo_beta1', 'sigmoid', 1.0, 0.0),
    ('cdpo_beta0.1_eps0.2', 'sigmoid', 0.1, 0.2),
    ('ipo_beta0.1', 'ipo', 0.1, 0.0),
    ('ipo_beta0.5', 'ipo', 0.5, 0.0),
]


def main():
    cases = []
    for name, kind, beta, eps in CASES:
        inputs = {k: v.clone().requires_grad_(True) for k, v in INPUTS.items()}
        losses = losses_of(kind, beta, eps, *inputs.values())
        loss = losses.mean()
        grads = torch.autograd.grad(loss, list(inputs.values()))
        with torch.no_grad():
            chosen_rewards = beta * (inputs['policyChosen'] - inputs['referenceChosen'])
            rejected_rewards = beta * (inputs['policyRejected'] - inputs['referenceRejected'])
        case = {
            'name': name,
            'loss': {'kind': kind, 'beta': beta, **({'labelSmoothing': eps} if kind == 'sigmoid' else {})},
            'losses': losses.tolist(),
            'meanLoss': loss.item(),
            'grads': {k: g.tolist() for k, g in zip(inputs.keys(), grads)},
            'chosenRewards': chosen_rewards.tolist(),
            'rejectedRewards': rejected_rewards.tolist(),
        }
        cases.append(case)
    out = {
        'generator': 'tools/reference/make_dpo_goldens.py',
        'seed': SEED,
        'torch': torch.__version__,
        'python': platform.python_version(),
        'dtype': 'float64',
        'tolerance': {
            'abs': 1e-12,
            'rel': 1e-10,
            'reason': 'float64 on both sides; only the order of the mean and logsigmoid form differ',
        },
        'ln2': math.log(2),
        'inputs': {k: v.tolist() for k, v in INPUTS.items()},
        'cases': cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f)
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', OUT], check=True)


if __name__ == '__main__':
    main()
