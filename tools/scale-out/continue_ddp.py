#!/usr/bin/python3
"""Continue training an lmforge (or any Hugging Face) model folder on PyTorch's distributed
engine, then write an HF folder back that lmforge (and transformers) load.

    node bin/lmforge.js tokenize data.txt --tokenizer runs/demo --json > tokens.json
    torchrun --standalone --nproc_per_node 2 --redirects 1 --tee 1 tools/scale-out/continue_ddp.py \\
        --model runs/demo --tokens tokens.json --out runs/demo-ddp --steps 200
    node bin/lmforge.js generate runs/demo-ddp --prompt "music:"

The model is read by its HF names into hand-written torch modules with transformers' math
(tools/scale-out/hf_torch.py: GPT-2, Llama, Mistral, Qwen2, Qwen3), wrapped in
DistributedDataParallel (gloo on CPUs; nccl works the same on GPUs with --backend nccl) and
trained by next-token prediction with AdamW on random windows of the token file, each rank
drawing its own. DDP averages the gradients across ranks every step, so every replica takes
the same step; the script checks at the end that they hold identical weights. Rank 0 writes
--out: model.safetensors (float32), config.json (the input's, torch_dtype float32) and the
tokenizer / generation files copied from --model. See README.md in this folder.

Tokens: a JSON array of ids (what `lmforge tokenize --json` prints) or a .bin file of
uint16 ids (nanoGPT's train.bin). Without torchrun (no RANK in the environment) the script
runs as one process, which is how to check it before launching many.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_torch  # noqa: E402


def fail(message):
    print(f'continue_ddp.py: {message}', file=sys.stderr)
    sys.exit(2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', required=True, help='HF model folder (config.json, model.safetensors, tokenizer.json)')
    p.add_argument('--tokens', required=True, help='token ids: a JSON array, or a .bin file of uint16')
    p.add_argument('--out', required=True, help='folder to write the trained model to')
    p.add_argument('--steps', type=int, default=100, help='optimizer steps (default 100)')
    p.add_argument('--batch-size', type=int, default=8, help='sequences per rank and step (default 8)')
    p.add_argument('--block-size', type=int, default=None, help="tokens per sequence (default: the model's context)")
    p.add_argument('--lr', type=float, default=3e-4, help='peak learning rate (default 3e-4)')
    p.add_argument('--min-lr', type=float, default=None, help='final learning rate of the cosine decay (default lr / 10)')
    p.add_argument('--warmup', type=int, default=0, help='linear warm-up steps (default 0)')
    p.add_argument('--weight-decay', type=float, default=0.1, help='AdamW weight decay on matrices (default 0.1)')
    p.add_argument('--grad-clip', type=float, default=1.0, help='gradient norm clip, 0 for none (default 1.0)')
    p.add_argument('--seed', type=int, default=1337, help='data sampling seed (each rank adds its rank)')
    p.add_argument('--backend', default='gloo', help='torch.distributed backend (gloo for CPUs, nccl for GPUs)')
    p.add_argument('--log-every', type=int, default=10, help='print the loss every N steps (default 10)')
    p.add_argument('--summary', default=None, help='write the run summary as JSON to this file (rank 0)')
    p.add_argument('--logits', default=None,
                   help='write the trained model\'s logits on the first block of tokens to this safetensors file')
    args = p.parse_args()
    for name in ('steps', 'batch_size', 'log_every'):
        if getattr(args, name) < 1:
            fail(f'--{name.replace("_", "-")}: expected an integer >= 1, got {getattr(args, name)}')
    if not args.lr > 0:
        fail(f'--lr: expected a number > 0, got {args.lr}')
    return args


def read_tokens(path, vocab):
    if path.endswith('.bin'):
        import numpy as np  # nanoGPT's format; numpy comes with torch
        ids = torch.from_numpy(np.fromfile(path, dtype=np.uint16).astype(np.int64))
    else:
        with open(path) as f:
            data = json.load(f)
        if not isinstance(data, list) or not all(isinstance(t, int) for t in data):
            fail(f'{path}: expected a JSON array of token ids (lmforge tokenize --json)')
        ids = torch.tensor(data, dtype=torch.int64)
    if ids.numel() == 0 or int(ids.min()) < 0 or int(ids.max()) >= vocab:
        fail(f'{path}: token ids must lie in [0, {vocab}) (the model\'s vocab_size), got '
             f'[{int(ids.min()) if ids.numel() else "-"}, {int(ids.max()) if ids.numel() else "-"}]')
    return ids


def context_of(config):
    return config['n_positions'] if config['model_type'] == 'gpt2' else config.get('max_position_embeddings', 2048)


def lr_at(step, args):
    """Linear warm-up to lr, then cosine decay to min_lr at the last step."""
    min_lr = args.lr / 10 if args.min_lr is None else args.min_lr
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(1, args.steps - args.warmup)
    return min_lr + 0.5 * (args.lr - min_lr) * (1 + math.cos(math.pi * progress))


def main():
    args = parse_args()
    distributed = 'RANK' in os.environ
    if distributed:
        dist.init_process_group(args.backend)
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    torch.manual_seed(args.seed)

    # gloo runs on the CPUs; nccl on one GPU per rank (LOCAL_RANK), as torchrun assigns them.
    device = torch.device(f"cuda:{os.environ.get('LOCAL_RANK', '0')}" if args.backend == 'nccl' else 'cpu')
    model, config = hf_torch.load_folder(args.model)
    model.to(device)
    vocab = config['vocab_size']
    block = args.block_size or context_of(config)
    if not 1 <= block <= context_of(config):
        fail(f'--block-size: expected an integer in [1, {context_of(config)}] (the model\'s context), got {block}')
    tokens = read_tokens(args.tokens, vocab)
    if tokens.numel() < block + 1:
        fail(f'{args.tokens}: {tokens.numel()} tokens, fewer than --block-size + 1 = {block + 1}')

    tokens = tokens.to(device)
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    ddp = (DistributedDataParallel(model, device_ids=[device.index] if device.type == 'cuda' else None)
           if distributed else model)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                                   {'params': rest, 'weight_decay': 0.0}], lr=args.lr, betas=(0.9, 0.95))
    sampler = torch.Generator().manual_seed(args.seed + rank)
    losses = []
    started = time.perf_counter()
    for step in range(args.steps):
        starts = torch.randint(0, tokens.numel() - block, (args.batch_size,), generator=sampler).tolist()
        x = torch.stack([tokens[s:s + block] for s in starts])
        y = torch.stack([tokens[s + 1:s + 1 + block] for s in starts])
        for group in optimizer.param_groups:
            group['lr'] = lr_at(step, args)
        logits = ddp(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # DDP all-reduces (averages) the gradients here
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        mean = loss.detach().clone()
        if distributed:
            dist.all_reduce(mean)
            mean /= world
        losses.append(mean.item())
        if rank == 0 and (step % args.log_every == 0 or step == args.steps - 1):
            print(f'step {step}: loss {losses[-1]:.4f}, lr {lr_at(step, args):.2e}', file=sys.stderr, flush=True)
    seconds = time.perf_counter() - started

    # Every replica must hold the same weights (DDP's promise): compare a checksum of all.
    with torch.no_grad():
        checksum = torch.stack([p.double().sum() for p in model.parameters()]).reshape(1, -1)
    replicas_equal = True
    if distributed:
        gathered = [torch.empty_like(checksum) for _ in range(world)]
        dist.all_gather(gathered, checksum)
        replicas_equal = all(torch.equal(g, gathered[0]) for g in gathered)

    if rank == 0:
        if not replicas_equal:
            fail('the replicas diverged: their weights differ after training')
        hf_torch.save_folder(args.out, model.cpu(), config, args.model)
        if args.logits is not None:
            with torch.no_grad():
                ids = tokens[:block].view(1, -1).cpu()
                hf_torch.write_safetensors(args.logits, {'ids': ids.int(), 'logits': model(ids).float()})
        summary = {'steps': args.steps, 'world_size': world, 'backend': args.backend if distributed else 'none',
                   'batch_size_per_rank': args.batch_size, 'block_size': block, 'first_loss': losses[0],
                   'last_loss': losses[-1], 'losses': losses, 'seconds': seconds,
                   'ms_per_step': 1000 * seconds / args.steps,
                   'tokens_per_s': args.steps * args.batch_size * block * world / seconds,
                   'replicas_equal': replicas_equal, 'out': args.out}
        if args.summary is not None:
            with open(args.summary, 'w') as f:
                json.dump(summary, f)
        print(json.dumps({k: v for k, v in summary.items() if k != 'losses'}), flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
