#!/usr/bin/python3
"""PyTorch peer for bench/dpo.bench.ts: one DPO training step of a Llama-shaped model
(torch_llama.py) as TRL's DPOTrainer takes it with a frozen reference copy: the reference's
forward under no_grad, the policy's forward of the chosen and rejected sequences
concatenated into one batch (2 P rows), the response log-probabilities (log-softmax,
gather, masked sum over the response tokens), the sigmoid DPO loss (beta 0.1), backward,
global-norm clipping at 1.0, AdamW and zero_grad. Prints one JSON line with the median ms per
step.

Usage: torch_dpo.py --threads N [--dim 288 --layers 6 --heads 6 --hidden 768 --vocab 4096
                    --pairs 4 --time 128 --response 64 --iters 20]
"""
import argparse, json, os, resource, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import Llama  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=2)
for name, default in [("dim", 288), ("layers", 6), ("heads", 6), ("hidden", 768), ("vocab", 4096),
                      ("pairs", 4), ("time", 128), ("response", 64), ("iters", 20)]:
    p.add_argument("--" + name, type=int, default=default)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

policy = Llama(args)
for prm in policy.parameters():
    nn.init.normal_(prm, std=0.02) if prm.dim() > 1 else None
reference = Llama(args)
reference.load_state_dict(policy.state_dict())
for prm in reference.parameters():
    prm.requires_grad_(False)
reference.eval()
opt = torch.optim.AdamW(policy.parameters(), lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0)
# Rows 0..P-1 chosen, P..2P-1 rejected; T + 1 tokens each, the last `response` the response.
tokens = torch.randint(0, args.vocab, (2 * args.pairs, args.time + 1))
ids, targets = tokens[:, :-1], tokens[:, 1:]
mask = torch.zeros(2 * args.pairs, args.time)
mask[:, args.time - args.response:] = 1
beta = 0.1


def logps(model):
    logits = model(ids)  # (2P, T, V)
    per_token = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(2)).squeeze(2)  # (2P, T)
    return (per_token * mask).sum(-1)  # (2P)


def step():
    with torch.no_grad():
        ref = logps(reference)
    pol = logps(policy)
    P = args.pairs
    h = (pol[:P] - ref[:P]) - (pol[P:] - ref[P:])
    loss = -F.logsigmoid(beta * h).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


times = []
for i in range(args.iters + 3):
    t0 = time.perf_counter()
    step()
    if i >= 3:
        times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({
    "ms_per_step": statistics.median(times),
    "params": sum(prm.numel() for prm in policy.parameters()),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "threads": args.threads,
}))
