#!/usr/bin/python3
"""Golden fixtures for lmforge's BERT family and the classification heads: tiny models written
by hand in plain PyTorch with Hugging Face's formulas, attribute names and state-dict keys
(modeling_bert.py, modeling_gpt2.py, modeling_llama.py; transformers itself is not installed).

Forward direction (PyTorch -> lmforge), test/golden/bert/<case>/:
  config.json        HF config (BertConfig / GPT2Config / LlamaConfig fields, `architectures`)
  model.safetensors  the weights under their HF state-dict keys (a loadable HF model folder)
  debug.safetensors  the batch (ids, attention_mask, token_type_ids, labels), logits, loss and
                     grad.<key> for every parameter

  bert-mlm      BertForMaskedLM: post-LayerNorm, a padded batch (attention_mask) with token
                types, labels -100 but on a few positions; its model.safetensors also holds what
                older HF checkpoints carry and loading must skip: the tied copy
                cls.predictions.decoder.weight, cls.predictions.decoder.bias (= cls.predictions.bias)
                and the position_ids / token_type_ids buffers
  bert-mlm-pre  the same model with pre-norm placement (lmforge_norm_placement 'pre': x += f(LN(x)),
                a final bert.encoder.LayerNorm); not an HF architecture, the formula is lmforge's
  bert-seqcls   BertForSequenceClassification: pooler (tanh dense on [CLS]) + classifier, 3 labels
  bert-tokcls   BertForTokenClassification: classifier on every position, 5 labels, -100 on padding
  gpt2-seqcls   GPT2ForSequenceClassification: score (no bias) at each row's last non-pad token
  llama-seqcls  LlamaForSequenceClassification: the same on a Llama body

Reverse direction (lmforge -> PyTorch): runs tools/reference/write_lmforge_bert_models.ts, which
saves seeded lmforge models with saveModelFolder() into test/golden/bert/from-lmforge/<name>/
with a batch and lmforge's own logits (expected.safetensors); this script loads each folder by
HF names into the reference (strictly: no missing or unexpected key) and stores the reference's
logits beside them (pytorch.safetensors), which test/models/bert/golden.test.ts compares with
lmforge's. The verdicts go into test/golden/bert/manifest.json; a mismatch exits 1.

Run: /usr/bin/python3 tools/reference/make_bert_goldens.py   (torch 1.13, CPU, a few seconds;
     --skip-lmforge reuses the committed from-lmforge folders instead of rewriting them)

The reference computes in float64 from the float32 weights, so the fixtures hold the exact answer
(rounded to float32) and a test's error budget is lmforge's own float32 error. Dropout is off.
"""
import json
import math
import os
import platform
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_goldens import (  # noqa: E402  (the one safetensors writer and the decoder references)
    ACT, GPT2Model, LlamaModel, read_safetensors, write_safetensors)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'bert')
SEED = 2024
torch.set_num_threads(1)

# ---- BertForMaskedLM / ForSequenceClassification / ForTokenClassification (modeling_bert.py) ----


class BertEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c['hidden_size']
        self.word_embeddings = nn.Embedding(c['vocab_size'], C)
        self.position_embeddings = nn.Embedding(c['max_position_embeddings'], C)
        self.token_type_embeddings = nn.Embedding(c['type_vocab_size'], C)
        self.LayerNorm = nn.LayerNorm(C, eps=c['layer_norm_eps'])

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[1])
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c['hidden_size']
        self.n_head = c['num_attention_heads']
        self.query = nn.Linear(C, C)
        self.key = nn.Linear(C, C)
        self.value = nn.Linear(C, C)

    def forward(self, x, extended_mask):
        B, T, C = x.shape
        hs = C // self.n_head

        def heads(t):
            return t.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nH, T, hs)

        scores = heads(self.query(x)) @ heads(self.key(x)).transpose(-1, -2) / math.sqrt(hs)
        probs = (scores + extended_mask).softmax(-1)  # (B, nH, T, T)
        return (probs @ heads(self.value(x))).transpose(1, 2).reshape(B, T, C)


