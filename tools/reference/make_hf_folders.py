#!/usr/bin/python3
"""Small random Hugging Face model folders of every decoder family lmforge loads, and of BERT,
written by PyTorch the way transformers writes them, with the logits PyTorch computes for a
fixed input: the fixtures of test/models/hf-folders.test.ts (test/golden/hf-folders/).

transformers is not installable here, so its conventions are written from its documentation
and source: the config fields of GPT2Config, LlamaConfig, MistralConfig, Qwen2Config,
Qwen3Config and BertConfig; the state-dict keys of GPT2LMHeadModel / GPT2Model,
<Family>ForCausalLM and BertForMaskedLM;
save_pretrained's layouts (one model.safetensors, or shards with model.safetensors.index.json;
a tied lm_head left out); tokenizer.json (byte-level BPE as GPT-2, Llama 3 and Qwen use it;
SentencePiece-style BPE with byte fallback as Mistral and Llama 2; WordPiece with BERT's
normalizer, pre-tokenizer and [CLS] / [SEP] template), tokenizer_config.json and
generation_config.json. The decoders' forward passes are tools/scale-out/hf_torch.py's
hand-written modules (HF math: RoPE with llama3 / linear scaling, Qwen3's q/k norms, Mistral's
and Qwen2's sliding windows, grouped-query attention, head_dim != hidden / heads); BERT's is
tools/reference/make_bert_goldens.py's BertForMaskedLM (post-LayerNorm, tied decoder).

Each folder test/golden/hf-folders/<name>/ is what a download holds; the reference outputs
are test/golden/hf-folders/reference/<name>.safetensors:
  ids     (2, 16) int32 input          logits (2, 16, V) float32, computed in float64
  prompt  (8,) the first 8 ids of row 0, greedy (6,) PyTorch's greedy continuation of it
          (decoders; BERT instead: attention_mask (2, 16) with row 1 right-padded, and
          token_type_ids (2, 16), the second segment 1)
The weights of the F16 / BF16 folders are rounded to that dtype first, so the reference is
the exact answer for the stored weights. manifest.json records the versions, the tolerance
and why, and per folder what `lmforge info` must report.

Run: /usr/bin/python3 tools/reference/make_hf_folders.py   (torch 1.13, CPU, a few seconds)
"""
import json
import os
import platform
import re
import shutil
import sys
from collections import Counter

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'scale-out'))
import hf_torch  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, 'tools', 'reference'))
from make_bert_goldens import BertForMaskedLM  # noqa: E402

OUT = os.path.join(ROOT, 'test', 'golden', 'hf-folders')
SEED = 4321
B, T, PROMPT, NEW = 2, 16, 8, 6
torch.set_num_threads(1)

CORPUS = (
    'The quick brown fox jumps over the lazy dog. A model folder holds a config, the weights and '
    'a tokenizer; the tokenizer turns text into ids, and the model turns ids into the logits of the '
    'next token. Sliding windows, rotary positions and grouped queries are the parts that differ. '
    'Then the dog sleeps, and the fox runs home through the trees of the forest.'
)

# ---- tokenizers ------------------------------------------------------------------------


def bytes_to_unicode():
    """GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest shift to 256 + n."""
    keep = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    chars, n = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + n)
            n += 1
    return chars


def learn_merges(words, count):
    """`count` BPE merges over words (tuples of symbols), most frequent pair first, ties by the pair itself."""
    words = Counter(words)
    merges = []
    for _ in range(count):
        pairs = Counter()
        for word, freq in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += freq
        if not pairs:
            break
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        merges.append(best)
        merged = Counter()
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += freq
        words = merged
    return merges


def added(token_id, content):
    return {'id': token_id, 'content': content, 'single_word': False, 'lstrip': False, 'rstrip': False,
            'normalized': False, 'special': True}


