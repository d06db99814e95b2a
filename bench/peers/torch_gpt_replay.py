#!/usr/bin/python3
"""PyTorch replay of an lmforge training run: the same GPT-2-style char model and recipe as
../shared/reference/torch_gpt.py (pre-LayerNorm without bias, exact GELU, tied head, AdamW
with decay on 2-D weights, linear warm-up then cosine, clipping at 1.0), but starting from
lmforge's initial weights and fed lmforge's batches, so that the only difference left is
the arithmetic. torch_gpt.py draws its own init and batches, so its val loss differs from
lmforge's by the seed-to-seed spread (about +-0.01); this one should agree to the last
digits if lmforge's training is the same computation.

Inputs (written by bench/train.bench.ts):
  --init FILE      safetensors with HF GPT2LMHeadModel names (Conv1D (in, out) layout)
  --batches FILE   int32 (iters, 2, B, T): inputs then targets of every step (T = --block-size)
Output: one JSON line with the loss on the whole validation split, evaluated the way
src/train/evaluate.ts does it (consecutive blocks, the last one shorter, every token after
the first predicted once).
"""
import argparse, json, math, os, struct, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--init", required=True)
p.add_argument("--batches", required=True)
p.add_argument("--data", required=True)
p.add_argument("--n-head", type=int, required=True)
p.add_argument("--block-size", type=int, required=True)
p.add_argument("--iters", type=int, required=True)
p.add_argument("--lr", type=float, default=1e-3)
p.add_argument("--min-lr", type=float, default=1e-4)
p.add_argument("--warmup", type=int, default=100)
p.add_argument("--beta2", type=float, default=0.99)
p.add_argument("--weight-decay", type=float, default=0.1)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {entry['dtype']}, expected F32")
        begin, end = entry["data_offsets"]
        data = np.frombuffer(raw[8 + n + begin : 8 + n + end], dtype=np.float32).reshape(entry["shape"])
        out[name] = torch.tensor(data.copy())
    return out


P = {k: v.requires_grad_(True) for k, v in read_safetensors(args.init).items()}
V, C = P["transformer.wte.weight"].shape
L = sum(1 for k in P if k.endswith(".ln_1.weight"))
H = args.n_head
T = args.block_size
batches = np.fromfile(args.batches, dtype=np.int32)
if batches.size % (args.iters * 2 * T) != 0:
    sys.exit(f"{args.batches}: {batches.size} ids do not form {args.iters} steps of (2, B, {T})")
batches = torch.tensor(batches.reshape(args.iters, 2, -1, T).astype(np.int64))


def loss_of(x, y, reduction="mean"):
    """x, y (B, T) -> cross-entropy; the same graph as torch_gpt.py's GPT.forward."""
    B, T = x.shape
    h = P["transformer.wte.weight"][x] + P["transformer.wpe.weight"][torch.arange(T)]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    for layer in range(L):
        w = lambda name: P[f"transformer.h.{layer}.{name}.weight"]  # noqa: E731
        q, k, v = (F.layer_norm(h, (C,), w("ln_1"), None, 1e-5) @ w("attn.c_attn")).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        h = h + (att @ v).transpose(1, 2).contiguous().view(B, T, C) @ w("attn.c_proj")
        h = h + F.gelu(F.layer_norm(h, (C,), w("ln_2"), None, 1e-5) @ w("mlp.c_fc")) @ w("mlp.c_proj")
    h = F.layer_norm(h, (C,), P["transformer.ln_f.weight"], None, 1e-5)
    return F.cross_entropy((h @ P["transformer.wte.weight"].t()).view(-1, V), y.reshape(-1), reduction=reduction)


decay = [t for t in P.values() if t.dim() >= 2]
no_decay = [t for t in P.values() if t.dim() < 2]
opt = torch.optim.AdamW(
    [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
    lr=args.lr,
    betas=(0.9, args.beta2),
)


def lr_at(it):  # torch_gpt.py's schedule
    if it < args.warmup:
        return args.lr * (it + 1) / (args.warmup + 1)
    r = (it - args.warmup) / max(1, args.iters - args.warmup)
    return args.min_lr + 0.5 * (1.0 + math.cos(math.pi * min(1.0, r))) * (args.lr - args.min_lr)


for it in range(args.iters):
    for g in opt.param_groups:
        g["lr"] = lr_at(it)
    x, y = batches[it]
    loss = loss_of(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
    opt.step()

text = open(args.data, encoding="utf-8").read()
stoi = {c: i for i, c in enumerate(sorted(set(text)))}
ids = torch.tensor([stoi[c] for c in text], dtype=torch.long)
val = ids[int(0.9 * len(ids)) :]
total = 0.0
with torch.no_grad():
    starts = list(range(0, len(val) - 1, T))
    full = [s for s in starts if s + T + 1 <= len(val)]
    for i in range(0, len(full), 64):
        group = full[i : i + 64]
        x = torch.stack([val[s : s + T] for s in group])
        y = torch.stack([val[s + 1 : s + 1 + T] for s in group])
        total += loss_of(x, y, "sum").item()
    for s in starts[len(full) :]:  # the shorter last block
        n = len(val) - 1 - s
        total += loss_of(val[s : s + n].view(1, n), val[s + 1 : s + 1 + n].view(1, n), "sum").item()
print(json.dumps({
    "reference": "pytorch " + torch.__version__ + " replaying lmforge's init and batches",
    "blas_core": blas_env.blas_core(),
    "train_loss_last": round(loss.item(), 5),
    "val_loss_full": round(total / (len(val) - 1), 5),
}))
