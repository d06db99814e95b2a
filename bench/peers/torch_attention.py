#!/usr/bin/python3
"""PyTorch peer for bench/attention.bench.ts: scaled-dot-product attention composed from
matmul + masked softmax + matmul (torch 1.13 has no fused SDPA), forward and
forward+backward, float32. Prints one JSON line with median milliseconds.

With --dropout P the probabilities go through F.dropout (training mode) before @ v.

Usage: torch_attention.py --shape B,nH,T,hs --threads N [--causal] [--dropout P] [--iters N]
"""
import argparse, json, os, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402  (re-executes with the real OpenBLAS kernel and thread count)

import torch  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--shape", required=True)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--iters", type=int, default=20)
p.add_argument("--causal", action="store_true")
p.add_argument("--dropout", type=float, default=0.0)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
B, H, T, hs = (int(v) for v in args.shape.split(","))
q, k, v = (torch.randn(B, H, T, hs, requires_grad=True) for _ in range(3))
mask = torch.triu(torch.full((T, T), float("-inf")), 1) if args.causal else None
dout = torch.randn(B, H, T, hs)


def attention():
    s = q @ k.transpose(-1, -2) * (hs ** -0.5)
    if mask is not None:
        s = s + mask
    probs = torch.softmax(s, -1)
    if args.dropout > 0:
        probs = torch.nn.functional.dropout(probs, args.dropout, training=True)
    return probs @ v


def timed(fn):
    times = []
    for i in range(args.iters + 3):
        t0 = time.perf_counter()
        fn()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def fwd():
    with torch.no_grad():
        attention()


def fwd_bwd():
    attention().backward(dout)


print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "blas_core": blas_env.blas_core(),
                  "threads": args.threads, "dropout": args.dropout, "forward_ms": timed(fwd), "forward_backward_ms": timed(fwd_bwd)}))
