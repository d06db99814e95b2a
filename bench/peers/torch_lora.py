#!/usr/bin/python3
"""PyTorch peer for bench/lora.bench.ts: one training step (forward, cross-entropy, backward,
global-norm clipping at 1.0, AdamW, zero_grad) of a Llama-shaped model (RMSNorm, RoPE,
multi-head attention composed from matmul + masked softmax + matmul as torch 1.13 has no
fused SDPA, SwiGLU MLP, untied head), float32, either with a hand-written LoRA (PEFT's
y = x W^T + (alpha / r) * (x A^T) B^T on the attention projections, base frozen, AdamW on A
and B only) or fine-tuning every weight. Prints one JSON line: the median ms per step,
optimizer state bytes and peak RSS.

Usage: torch_lora.py --mode lora|full --threads N [--dim 288 --layers 6 --heads 6 --hidden 768
                     --vocab 4096 --batch 8 --time 128 --rank 8 --iters 20]
"""
import argparse, json, math, os, resource, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_llama import Llama  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--mode", choices=["lora", "full"], required=True)
p.add_argument("--threads", type=int, default=2)
for name, default in [("dim", 288), ("layers", 6), ("heads", 6), ("hidden", 768), ("vocab", 4096),
                      ("batch", 8), ("time", 128), ("rank", 8), ("iters", 20)]:
    p.add_argument("--" + name, type=int, default=default)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


class LoraLinear(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(0.01 * torch.randn(base.out_features, r))  # non-zero: a trained adapter
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scale


model = Llama(args)
for prm in model.parameters():
    nn.init.normal_(prm, std=0.02) if prm.dim() > 1 else None
if args.mode == "lora":
    for prm in model.parameters():
        prm.requires_grad_(False)
    for layer in model.layers:
        for name in ("q", "k", "v", "o"):
            setattr(layer, name, LoraLinear(getattr(layer, name), args.rank, 2 * args.rank))
trainable = [prm for prm in model.parameters() if prm.requires_grad]
opt = torch.optim.AdamW(trainable, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
ids = torch.randint(0, args.vocab, (args.batch, args.time))
targets = torch.randint(0, args.vocab, (args.batch, args.time))


def step():
    logits = model(ids)
    loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
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
    "trainable_params": sum(prm.numel() for prm in trainable),
    "params": sum(prm.numel() for prm in model.parameters()),
    "optimizer_state_bytes": sum(s.numel() * s.element_size() for st in opt.state.values() for s in st.values() if torch.is_tensor(s) and s.dim() > 0),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "threads": args.threads,
}))