def byte_level_tokenizer(specials, bos=None, merges=30):
    """A byte-level BPE tokenizer.json (GPT-2's pipeline); `bos` adds a TemplateProcessing BOS (Llama 3)."""
    alphabet = bytes_to_unicode()
    pieces = re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", CORPUS)
    words = [tuple(alphabet[b] for b in piece.encode()) for piece in pieces]
    learned = learn_merges(words, merges)
    vocab = {alphabet[b]: b for b in range(256)}
    for a, b in learned:
        vocab.setdefault(a + b, len(vocab))
    specials_added = [added(len(vocab) + i, s) for i, s in enumerate(specials)]
    byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
    post = dict(byte_level, trim_offsets=False)
    if bos is not None:
        bos_id = next(t['id'] for t in specials_added if t['content'] == bos)
        special = lambda type_id: {'SpecialToken': {'id': bos, 'type_id': type_id}}  # noqa: E731
        post = {'type': 'TemplateProcessing',
                'single': [special(0), {'Sequence': {'id': 'A', 'type_id': 0}}],
                'pair': [special(0), {'Sequence': {'id': 'A', 'type_id': 0}}, special(1),
                         {'Sequence': {'id': 'B', 'type_id': 1}}],
                'special_tokens': {bos: {'id': bos, 'ids': [bos_id], 'tokens': [bos]}}}
    return {
        'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': specials_added,
        'normalizer': None, 'pre_tokenizer': byte_level, 'post_processor': post, 'decoder': byte_level,
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in learned]},
    }


def sentencepiece_tokenizer(merges=30):
    """A Llama-2 / Mistral style tokenizer.json: <unk> <s> </s>, 256 byte-fallback tokens, '▁' word starts."""
    vocab = {'<unk>': 0, '<s>': 1, '</s>': 2}
    for b in range(256):
        vocab[f'<0x{b:02X}>'] = len(vocab)
    text = '▁' + CORPUS.replace(' ', '▁')
    for ch in sorted(set(text)):
        vocab.setdefault(ch, len(vocab))
    words = [tuple(w) for w in re.findall(r'▁[^▁]*', text)]
    learned = learn_merges(words, merges)
    for a, b in learned:
        vocab.setdefault(a + b, len(vocab))
    template = lambda *parts: [x for p in parts for x in p]  # noqa: E731
    bos = [{'SpecialToken': {'id': '<s>', 'type_id': 0}}]
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [added(0, '<unk>'), added(1, '<s>'), added(2, '</s>')],
        'normalizer': {'type': 'Sequence', 'normalizers': [{'type': 'Prepend', 'prepend': '▁'},
                                                           {'type': 'Replace', 'pattern': {'String': ' '},
                                                            'content': '▁'}]},
        'pre_tokenizer': None,
        'post_processor': {'type': 'TemplateProcessing',
                           'single': template(bos, [{'Sequence': {'id': 'A', 'type_id': 0}}]),
                           'pair': template(bos, [{'Sequence': {'id': 'A', 'type_id': 0}}],
                                            [{'SpecialToken': {'id': '<s>', 'type_id': 1}}],
                                            [{'Sequence': {'id': 'B', 'type_id': 1}}]),
                           'special_tokens': {'<s>': {'id': '<s>', 'ids': [1], 'tokens': ['<s>']}}},
        'decoder': {'type': 'Sequence', 'decoders': [
            {'type': 'Replace', 'pattern': {'String': '▁'}, 'content': ' '}, {'type': 'ByteFallback'},
            {'type': 'Fuse'}, {'type': 'Strip', 'content': ' ', 'start': 1, 'stop': 0}]},
        'model': {'type': 'BPE', 'dropout': None, 'unk_token': '<unk>', 'continuing_subword_prefix': None,
                  'end_of_word_suffix': None, 'fuse_unk': True, 'byte_fallback': True, 'ignore_merges': False,
                  'vocab': vocab, 'merges': [f'{a} {b}' for a, b in learned]},
    }


