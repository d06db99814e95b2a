#!/usr/bin/python3
"""Golden fixtures for lmforge's recurrent language models (src/models/rnn): PyTorch's own
nn.LSTM and nn.GRU inside examples/word_language_model's RNNModel (nn.Embedding -> dropout ->
nn.LSTM / nn.GRU -> dropout -> nn.Linear, optionally tied), so the gate orders (i, f, g, o and
r, z, n), the two biases and the GRU's b_hn inside the reset gate are PyTorch's, not a
re-derivation.

  lstm_tied   2-layer LSTM, embedding 8 = hidden 8, head tied to the embedding
  gru_untied  2-layer GRU, embedding 6, hidden 8, its own head

Each test/golden/rnn/<case>/ is a model folder lmforge loads: config.json (model_type
lmforge-lstm / lmforge-gru, the keys of src/models/rnn/hf.ts) and model.safetensors holding
model.state_dict() as PyTorch writes it (a tied head's decoder.weight included: PyTorch keeps
both names). debug.safetensors holds `ids`, `targets` (B, T) I64, `logits` (B, T, V), `loss`
(mean cross-entropy), `grad.<param>` for every parameter, `h_n` (and `c_n`) (L, B, H), the
state after the sequence, and `step<k>.<param>` after each of 3 torch.optim.AdamW steps
(lr 1e-2, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on parameters with ndim >= 2,
lmforge's policy), with `losses` before each step.

The reference runs in float64 from float32 weights (as make_model_goldens.py): the fixtures
are the exact answer rounded to float32, and the test's tolerance is lmforge's own float32
error (test/golden/rnn/manifest.json says how much and why). Dropout is off.

Run: /usr/bin/python3 tools/reference/make_rnn_goldens.py   (torch 1.13, CPU, ~1 s)
"""
import json
import os
import platform
import subprocess
import sys

import numpy
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import write_safetensors  # noqa: E402  (the one safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'rnn')
SEED = 2121
B, T, V, L = 2, 5, 11, 2
torch.set_num_threads(1)


class RNNModel(nn.Module):
    """examples/word_language_model/model.py's RNNModel (LSTM/GRU branch), batch-first at the edges."""

    def __init__(self, cell, ninp, nhid, tie):
        super().__init__()
        self.encoder = nn.Embedding(V, ninp)
        self.rnn = (nn.LSTM if cell == 'lstm' else nn.GRU)(ninp, nhid, L)
        self.decoder = nn.Linear(nhid, V)
        if tie:
            self.decoder.weight = self.encoder.weight
        # word_language_model's init_weights: U(-0.1, 0.1) embedding and head, zero head bias.
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        if not tie:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, ids, state=None):
        x = self.encoder(ids).transpose(0, 1)  # (T, B, C): nn.LSTM is time-major by default
        out, state = self.rnn(x, state)
        return self.decoder(out.transpose(0, 1)), state  # (B, T, V)


def case(name, cell, ninp, nhid, tie, gen):
    torch.manual_seed(SEED + len(name))
    model = RNNModel(cell, ninp, nhid, tie)
    weights = {k: v.detach().clone() for k, v in model.state_dict().items()}  # float32, both tied names
    model = model.double()
    ids = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    logits, state = model(ids)
    loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
    params = dict(model.named_parameters())  # a tied weight appears once, as encoder.weight
    grads = torch.autograd.grad(loss, list(params.values()))
    debug = {'ids': ids, 'targets': targets, 'logits': logits.float(), 'loss': loss.float().reshape(())}
    for (n, _), g in zip(params.items(), grads):
        debug[f'grad.{n}'] = g.float()
    h_n = state[0] if cell == 'lstm' else state
    debug['h_n'] = h_n.float()
    if cell == 'lstm':
        debug['c_n'] = state[1].float()
    decay = [p for p in params.values() if p.ndim >= 2]
    rest = [p for p in params.values() if p.ndim < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}],
                            lr=1e-2, betas=(0.9, 0.99), eps=1e-8)
    losses = []
    for step in range(1, 4):
        opt.zero_grad()
        logits, _ = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        losses.append(loss.item())
        loss.backward()
        opt.step()
        for n, p in params.items():
            debug[f'step{step}.{n}'] = p.detach().float()
    debug['losses'] = torch.tensor(losses, dtype=torch.float32)

    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    config = {
        'architectures': ['LmforgeLstmForCausalLM' if cell == 'lstm' else 'LmforgeGruForCausalLM'],
        'model_type': f'lmforge-{cell}',
        'vocab_size': V,
        'embedding_size': ninp,
        'hidden_size': nhid,
        'num_hidden_layers': L,
        'dropout': 0.0,
        'tie_word_embeddings': tie,
        'max_position_embeddings': 64,
        'initializer_range': 0.1,
        'torch_dtype': 'float32',
    }
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(folder, 'model.safetensors'), weights)
    write_safetensors(os.path.join(folder, 'debug.safetensors'), debug)
    return {'folder': name, 'cell': cell, 'parameters': list(params), 'stored': sorted(weights)}


def main():
    gen = torch.Generator().manual_seed(SEED)
    cases = [case('lstm_tied', 'lstm', 8, 8, True, gen), case('gru_untied', 'gru', 6, 8, False, gen)]
    manifest = {
        'comment': 'written by tools/reference/make_rnn_goldens.py; see its header',
        'seed': SEED,
        'versions': {'torch': torch.__version__, 'numpy': numpy.__version__, 'python': platform.python_version()},
        'shape': {'B': B, 'T': T, 'V': V, 'L': L},
        'cases': cases,
        'tolerance': {
            'logits': {'atol': 2e-6, 'reason': 'float32 over 2 layers x 5 steps of unit-scale gates; the reference is float64'},
            'gradients': {'atol': 2e-6, 'rtol': 1e-4,
                          'reason': 'float32 backward through time, 5 steps; gradients ~1e-2 of a mean loss'},
            'steps': {'atol': 1e-5,
                      'reason': 'AdamW moves each weight by ~lr = 1e-2 a step; float32 m/v and the update rounding'},
            'state': {'atol': 2e-6, 'reason': 'as the logits'},
        },
    }
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', os.path.join(OUT, 'manifest.json')] +
                       [os.path.join(OUT, c['folder'], 'config.json') for c in cases], check=True, stdout=subprocess.DEVNULL)
    print(f'wrote {OUT}: {[c["folder"] for c in cases]}')


if __name__ == '__main__':
    main()
