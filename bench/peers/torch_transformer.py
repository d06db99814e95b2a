#!/usr/bin/python3
"""PyTorch peer of bench/marian.bench.ts: an encoder-decoder training step of the same shape,
built on torch.nn.Transformer (post-norm, ReLU, batch-first), with a shared token embedding
scaled by sqrt(d_model), Marian's sinusoidal positions, the head tied to the embedding, the
label-smoothed cross-entropy (0.1, ignore_index -100), the source padding mask and the
causal target mask, global-norm clipping at 1.0 and AdamW (decay on 2-D weights).

One difference of structure, left as torch has it: nn.Transformer ends both stacks in a
LayerNorm (encoder_norm, decoder_norm), which Marian's post-norm stacks do not have: a
LayerNorm over (B, T, C) twice per step, a small share of the work.

Random ids, every row full length (the masks are passed all the same, as a padded batch
would pass them). Prints one JSON line: {"ms_per_iter_median", "iters", "params", "threads"}.
"""
import argparse, json, math, os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--vocab", type=int, required=True)
p.add_argument("--d-model", type=int, required=True)
p.add_argument("--heads", type=int, required=True)
p.add_argument("--layers", type=int, required=True)
p.add_argument("--ffn", type=int, required=True)
p.add_argument("--batch", type=int, required=True)
p.add_argument("--source-length", type=int, required=True)
p.add_argument("--target-length", type=int, required=True)
p.add_argument("--iters", type=int, required=True)
p.add_argument("--warmup-iters", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def marian_sinusoid(n_pos, dim):
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim)
    half = dim // 2
    out[:, :half] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, half:] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


class Seq2seq(nn.Module):
    def __init__(self):
        super().__init__()
        C = args.d_model
        self.embed = nn.Embedding(args.vocab, C, padding_idx=0)
        nn.init.normal_(self.embed.weight, 0, C ** -0.5)
        self.register_buffer("positions", marian_sinusoid(max(args.source_length, args.target_length), C))
        self.transformer = nn.Transformer(C, args.heads, args.layers, args.layers, args.ffn, dropout=0.0,
                                          activation="relu", batch_first=True, norm_first=False)
        self.scale = math.sqrt(C)

    def forward(self, source, source_pad, target_in):
        S, T = source.shape[1], target_in.shape[1]
        src = self.embed(source) * self.scale + self.positions[:S]
        tgt = self.embed(target_in) * self.scale + self.positions[:T]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        y = self.transformer(src, tgt, tgt_mask=causal, src_key_padding_mask=source_pad,
                             memory_key_padding_mask=source_pad)
        return y @ self.embed.weight.t()


model = Seq2seq()
params = sum(t.numel() for t in model.parameters())
decay = [t for t in model.parameters() if t.dim() >= 2]
no_decay = [t for t in model.parameters() if t.dim() < 2]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=1e-3, betas=(0.9, 0.99), eps=1e-8)
B, S, T = args.batch, args.source_length, args.target_length
gen = torch.Generator().manual_seed(1)
times = []
for it in range(args.warmup_iters + args.iters):
    source = torch.randint(3, args.vocab, (B, S), generator=gen)
    labels = torch.randint(3, args.vocab, (B, T), generator=gen)
    target_in = torch.cat([torch.zeros(B, 1, dtype=torch.long), labels[:, :-1]], dim=1)
    source_pad = torch.zeros(B, S, dtype=torch.bool)  # True marks padding: none here
    start = time.perf_counter()
    logits = model(source, source_pad, target_in)
    loss = F.cross_entropy(logits.reshape(-1, args.vocab), labels.reshape(-1), ignore_index=-100,
                           label_smoothing=0.1)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if it >= args.warmup_iters:
        times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"ms_per_iter_median": float(np.median(times)), "iters": args.iters, "params": params,
                  "threads": args.threads, "final_loss": loss.item()}))