def wordpiece_tokenizer(words=40):
    """A BERT-uncased style tokenizer.json: [PAD] [UNK] [CLS] [SEP] [MASK], the corpus's characters
    and their ## continuations, and its `words` most frequent lowercased words whole."""
    vocab = {t: i for i, t in enumerate(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])}
    text = CORPUS.lower()
    for ch in sorted(set(text) - {' '}):
        vocab.setdefault(ch, len(vocab))
    for ch in sorted(set(text) - {' '}):
        if ch.isalnum():
            vocab.setdefault('##' + ch, len(vocab))
    for word, _ in sorted(Counter(re.findall(r'[a-z]+', text)).items(), key=lambda wc: (-wc[1], wc[0]))[:words]:
        vocab.setdefault(word, len(vocab))
    special = lambda name, type_id: {'SpecialToken': {'id': name, 'type_id': type_id}}  # noqa: E731
    sequence = lambda name, type_id: {'Sequence': {'id': name, 'type_id': type_id}}  # noqa: E731
    return {
        'version': '1.0', 'truncation': None, 'padding': None,
        'added_tokens': [added(vocab[t], t) for t in ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']],
        'normalizer': {'type': 'BertNormalizer', 'clean_text': True, 'handle_chinese_chars': True,
                       'strip_accents': None, 'lowercase': True},
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {'type': 'TemplateProcessing',
                           'single': [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
                           'pair': [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0),
                                    sequence('B', 1), special('[SEP]', 1)],
                           'special_tokens': {t: {'id': t, 'ids': [vocab[t]], 'tokens': [t]}
                                              for t in ['[CLS]', '[SEP]']}},
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {'type': 'WordPiece', 'unk_token': '[UNK]', 'continuing_subword_prefix': '##',
                  'max_input_chars_per_word': 100, 'vocab': vocab},
    }


def token_count(tokenizer):
    return max(list(tokenizer['model']['vocab'].values()) + [t['id'] for t in tokenizer['added_tokens']]) + 1


def special_id(tokenizer, content):
    return next(t['id'] for t in tokenizer['added_tokens'] if t['content'] == content)


# ---- the folders -------------------------------------------------------------------------

GPT2_TOK = byte_level_tokenizer(['<|endoftext|>'])
LLAMA3_TOK = byte_level_tokenizer(['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>'], bos='<|begin_of_text|>')
QWEN_TOK = byte_level_tokenizer(['<|endoftext|>', '<|im_start|>', '<|im_end|>'])
SP_TOK = sentencepiece_tokenizer()
WP_TOK = wordpiece_tokenizer()

LLAMA_BASE = {'hidden_act': 'silu', 'initializer_range': 0.02, 'use_cache': True, 'transformers_version': '4.46.0',
              'attention_dropout': 0.0}


def fixtures():
    g2 = GPT2_TOK
    eot = special_id(g2, '<|endoftext|>')
    gpt2 = {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': token_count(g2),
            'n_positions': 32, 'n_ctx': 32, 'n_embd': 32, 'n_layer': 2, 'n_head': 4, 'n_inner': None,
            'activation_function': 'gelu_new', 'resid_pdrop': 0.1, 'embd_pdrop': 0.1, 'attn_pdrop': 0.1,
            'layer_norm_epsilon': 1e-5, 'initializer_range': 0.02, 'bos_token_id': eot, 'eos_token_id': eot,
            'summary_type': 'cls_index', 'summary_use_proj': True, 'summary_activation': None,
            'summary_proj_to_labels': True, 'summary_first_dropout': 0.1, 'scale_attn_weights': True,
            'use_cache': True, 'task_specific_params': {'text-generation': {'do_sample': True, 'max_length': 50}},
            'transformers_version': '4.46.0', 'torch_dtype': 'float32'}
    gpt2_tc = {'tokenizer_class': 'GPT2Tokenizer', 'bos_token': '<|endoftext|>', 'eos_token': '<|endoftext|>',
               'unk_token': '<|endoftext|>', 'model_max_length': 32, 'add_prefix_space': False}

    l3 = LLAMA3_TOK
    llama3 = {**LLAMA_BASE, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama',
              'vocab_size': token_count(l3), 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
              'num_attention_heads': 4, 'num_key_value_heads': 2, 'head_dim': 16, 'max_position_embeddings': 128,
              'rms_norm_eps': 1e-5, 'rope_theta': 500000.0,
              'rope_scaling': {'factor': 4.0, 'low_freq_factor': 1.0, 'high_freq_factor': 4.0,
                               'original_max_position_embeddings': 64, 'rope_type': 'llama3'},
              'attention_bias': True, 'mlp_bias': True, 'pretraining_tp': 1, 'tie_word_embeddings': False,
              'bos_token_id': special_id(l3, '<|begin_of_text|>'), 'eos_token_id': special_id(l3, '<|end_of_text|>'),
              'torch_dtype': 'bfloat16'}
    llama3_gc = {'bos_token_id': special_id(l3, '<|begin_of_text|>'),
                 'eos_token_id': [special_id(l3, '<|end_of_text|>'), special_id(l3, '<|eot_id|>')],
                 'do_sample': True, 'temperature': 0.6, 'top_p': 0.9, 'transformers_version': '4.46.0'}
    llama3_tc = {'tokenizer_class': 'PreTrainedTokenizerFast', 'bos_token': '<|begin_of_text|>',
                 'eos_token': '<|end_of_text|>', 'model_max_length': 128, 'clean_up_tokenization_spaces': True}

    linear = {**LLAMA_BASE, 'architectures': ['LlamaForCausalLM'], 'model_type': 'llama',
              'vocab_size': token_count(l3), 'hidden_size': 32, 'intermediate_size': 64, 'num_hidden_layers': 2,
              'num_attention_heads': 4, 'num_key_value_heads': 4, 'max_position_embeddings': 64,
              'rms_norm_eps': 1e-6, 'rope_theta': 10000.0, 'rope_scaling': {'type': 'linear', 'factor': 2.0},
              'tie_word_embeddings': True, 'torch_dtype': 'bfloat16'}

    mistral = {**LLAMA_BASE, 'architectures': ['MistralForCausalLM'], 'model_type': 'mistral',
               'vocab_size': token_count(SP_TOK), 'hidden_size': 32, 'intermediate_size': 80,
               'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
               'max_position_embeddings': 64, 'rms_norm_eps': 1e-5, 'sliding_window': 5,
               'rope_parameters': {'rope_type': 'default', 'rope_theta': 10000.0}, 'tie_word_embeddings': False,
               'bos_token_id': 1, 'eos_token_id': 2, 'torch_dtype': 'float32'}
    mistral_gc = {'bos_token_id': 1, 'eos_token_id': 2, 'transformers_version': '4.46.0'}
    mistral_tc = {'tokenizer_class': 'LlamaTokenizer', 'add_bos_token': True, 'add_eos_token': False,
                  'bos_token': '<s>', 'eos_token': '</s>', 'unk_token': '<unk>', 'pad_token': None,
                  'legacy': False, 'model_max_length': 64}

    qt = QWEN_TOK
    endoftext, im_end = special_id(qt, '<|endoftext|>'), special_id(qt, '<|im_end|>')
    qwen_base = {**LLAMA_BASE, 'vocab_size': token_count(qt) + 7, 'hidden_size': 32, 'intermediate_size': 64,
                 'num_hidden_layers': 2, 'num_attention_heads': 4, 'num_key_value_heads': 2,
                 'max_position_embeddings': 64, 'rms_norm_eps': 1e-6, 'rope_theta': 1000000.0,
                 'bos_token_id': endoftext, 'eos_token_id': endoftext}
    # As Qwen2.5-0.5B: tied embeddings, sliding_window / max_window_layers present but off.
    qwen2 = {**qwen_base, 'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2', 'tie_word_embeddings': True,
             'use_sliding_window': False, 'sliding_window': 32768, 'max_window_layers': 24, 'torch_dtype': 'bfloat16'}
    qwen2_window = {**qwen_base, 'architectures': ['Qwen2ForCausalLM'], 'model_type': 'qwen2',
                    'tie_word_embeddings': False, 'use_sliding_window': True, 'sliding_window': 4,
                    'max_window_layers': 1, 'torch_dtype': 'float16'}
    qwen3 = {**qwen_base, 'architectures': ['Qwen3ForCausalLM'], 'model_type': 'qwen3', 'head_dim': 16,
             'attention_bias': False, 'tie_word_embeddings': False, 'use_sliding_window': False,
             'sliding_window': None, 'max_window_layers': 2, 'eos_token_id': im_end, 'torch_dtype': 'bfloat16'}
    qwen_tc = {'tokenizer_class': 'Qwen2Tokenizer', 'bos_token': None, 'eos_token': '<|endoftext|>',
               'pad_token': '<|endoftext|>', 'errors': 'replace', 'model_max_length': 64}
    qwen3_gc = {'bos_token_id': endoftext, 'eos_token_id': [im_end, endoftext], 'do_sample': True,
                'temperature': 0.6, 'top_k': 20, 'top_p': 0.95, 'transformers_version': '4.51.0'}

    wp = WP_TOK
    bert = {'architectures': ['BertForMaskedLM'], 'model_type': 'bert', 'vocab_size': token_count(wp),
            'hidden_size': 32, 'num_hidden_layers': 2, 'num_attention_heads': 4, 'intermediate_size': 64,
            'hidden_act': 'gelu', 'hidden_dropout_prob': 0.1, 'attention_probs_dropout_prob': 0.1,
            'classifier_dropout': None, 'max_position_embeddings': 32, 'type_vocab_size': 2,
            'initializer_range': 0.02, 'layer_norm_eps': 1e-12, 'pad_token_id': special_id(wp, '[PAD]'),
            'position_embedding_type': 'absolute', 'use_cache': True, 'transformers_version': '4.46.0'}
    bert_tc = {'tokenizer_class': 'BertTokenizer', 'do_lower_case': True, 'cls_token': '[CLS]',
               'sep_token': '[SEP]', 'pad_token': '[PAD]', 'mask_token': '[MASK]', 'unk_token': '[UNK]',
               'model_max_length': 32, 'tokenize_chinese_chars': True, 'strip_accents': None}

    # name, config, tokenizer, tokenizer_config, generation_config, stored dtype, shards, layout
    return [
        ('gpt2', gpt2, g2, gpt2_tc, None, torch.float32, 1, 'causal-lm'),
        ('gpt2-bare-f16', gpt2, g2, gpt2_tc, None, torch.float16, 1, 'bare'),
        ('llama3-sharded', llama3, l3, llama3_tc, llama3_gc, torch.float32, 3, 'causal-lm'),
        ('llama-linear-bf16', linear, l3, llama3_tc, None, torch.bfloat16, 1, 'tied-copy'),
        ('mistral', mistral, SP_TOK, mistral_tc, mistral_gc, torch.float32, 1, 'causal-lm'),
        ('qwen2', qwen2, qt, qwen_tc, None, torch.float32, 1, 'causal-lm'),
        ('qwen2-window-f16', qwen2_window, qt, qwen_tc, None, torch.float16, 1, 'causal-lm'),
        ('qwen3', qwen3, qt, {**qwen_tc, 'eos_token': '<|im_end|>'}, qwen3_gc, torch.float32, 2, 'causal-lm'),
        ('bert-bf16-sharded', bert, wp, bert_tc, None, torch.bfloat16, 2, 'masked-lm'),
    ]


def randomize(model, gen):
    """Weights large enough that logits are far from uniform (a test that can fail): matrices N(0, 0.15^2),
    embeddings N(0, 0.3^2), biases N(0, 0.05^2), norm gains 1 + N(0, 0.1^2)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 1 and ('norm' in name or 'ln_' in name or 'LayerNorm' in name):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith('.bias'):
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
            elif 'wte' in name or 'wpe' in name or 'embed_tokens' in name or 'embeddings' in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.15 * torch.randn(p.shape, generator=gen))


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write('\n')


def make(name, config, tokenizer, tokenizer_config, generation_config, dtype, shards, layout, gen):
    config = {**config, 'torch_dtype': {torch.float32: 'float32', torch.float16: 'float16',
                                        torch.bfloat16: 'bfloat16'}[dtype]}
    masked = layout == 'masked-lm'
    model = BertForMaskedLM(config) if masked else hf_torch.build_model(config)
    randomize(model, gen)
    # Round the weights to the stored dtype, so that the reference is exact for what is stored.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))
    if masked:  # save_pretrained leaves out the decoder tied to the word embeddings
        weights = {k: v.to(dtype) for k, v in model.state_dict().items() if k != 'cls.predictions.decoder.weight'}
    else:
        weights = hf_torch.hf_state_dict(model, dtype)
    if layout == 'bare':  # GPT2Model.save_pretrained: no body prefix, no head, the old causal-mask buffers
        weights = {k[len('transformer.'):]: v for k, v in weights.items()}
        n = config['n_positions']
        for layer in range(config['n_layer']):
            weights[f'h.{layer}.attn.bias'] = torch.tril(torch.ones(n, n)).view(1, 1, n, n).to(dtype)
    if layout == 'tied-copy':  # an exporter that wrote the tied head anyway (transformers ignores it)
        weights['lm_head.weight'] = weights['model.embed_tokens.weight'].clone()
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    write_json(os.path.join(folder, 'config.json'), config)
    if shards == 1:
        hf_torch.write_safetensors(os.path.join(folder, 'model.safetensors'), weights)
    else:
        hf_torch.write_sharded(folder, weights, shards)
    write_json(os.path.join(folder, 'tokenizer.json'), tokenizer)
    write_json(os.path.join(folder, 'tokenizer_config.json'), tokenizer_config)
    if generation_config is not None:
        write_json(os.path.join(folder, 'generation_config.json'), generation_config)

    model = model.double()
    vocab = token_count(tokenizer)  # ids the tokenizer can produce (Qwen pads vocab_size past them)
    ids = torch.randint(0, vocab, (B, T), generator=gen)
    if masked:
        # [CLS] a [SEP] b [SEP] in row 0; row 1 one segment, right-padded after 11 tokens.
        cls_id, sep, pad = special_id(tokenizer, '[CLS]'), special_id(tokenizer, '[SEP]'), config['pad_token_id']
        ids = torch.randint(5, vocab, (B, T), generator=gen)
        ids[:, 0] = cls_id
        ids[0, 7], ids[0, T - 1], ids[1, 10] = sep, sep, sep
        ids[1, 11:] = pad
        mask = (torch.arange(T) < torch.tensor([[T], [11]])).long()
        types = torch.zeros(B, T, dtype=torch.long)
        types[0, 8:] = 1
        with torch.no_grad():
            logits = model(ids, mask, types)
        reference = {'ids': ids.int(), 'attention_mask': mask.int(), 'token_type_ids': types.int(),
                     'logits': logits.float()}
    else:
        with torch.no_grad():
            logits = model(ids)
            prompt = ids[0, :PROMPT].clone()
            seq = prompt.clone()
            for _ in range(NEW):  # greedy, recomputing the whole context each step
                seq = torch.cat([seq, model(seq.view(1, -1))[0, -1].argmax().view(1)])
        reference = {'ids': ids.int(), 'logits': logits.float(), 'prompt': prompt.int(), 'greedy': seq[PROMPT:].int()}
    hf_torch.write_safetensors(os.path.join(OUT, 'reference', f'{name}.safetensors'), reference)
    dtype_name = hf_torch.ST_DTYPE[dtype]
    s = None if config['model_type'] in ('gpt2', 'bert') else hf_torch.LlamaStyle(config)
    return {
        'folder': name,
        'model_type': config['model_type'],
        'head': 'masked-lm' if masked else 'causal-lm',
        'features': feature_list(config, s, layout, dtype_name, shards),
        'weights': {'dtype': dtype_name, 'shards': shards, 'bare_keys': layout == 'bare',
                    'ignored_keys': sorted(k for k in weights if k.endswith('.attn.bias') or
                                           (layout == 'tied-copy' and k == 'lm_head.weight'))},
        'tokenizer': {'kind': {id(SP_TOK): 'bpe', id(WP_TOK): 'wordpiece'}.get(id(tokenizer), 'byte-level-bpe'),
                      'ids': vocab},
        'eos_ids': eos_ids(config, tokenizer, tokenizer_config, generation_config),
        'max_abs_logit': logits.abs().max().item(),
    }


def feature_list(config, s, layout, dtype, shards):
    out = [f'{dtype} weights'] + ([f'{shards} shards'] if shards > 1 else [])
    if layout == 'bare':
        out.append('bare base-model keys and causal-mask buffers')
    if layout == 'tied-copy':
        out.append('tied head with lm_head.weight stored')
    if layout == 'masked-lm':
        out.append('post-LayerNorm encoder, padded batch with token types, tied decoder left out')
    if s is not None:
        if s.hs * s.nH != s.C:
            out.append(f'head_dim {s.hs} != hidden_size / num_attention_heads')
        if s.nKV != s.nH:
            out.append(f'grouped-query attention ({s.nH} / {s.nKV})')
        if s.rope_type != 'default':
            out.append(f'rope_scaling {s.rope_type}')
        if s.qkv_bias:
            out.append('q/k/v biases' + (' and o_proj bias' if s.o_bias else ''))
        if s.mlp_bias:
            out.append('MLP biases')
        if s.qk_norm:
            out.append('q/k RMSNorm per head')
        windows = [w for w in s.windows if w is not None]
        if windows:
            out.append(f'sliding window {windows[0]} in layers {[i for i, w in enumerate(s.windows) if w]}'
                       f' (input of {T} tokens)')
        if 'rope_parameters' in config:
            out.append('rope_parameters (transformers v5 spelling)')
    return out


def eos_ids(config, tokenizer, tokenizer_config, generation_config):
    """The ids generation stops at, by transformers' precedence: generation_config.json, else config.json."""
    source = generation_config if generation_config is not None else config
    eos = source.get('eos_token_id')
    if eos is not None:
        return eos if isinstance(eos, list) else [eos]
    if 'eos_token' not in tokenizer_config:  # BERT: no end of generation at all
        return []
    return [special_id(tokenizer, tokenizer_config['eos_token'])]


def main():
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    shutil.rmtree(os.path.join(OUT, 'reference'), ignore_errors=True)
    os.makedirs(os.path.join(OUT, 'reference'))
    folders = [make(*fixture, gen) for fixture in fixtures()]
    manifest = {
        'generator': 'tools/reference/make_hf_folders.py',
        'torch': torch.__version__, 'python': platform.python_version(), 'seed': SEED, 'threads': 1,
        'reference': 'tools/scale-out/hf_torch.py modules with transformers names, layouts and formulas, run in '
                     'float64 on the stored (16-bit-rounded where stored so) weights; RoPE tables in float32 as '
                     'transformers computes them',
        'input': {'batch': B, 'time': T, 'prompt': PROMPT, 'greedy_tokens': NEW},
        'tolerance': {'logits': {'atol': 5e-5, 'rtol': 1e-5,
                                 'why': 'lmforge computes in float32 (eps 6e-8) through 2 blocks on logits of '
                                        'magnitude up to ~10 (max_abs_logit below); measured max abs error is a '
                                        'few 1e-6, so >10x headroom'}},
        'folders': folders,
    }
    write_json(os.path.join(OUT, 'manifest.json'), manifest)
    for f in folders:
        size = sum(os.path.getsize(os.path.join(OUT, f['folder'], n)) for n in os.listdir(os.path.join(OUT, f['folder'])))
        print(f"{f['folder']}: {size / 1024:.0f} KiB, {', '.join(f['features'])}", file=sys.stderr)


if __name__ == '__main__':
    main()
