#!/usr/bin/python3
"""The Llama-shaped model of the PyTorch training peers (torch_lora.py, torch_dpo.py): token
embedding, RMSNorm, RoPE, multi-head causal attention composed from matmul + masked softmax +
matmul (torch 1.13 has no fused SDPA), SwiGLU MLP, untied head, float32. `c` holds dim,
layers, heads, hidden, vocab and time (the longest sequence).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def rope(x, cos, sin):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.nh = c.dim, c.heads
        self.hs = d // c.heads
        self.attention_norm, self.ffn_norm = RMSNorm(d), RMSNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
        self.gate, self.up = nn.Linear(d, c.hidden, bias=False), nn.Linear(d, c.hidden, bias=False)
        self.down = nn.Linear(c.hidden, d, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        h = self.attention_norm(x)
        q, k, v = (m(h).view(B, T, self.nh, self.hs).transpose(1, 2) for m in (self.q, self.k, self.v))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        y = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.hs) + mask, -1) @ v
        x = x + self.o(y.transpose(1, 2).reshape(B, T, C))
        h = self.ffn_norm(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed = nn.Embedding(c.vocab, c.dim)
        self.layers = nn.ModuleList(Block(c) for _ in range(c.layers))
        self.norm = RMSNorm(c.dim)
        self.head = nn.Linear(c.dim, c.vocab, bias=False)
        hs = c.dim // c.heads
        inv = 1.0 / (10000 ** (torch.arange(0, hs, 2).float() / hs))
        freqs = torch.outer(torch.arange(c.time).float(), inv)
        emb = torch.cat((freqs, freqs), -1)
        self.cos, self.sin = emb.cos(), emb.sin()
        self.mask = torch.triu(torch.full((c.time, c.time), float("-inf")), 1)

    def forward(self, ids):
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin, self.mask)
        return self.head(self.norm(x))
