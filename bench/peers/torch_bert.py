#!/usr/bin/python3
"""PyTorch peer for bench/bert.bench.ts: the same two BERT workloads, float32, timed the same way
(median ms per iteration after warm-up), with the HF-formula modules of
tools/reference/make_bert_goldens.py (the one Python definition of BERT in this repository):

  --workload block  one BertLayer (post-LayerNorm, exact GELU, no padding) forward + backward of a
                    random upstream gradient, parameter gradients zeroed each iteration
  --workload train  BertForMaskedLM training steps: forward, the MLM head and cross-entropy at 15%
                    of the positions (gathered first, as the original BERT and lmforge's
                    masked-LM objective), backward, clip_grad_norm_(1.0), AdamW

Usage: torch_bert.py --workload block|train --hidden C --heads nH --intermediate H --seq T
                     --batch B [--layers L --vocab V] --threads N [--iters N]
Prints one JSON line: {"ms_per_iter": ..., ...}.
"""
import argparse, json, os, statistics, sys, time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402  (re-executes with the real OpenBLAS kernel and thread count)

sys.path.insert(0, os.path.join(here, "..", "..", "tools", "reference"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from make_bert_goldens import BertForMaskedLM, BertLayer  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--workload", choices=["block", "train"], required=True)
p.add_argument("--hidden", type=int, required=True)
p.add_argument("--heads", type=int, required=True)
p.add_argument("--intermediate", type=int, required=True)
p.add_argument("--seq", type=int, required=True)
p.add_argument("--batch", type=int, required=True)
p.add_argument("--layers", type=int, default=1)
p.add_argument("--vocab", type=int, default=8192)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--iters", type=int, default=10)
args = p.parse_args()
torch.set_num_threads(args.threads)  # make_bert_goldens pins 1 thread for its fixtures
torch.manual_seed(0)

config = {
    "vocab_size": args.vocab, "hidden_size": args.hidden, "num_hidden_layers": args.layers,
    "num_attention_heads": args.heads, "intermediate_size": args.intermediate, "hidden_act": "gelu",
    "max_position_embeddings": args.seq, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
}
B, T, C = args.batch, args.seq, args.hidden
no_padding = torch.zeros(B, 1, 1, T)  # the additive attention mask of a batch without padding


def timed(step):
    times = []
    for i in range(args.iters + 2):  # two warm-up iterations
        start = time.perf_counter()
        step()
        if i >= 2:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def init(model):
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" not in name:
                param.normal_(0, 0.02) if name.endswith("weight") else param.zero_()


if args.workload == "block":
    layer = BertLayer(config)
    init(layer)
    x = torch.randn(B, T, C, requires_grad=True)
    dout = torch.randn(B, T, C)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x, no_padding).backward(dout)
else:
    model = BertForMaskedLM(config)
    init(model)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=1e-4, betas=(0.9, 0.99), eps=1e-8)
    ids = torch.randint(5, args.vocab, (B, T))
    masked = (torch.rand(B * T) < 0.15).nonzero().squeeze(1)  # flat positions b * T + t
    targets = ids.reshape(-1)[masked]
    types = torch.zeros(B, T, dtype=torch.int64)

    def step():
        hidden = model.bert.encoder(model.bert.embeddings(ids, types), no_padding)
        # The head at the masked positions only (the original BERT's gather_indexes).
        logits = model.cls.predictions(hidden.reshape(B * T, C)[masked])
        loss = F.cross_entropy(logits, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "blas_core": blas_env.blas_core(),
                  "threads": args.threads, "workload": args.workload, "ms_per_iter": timed(step)}))
