#!/usr/bin/python3
"""PyTorch peer of bench/moe.bench.ts: a Mixtral-style model trained with AdamW, timed per step.

The model is the one lmforge's mixtral preset builds for the bench: Llama attention (RMSNorm,
RoPE, causal softmax attention), and in every block HF's MixtralSparseMoeBlock as
transformers implements it: router logits, softmax, top-k, renormalise, then a loop over
the experts that finds each expert's tokens with torch.where, runs w2(silu(w1 x) * w3 x) on
them and index_add_s the gated result back; untied head; the loss is the cross-entropy plus
router_aux_loss_coef * load_balancing_loss_func over every layer's router logits (what
MixtralForCausalLM adds with output_router_logits). Batches are random token ids of the
vocabulary (the step's work does not depend on the text). AdamW as the trainer (decay on
2-D weights), gradient clipping at 1.0.

Prints one JSON line: {"ms_per_iter_median", "params", "iters", "threads", "blas_core", ...}
"""
import argparse, json, math, os, statistics, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "reference"))
import blas_env  # noqa: E402,F401  (fair OpenBLAS kernel and threads; see its README)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--vocab-size", type=int, required=True)
p.add_argument("--n-layer", type=int, default=4)
p.add_argument("--n-head", type=int, default=4)
p.add_argument("--n-embd", type=int, default=128)
p.add_argument("--block-size", type=int, default=64)
p.add_argument("--batch-size", type=int, default=12)
p.add_argument("--experts", type=int, default=8)
p.add_argument("--top-k", type=int, default=2)
p.add_argument("--intermediate-size", type=int, default=256)
p.add_argument("--aux-loss-coef", type=float, default=0.01)
p.add_argument("--iters", type=int, default=40)
p.add_argument("--threads", type=int, default=2)
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(1337)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, C, H, T):
        super().__init__()
        self.H, self.hs = H, C // H
        self.q_proj, self.k_proj = nn.Linear(C, C, bias=False), nn.Linear(C, C, bias=False)
        self.v_proj, self.o_proj = nn.Linear(C, C, bias=False), nn.Linear(C, C, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, self.hs, 2).float() / self.hs))
        emb = torch.cat([torch.outer(torch.arange(T).float(), inv_freq)] * 2, dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        self.register_buffer("mask", torch.ones(T, T, dtype=torch.bool).tril(), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (proj(x).view(B, T, self.H, self.hs).transpose(1, 2) for proj in (self.q_proj, self.k_proj, self.v_proj))
        cos, sin = self.cos[:T], self.sin[:T]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hs))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
        return self.o_proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))


class Expert(nn.Module):  # MixtralBlockSparseTop2MLP
    def __init__(self, C, H):
        super().__init__()
        self.w1, self.w2, self.w3 = nn.Linear(C, H, bias=False), nn.Linear(H, C, bias=False), nn.Linear(C, H, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoeBlock(nn.Module):  # MixtralSparseMoeBlock.forward, as in transformers
    def __init__(self, C, H, E, k):
        super().__init__()
        self.E, self.k = E, k
        self.gate = nn.Linear(C, E, bias=False)
        self.experts = nn.ModuleList([Expert(C, H) for _ in range(E)])

    def forward(self, hidden_states):
        B, T, C = hidden_states.shape
        hidden_states = hidden_states.view(-1, C)
        router_logits = self.gate(hidden_states)
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.k, dim=-1)
        routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(hidden_states.dtype)
        final = torch.zeros((B * T, C), dtype=hidden_states.dtype)
        expert_mask = F.one_hot(selected_experts, num_classes=self.E).permute(2, 1, 0)
        for expert_idx in range(self.E):
            idx, top_x = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[None, top_x].reshape(-1, C)
            current = self.experts[expert_idx](current_state) * routing_weights[top_x, idx, None]
            final.index_add_(0, top_x, current.to(hidden_states.dtype))
        return final.reshape(B, T, C), router_logits


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        C = args.n_embd
        self.input_layernorm, self.post_attention_layernorm = RMSNorm(C), RMSNorm(C)
        self.self_attn = Attention(C, args.n_head, args.block_size)
        self.block_sparse_moe = SparseMoeBlock(C, args.intermediate_size, args.experts, args.top_k)

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        h, logits = self.block_sparse_moe(self.post_attention_layernorm(x))
        return x + h, logits


class Mixtral(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(args.vocab_size, args.n_embd)
        self.layers = nn.ModuleList([Block() for _ in range(args.n_layer)])
        self.norm = RMSNorm(args.n_embd)
        self.lm_head = nn.Linear(args.n_embd, args.vocab_size, bias=False)
        for name, prm in self.named_parameters():
            if prm.dim() == 2:
                nn.init.normal_(prm, std=0.02)

    def forward(self, ids):
        x = self.embed_tokens(ids)
        router_logits = []
        for layer in self.layers:
            x, logits = layer(x)
            router_logits.append(logits)
        return self.lm_head(self.norm(x)), router_logits


def load_balancing_loss_func(gate_logits, num_experts, top_k):  # transformers', no attention mask
    concatenated = torch.cat(list(gate_logits), dim=0)
    routing_weights = F.softmax(concatenated, dim=-1)
    _, selected_experts = torch.topk(routing_weights, top_k, dim=-1)
    expert_mask = F.one_hot(selected_experts, num_experts)
    tokens_per_expert = torch.mean(expert_mask.float(), dim=0)
    router_prob_per_expert = torch.mean(routing_weights, dim=0)
    return torch.sum(tokens_per_expert * router_prob_per_expert.unsqueeze(0)) * num_experts


model = Mixtral()
decay = [t for t in model.parameters() if t.dim() >= 2]
no_decay = [t for t in model.parameters() if t.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99))
times = []
for it in range(args.iters):
    x = torch.randint(args.vocab_size, (args.batch_size, args.block_size))
    y = torch.randint(args.vocab_size, (args.batch_size, args.block_size))
    start = time.perf_counter()
    logits, router_logits = model(x)
    loss = F.cross_entropy(logits.view(-1, args.vocab_size), y.view(-1))
    loss = loss + args.aux_loss_coef * load_balancing_loss_func(router_logits, args.experts, args.top_k)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    times.append((time.perf_counter() - start) * 1000)
steady = times[min(5, len(times) - 1):]
print(json.dumps({
    "reference": "pytorch " + torch.__version__ + ", HF MixtralSparseMoeBlock per-expert loop",
    "blas_core": blas_env.blas_core(),
    "threads": args.threads,
    "iters": args.iters,
    "params": sum(t.numel() for t in model.parameters()),
    "ms_per_iter_median": round(statistics.median(steady), 3),
}))