class BertDenseNorm(nn.Module):
    """BertSelfOutput / BertOutput: `dense` and the LayerNorm of the residual sum."""

    def __init__(self, n_in, c):
        super().__init__()
        self.dense = nn.Linear(n_in, c['hidden_size'])
        self.LayerNorm = nn.LayerNorm(c['hidden_size'], eps=c['layer_norm_eps'])


class BertAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = BertSelfAttention(c)
        self.output = BertDenseNorm(c['hidden_size'], c)


class BertIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c['hidden_size'], c['intermediate_size'])


class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = BertAttention(c)
        self.intermediate = BertIntermediate(c)
        self.output = BertDenseNorm(c['intermediate_size'], c)
        self.act = ACT[c['hidden_act']]
        self.pre = c.get('lmforge_norm_placement', 'post') == 'pre'

    def forward(self, x, extended_mask):
        attention, out = self.attention, self.output
        if self.pre:  # lmforge's pre-norm placement: x + f(LN(x)) with the same norms
            x = x + attention.output.dense(attention.self(attention.output.LayerNorm(x), extended_mask))
            h = out.LayerNorm(x)
            return x + out.dense(self.act(self.intermediate.dense(h)))
        # BertSelfOutput: LayerNorm(dense(a) + x); BertIntermediate; BertOutput: LayerNorm(dense(m) + h).
        h = attention.output.LayerNorm(attention.output.dense(attention.self(x, extended_mask)) + x)
        return out.LayerNorm(out.dense(self.act(self.intermediate.dense(h))) + h)


class BertEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(c) for _ in range(c['num_hidden_layers'])])
        if c.get('lmforge_norm_placement', 'post') == 'pre':
            self.LayerNorm = nn.LayerNorm(c['hidden_size'], eps=c['layer_norm_eps'])

    def forward(self, x, extended_mask):
        for layer in self.layer:
            x = layer(x, extended_mask)
        return self.LayerNorm(x) if hasattr(self, 'LayerNorm') else x


class BertPooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c['hidden_size'], c['hidden_size'])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c, add_pooling_layer):
        super().__init__()
        self.embeddings = BertEmbeddings(c)
        self.encoder = BertEncoder(c)
        self.pooler = BertPooler(c) if add_pooling_layer else None

    def forward(self, ids, mask, types):
        # get_extended_attention_mask: (1 - mask) * finfo.min added to every query's scores.
        extended = (1.0 - mask[:, None, None, :].to(torch.float64)) * torch.finfo(torch.float64).min
        return self.encoder(self.embeddings(ids, types), extended)


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c['hidden_size'], c['hidden_size'])
        self.LayerNorm = nn.LayerNorm(c['hidden_size'], eps=c['layer_norm_eps'])
        self.act = ACT[c['hidden_act']]

    def forward(self, x):
        return self.LayerNorm(self.act(self.dense(x)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.transform = BertPredictionHeadTransform(c)
        self.decoder = nn.Linear(c['hidden_size'], c['vocab_size'], bias=False)
        self.bias = nn.Parameter(torch.zeros(c['vocab_size']))

    def forward(self, x):
        return self.decoder(self.transform(x)) + self.bias


class BertOnlyMLMHead(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.predictions = BertLMPredictionHead(c)


class BertForMaskedLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(c)
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight  # tied

    def forward(self, ids, mask, types):
        return self.cls.predictions(self.bert(ids, mask, types))


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=True)
        self.classifier = nn.Linear(c['hidden_size'], c['num_labels'])

    def forward(self, ids, mask, types):
        return self.classifier(self.bert.pooler(self.bert(ids, mask, types)))


class BertForTokenClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = BertModel(c, add_pooling_layer=False)
        self.classifier = nn.Linear(c['hidden_size'], c['num_labels'])

    def forward(self, ids, mask, types):
        return self.classifier(self.bert(ids, mask, types))


# ---- GPT2ForSequenceClassification / LlamaForSequenceClassification -------------------------


def last_non_pad(ids, pad_token_id):
    """HF's rule: the rightmost token that is not pad_token_id (left and right padding alike)."""
    non_pad = (ids != pad_token_id).int()
    return (torch.arange(ids.shape[1]) * non_pad).argmax(-1)


class DecoderForSequenceClassification(nn.Module):
    def __init__(self, c, body_name, body):
        super().__init__()
        setattr(self, body_name, body)
        self.body_name = body_name
        width = c.get('n_embd', c.get('hidden_size'))
        self.score = nn.Linear(width, c['num_labels'], bias=False)
        self.pad_token_id = c['pad_token_id']

    def forward(self, ids, mask, types):
        del mask, types  # right padding: a causal model's last real token never sees the pads
        logits = self.score(getattr(self, self.body_name)(ids))  # (B, T, L)
        return logits[torch.arange(ids.shape[0]), last_non_pad(ids, self.pad_token_id)]  # (B, L)


def gpt2_seqcls(c):
    return DecoderForSequenceClassification(c, 'transformer', GPT2Model(c))


def llama_seqcls(c):
    return DecoderForSequenceClassification(c, 'model', LlamaModel(c))


ARCH = {
    'BertForMaskedLM': BertForMaskedLM,
    'BertForSequenceClassification': BertForSequenceClassification,
    'BertForTokenClassification': BertForTokenClassification,
    'GPT2ForSequenceClassification': gpt2_seqcls,
    'LlamaForSequenceClassification': llama_seqcls,
}

# ---- fixtures --------------------------------------------------------------------------------

PAD, CLS, SEP, MASK = 0, 2, 3, 4
B, T = 2, 8
LENGTHS = [8, 5]  # row 1 is right-padded


def labels_config(names):
    return {'num_labels': len(names), 'id2label': {str(i): n for i, n in enumerate(names)},
            'label2id': {n: i for i, n in enumerate(names)}}


BERT_CONFIG = {
    'model_type': 'bert', 'vocab_size': 50, 'hidden_size': 32, 'num_hidden_layers': 2,
    'num_attention_heads': 4, 'intermediate_size': 64, 'hidden_act': 'gelu', 'hidden_dropout_prob': 0.0,
    'attention_probs_dropout_prob': 0.0, 'classifier_dropout': None, 'max_position_embeddings': 16,
    'type_vocab_size': 2, 'initializer_range': 0.02, 'layer_norm_eps': 1e-12, 'pad_token_id': PAD,
    'position_embedding_type': 'absolute',
}
CASES = {
    'bert-mlm': {**BERT_CONFIG, 'architectures': ['BertForMaskedLM']},
    'bert-mlm-pre': {**BERT_CONFIG, 'architectures': ['BertForMaskedLM'], 'lmforge_norm_placement': 'pre'},
    'bert-seqcls': {**BERT_CONFIG, 'architectures': ['BertForSequenceClassification'],
                    **labels_config(['negative', 'neutral', 'positive']),
                    'problem_type': 'single_label_classification'},
    'bert-tokcls': {**BERT_CONFIG, 'architectures': ['BertForTokenClassification'],
                    **labels_config(['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'])},
    'gpt2-seqcls': {
        'architectures': ['GPT2ForSequenceClassification'], 'model_type': 'gpt2', 'vocab_size': 50,
        'n_positions': 16, 'n_embd': 32, 'n_layer': 2, 'n_head': 4, 'n_inner': None,
        'activation_function': 'gelu_new', 'resid_pdrop': 0.0, 'embd_pdrop': 0.0, 'attn_pdrop': 0.0,
        'layer_norm_epsilon': 1e-5, 'initializer_range': 0.02, 'tie_word_embeddings': True,
        'pad_token_id': PAD, **labels_config(['spam', 'ham', 'eggs'])},
    'llama-seqcls': {
        'architectures': ['LlamaForSequenceClassification'], 'model_type': 'llama', 'vocab_size': 50,
        'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2, 'num_attention_heads': 4,
        'num_key_value_heads': 2, 'max_position_embeddings': 16, 'hidden_act': 'silu', 'rms_norm_eps': 1e-5,
        'rope_theta': 10000.0, 'attention_bias': False, 'mlp_bias': False, 'initializer_range': 0.02,
        'tie_word_embeddings': False, 'pad_token_id': PAD, **labels_config(['a', 'b'])},
}


def randomize(model, gen):
    """Weights large enough that logits and gradients are far from uniform or zero (a test that
    can fail): matrices N(0, 0.15^2), embeddings N(0, 0.3^2), biases N(0, 0.05^2), norm gains
    1 + N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            norm = 'LayerNorm' in name or 'ln_' in name or 'layernorm' in name or name == 'model.norm.weight'
            if norm and name.endswith('weight'):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith('bias'):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif 'embed' in name or 'wte' in name or 'wpe' in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))


def batch(gen, config):
    """A right-padded batch: [CLS] tokens.. [SEP] [PAD]..; segment 1 on the second half of the
    real tokens (BERT); no pad id inside a sequence."""
    V = config['vocab_size']
    ids = torch.full((B, T), PAD, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    types = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        ids[b, :n] = torch.randint(5, V, (n,), generator=gen)
        if config['model_type'] == 'bert':
            ids[b, 0], ids[b, n - 1] = CLS, SEP
            types[b, n // 2:n] = 1
        mask[b, :n] = 1
    return ids, mask, types


def task_labels(gen, config, logits_shape):
    """MLM: a target on 2 positions per row, -100 elsewhere; token classification: a label on
    every real token, -100 on padding; sequence classification: one label per row."""
    arch = config['architectures'][0]
    if arch == 'BertForMaskedLM':
        labels = torch.full((B, T), -100, dtype=torch.int64)
        for b, positions in enumerate([[1, 6], [2, 3]]):
            for t in positions:
                labels[b, t] = int(torch.randint(0, config['vocab_size'], (1,), generator=gen))
        return labels
    n = config['num_labels']
    if arch == 'BertForTokenClassification':
        labels = torch.randint(0, n, (B, T), generator=gen)
        for b, length in enumerate(LENGTHS):
            labels[b, length:] = -100
        return labels
    return torch.randint(0, n, (B,), generator=gen)


def hf_state_dict(name, model):
    """What HF writes for the case: the state dict without tied duplicates, and for bert-mlm
    what older checkpoints also hold (see the header)."""
    sd = {k: v.float() for k, v in model.state_dict().items()}
    if 'cls.predictions.decoder.weight' in sd and name != 'bert-mlm':
        sd.pop('cls.predictions.decoder.weight')
    if name == 'bert-mlm':
        sd['cls.predictions.decoder.bias'] = sd['cls.predictions.bias'].clone()
        sd['bert.embeddings.position_ids'] = torch.arange(BERT_CONFIG['max_position_embeddings'])[None]
        sd['bert.embeddings.token_type_ids'] = torch.zeros(1, BERT_CONFIG['max_position_embeddings'],
                                                           dtype=torch.int64)
    return sd


def make_forward_fixture(name, config, gen):
    model = ARCH[config['architectures'][0]](config)
    randomize(model, gen)
    weights = hf_state_dict(name, model)
    model = model.double()
    ids, mask, types = batch(gen, config)
    logits = model(ids, mask, types)
    labels = task_labels(gen, config, logits.shape)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    write_safetensors(os.path.join(folder, 'model.safetensors'), weights)
    debug = {'ids': ids.int(), 'attention_mask': mask.int(), 'token_type_ids': types.int(),
             'labels': labels.int(), 'logits': logits.float(), 'loss': loss.float().reshape([])}
    for key, p in model.named_parameters():  # a tied weight appears once (its first name), gradient summed
        debug['grad.' + key] = p.grad.float()
    write_safetensors(os.path.join(folder, 'debug.safetensors'), debug)
    return {'folder': name, 'architecture': config['architectures'][0], 'batch': B, 'time': T,
            'lengths': LENGTHS, 'loss': loss.item(), 'logitsShape': list(logits.shape),
            'storedKeys': sorted(weights), 'gradients': sorted(k for k in debug if k.startswith('grad.'))}


def check_lmforge_folder(name):
    """Loads an lmforge-saved folder by HF names into the reference; stores its logits."""
    folder = os.path.join(OUT, 'from-lmforge', name)
    with open(os.path.join(folder, 'config.json')) as f:
        config = json.load(f)
    extras = [k for k in config if k.startswith('lmforge_')]
    if extras:
        raise SystemExit(f'{folder}/config.json: lmforge-only keys {extras} (not an HF-clean model)')
    model = ARCH[config['architectures'][0]](config)
    weights = read_safetensors(os.path.join(folder, 'model.safetensors'))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    # The tied decoder weight is the word embedding; save_pretrained leaves the copy out, as lmforge.
    tied = ['cls.predictions.decoder.weight'] if config['architectures'][0] == 'BertForMaskedLM' else []
    if sorted(missing) != tied or unexpected:
        raise SystemExit(f'{folder}: missing {missing}, unexpected {unexpected}')
    expected = read_safetensors(os.path.join(folder, 'expected.safetensors'))
    with torch.no_grad():
        logits = model.double()(expected['ids'].long(), expected['attention_mask'].long(),
                                expected['token_type_ids'].long())
    write_safetensors(os.path.join(folder, 'pytorch.safetensors'), {'logits': logits.float()})
    lmforge = expected['logits'].double()
    max_abs = (logits - lmforge).abs().max().item()
    ok = max_abs <= 1e-4
    print(f'from-lmforge/{name}: {len(weights)} tensors loaded by HF names, max |logits diff| {max_abs:.3g} '
          f'{"ok" if ok else "MISMATCH"}', file=sys.stderr)
    return {'folder': 'from-lmforge/' + name, 'architecture': config['architectures'][0],
            'tensors': len(weights), 'maxAbsLogitsDiff': max_abs, 'tolerance': 1e-4, 'ok': ok}


def main():
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    forward = [make_forward_fixture(name, config, gen) for name, config in CASES.items()]
    if '--skip-lmforge' not in sys.argv:
        subprocess.run(['npx', 'tsx', 'tools/reference/write_lmforge_bert_models.ts'], cwd=ROOT, check=True)
    reverse_dir = os.path.join(OUT, 'from-lmforge')
    reverse = [check_lmforge_folder(name) for name in sorted(os.listdir(reverse_dir))
               if os.path.isdir(os.path.join(reverse_dir, name))]
    manifest = {
        'generator': 'tools/reference/make_bert_goldens.py',
        'torch': torch.__version__, 'python': platform.python_version(), 'seed': SEED, 'threads': 1,
        'reference': 'plain PyTorch modules with HF BertFor*/GPT2ForSequenceClassification/'
                     'LlamaForSequenceClassification names, layouts and formulas; computed in float64 from '
                     'float32 weights, stored as float32',
        'tolerance': {
            'logits': {'atol': 2e-5, 'rtol': 1e-5,
                       'why': 'lmforge runs in float32 through 2 blocks (5 LayerNorms) on logits of magnitude '
                              'up to ~6 (the 50-way MLM head); measured max abs error 2.4e-6, so 8x headroom'},
            'loss': {'atol': 1e-5, 'why': 'a mean of at most 16 float32 cross-entropies of magnitude ~4 '
                                          '(measured error <= 2.4e-7)'},
            'gradients': {'atol': 5e-6, 'rtol': 1e-4,
                          'why': 'float32 backward through 2 blocks; gradients reach ~1.2 (LayerNorm gains), '
                                 'measured max abs error 6e-7, so 8x headroom; an absolute bound because entries '
                                 'near zero have no meaningful relative error'},
            'reverse': {'atol': 2e-5, 'rtol': 1e-5,
                        'why': "lmforge's float32 logits against the float64 reference on lmforge's own weights"},
        },
        'forward': forward,
        'reverse': reverse,
    }
    path = os.path.join(OUT, 'manifest.json')
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=1)
        f.write('\n')
    if not all(r['ok'] for r in reverse):
        sys.exit(1)


if __name__ == '__main__':
    main()
