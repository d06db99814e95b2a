#!/usr/bin/python3
"""PyTorch peer of lmforge's recurrent training step: examples/word_language_model's RNNModel
(nn.Embedding -> nn.LSTM / nn.GRU, time-major -> nn.Linear tied to the embedding), one
training step = forward, mean cross-entropy, backward, clip_grad_norm_(1.0), AdamW
(lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on matrices): the step bench/baselines.bench.ts
times in lmforge, on the same shape and batch. Batches are random ids (the timing does not
depend on them). Prints one JSON line: ms_per_iter_median, tokens_per_s, params.

Usage: torch_lstm.py --cell lstm|gru --vocab V --hidden H --layers L --batch-size B
                     --block-size T --iters N [--threads N]
"""
import argparse, json, os, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--cell", choices=["lstm", "gru"], required=True)
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--hidden", type=int, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--batch-size", type=int, required=True)
p.add_argument("--block-size", type=int, required=True)
p.add_argument("--iters", type=int, default=30)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


class RNNModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(args.vocab, args.hidden)
        self.rnn = (nn.LSTM if args.cell == "lstm" else nn.GRU)(args.hidden, args.hidden, args.layers)
        self.decoder = nn.Linear(args.hidden, args.vocab)
        self.decoder.weight = self.encoder.weight

    def forward(self, ids):
        out, _ = self.rnn(self.encoder(ids).transpose(0, 1))
        return self.decoder(out.transpose(0, 1))


model = RNNModel()
params = list(model.parameters())
decay = [q for q in params if q.dim() >= 2]
rest = [q for q in params if q.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))
B, T = args.batch_size, args.block_size
times = []
for i in range(args.iters + 5):
    x = torch.randint(0, args.vocab, (B, T))
    y = torch.randint(0, args.vocab, (B, T))
    start = time.perf_counter()
    loss = F.cross_entropy(model(x).reshape(B * T, -1), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    if i >= 5:
        times.append((time.perf_counter() - start) * 1000)
ms = statistics.median(times)
print(json.dumps({"ms_per_iter_median": round(ms, 3), "tokens_per_s": round(B * T / (ms / 1000), 1),
                  "params": sum(q.numel() for q in params), "threads": args.threads, "blas_core": blas_env.blas_core()}))
