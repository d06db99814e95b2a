#!/usr/bin/python3
"""Writes test/golden/metrics/sacrebleu.json: sacreBLEU's own outputs on a table of tricky
lines, which test/eval/sacrebleu-golden.test.ts checks src/eval against.

What it records, from sacreBLEU itself (no formula of ours is involved):
- the characters Python's str.isspace() accepts (sacreBLEU splits words with str.split());
- every line tokenized by sacreBLEU's 13a, intl and char tokenizers;
- sentence BLEU of each (hypothesis, reference) pair under every smoothing method and
  tokenizer, with and without lowercasing;
- corpus BLEU (all options), chrF, chrF++ (all options) and sentence chrF on the same lines
  with two reference streams, one of them missing a reference (None);
- sacreBLEU's printed score lines (str(score)).

Run (sacreBLEU 2.x and its dependencies, none of them torch):
  python3 -m pip install --target /tmp/sacrebleu-py sacrebleu==2.6.0
  PYTHONPATH=/tmp/sacrebleu-py /usr/bin/python3 tools/reference/make_metric_goldens.py
"""
import json
import os
import platform
import subprocess
import sys

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'metrics', 'sacrebleu.json')

# References: punctuation, numbers (thousand and decimal separators, ranges, a year before a
# final dot), XML entities and <skipped>, a hyphen before a newline, Unicode punctuation and
# symbols, CJK, astral characters (emoji with a skin tone: two UTF-16 units each), combining
# marks, and every kind of whitespace Python and JavaScript disagree on.
REFERENCES = [
    'The dog bit the man.',
    'It was not unexpected.',
    'The man bit him first.',
    'Prices rose 1,000.50 dollars (about 3-4%) in 2018.',
    'He said: "Don\'t go!" & left &amp; came back &lt;soon&gt;.',
    '<skipped> Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.',
    'Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.',
    '我爱北京天安门。今天天气很好！',
    'Thumbs up 👍🏽 for the café — naïve «quotes» „here“ … done',
    'Tabs\tand\u00a0non-breaking\u3000spaces\u2009thin',
    'Separators\x1cfile\x1dgroup\x85next line end',
    'Zero\ufeffwidth no-break space stays inside a word',
    'e\u0301 combining, ±5 × 3 = 15 € or $20; a/b [c] {d} ~e^f_g`h|i',
    'Line one-\nline two\nthree',
    'Ends with spaces   ',
    '',
]

HYPOTHESES = [
    'The dog bit the man.',
    "It wasn't surprising.",
    'The man had just bitten him.',
    'Prices rose 1,000.5 dollars (about 3 - 4 %) in 2018 .',
    'He said: "Do not go!" and left & came back <soon>.',
    'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
    'Co nás nejvíce trápí, že lékaři vybírají, kdo bude žít a kdo zemře.',
    '我爱北京天安门。今天天气不错！',
    'thumbs up 👍 for the cafe - naive "quotes" here... done',
    'Tabs and non-breaking spaces thin',
    'Separators file group next line',
    'Zero\ufeffwidth no-break space stays inside a word',
    'e\u0301 combining ±5×3=15€ or $ 20 ; a / b [ c ] { d } ~ e ^ f _ g ` h | i',
    'Line one line two three',
    'ends with spaces',
    'an extra hypothesis against an empty reference',
]

# The second reference stream: paraphrases, one None (that segment has one reference).
SECOND = [
    'The dog had bit the man.',
    'No one was surprised.',
    'The man had bitten the dog.',
    None,
    'He said: "Do not go!" and left.',
    'Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.',
    'Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.',
    '我爱北京天安门。今天天气不错！',
    'thumbs up for the cafe',
    'tabs and spaces',
    'separators',
    'zero width',
    'e combining',
    'line one line two three',
    'it ends with spaces',
    'something',
]

TOKENIZERS = ['13a', 'intl', 'char', 'none']
SMOOTHINGS = [('exp', None), ('none', None), ('floor', None), ('floor', 0.5), ('add-k', None), ('add-k', 2)]


def smoothing_json(method, value):
    out = {'kind': method}
    if value is not None:
        out['value'] = value
    return out


def bleu_json(score, text=True):
    out = {'score': score.score, 'counts': list(score.counts), 'totals': list(score.totals),
           'precisions': list(score.precisions), 'bp': score.bp, 'sysLen': score.sys_len,
           'refLen': score.ref_len}
    if text:
        out['text'] = str(score)
    return out


def main():
    whitespace = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    lines = REFERENCES + HYPOTHESES + [s for s in SECOND if s is not None]
    tokenized = {name: [BLEU(tokenize=name).tokenizer(line) for line in lines] for name in TOKENIZERS if name != 'none'}

    sentence = []
    for hyp, ref in zip(HYPOTHESES, REFERENCES):
        # Every smoothing with 13a (and lowercased once), every tokenizer with exp smoothing.
        for tok in TOKENIZERS:
            for method, value in (SMOOTHINGS if tok == '13a' else SMOOTHINGS[:1]):
                for lowercase in ([False, True] if tok == '13a' and method == 'exp' else [False]):
                    metric = BLEU(tokenize=tok, smooth_method=method, smooth_value=value, lowercase=lowercase,
                                  effective_order=True)
                    sentence.append({'hypothesis': hyp, 'references': [ref],
                                     'options': {'tokenize': tok, 'smoothing': smoothing_json(method, value),
                                                 'lowercase': lowercase},
                                     'expected': bleu_json(metric.sentence_score(hyp, [ref]), text=False)})

    refs = [REFERENCES, SECOND]
    corpus_bleu = []
    option_sets = [{}, {'lowercase': True}, {'effective_order': True}, {'max_ngram_order': 2},
                   {'max_ngram_order': 6}] + [{'tokenize': t} for t in TOKENIZERS] + \
                  [{'smooth_method': m, 'smooth_value': v} for m, v in SMOOTHINGS]
    for kwargs in option_sets:
        metric = BLEU(**kwargs)
        ours = {}
        if 'tokenize' in kwargs:
            ours['tokenize'] = kwargs['tokenize']
        if 'lowercase' in kwargs:
            ours['lowercase'] = kwargs['lowercase']
        if 'effective_order' in kwargs:
            ours['effectiveOrder'] = kwargs['effective_order']
        if 'max_ngram_order' in kwargs:
            ours['maxNgramOrder'] = kwargs['max_ngram_order']
        if 'smooth_method' in kwargs:
            ours['smoothing'] = smoothing_json(kwargs['smooth_method'], kwargs['smooth_value'])
        corpus_bleu.append({'options': ours, 'expected': bleu_json(metric.corpus_score(HYPOTHESES, refs)),
                            'signature': str(metric.get_signature()).rsplit('|version:', 1)[0]})

    chrf = []
    chrf_sets = [{}, {'word_order': 2}, {'beta': 3}, {'beta': 1, 'char_order': 4}, {'whitespace': True},
                 {'eps_smoothing': True}, {'word_order': 2, 'eps_smoothing': True}, {'lowercase': True}]
    names = {'char_order': 'charOrder', 'word_order': 'wordOrder', 'beta': 'beta', 'whitespace': 'whitespace',
             'eps_smoothing': 'epsSmoothing', 'lowercase': 'lowercase'}
    for kwargs in chrf_sets:
        metric = CHRF(**kwargs)
        corpus = metric.corpus_score(HYPOTHESES, refs)
        sentences = [CHRF(**kwargs).sentence_score(h, [r for r in (a, b) if r is not None]).score
                     for h, a, b in zip(HYPOTHESES, REFERENCES, SECOND)]
        chrf.append({'options': {names[k]: v for k, v in kwargs.items()}, 'corpus': corpus.score,
                     'text': str(corpus), 'sentences': sentences})

    out = {
        'generator': 'tools/reference/make_metric_goldens.py',
        'versions': {'sacrebleu': sacrebleu.__version__, 'python': platform.python_version()},
        'tolerance': {'abs': 1e-9, 'reason': 'the same float64 operations in the same order; only '
                      'Math.exp/Math.log and Python math may differ in the last bit'},
        'pythonWhitespace': whitespace,
        'lines': lines,
        'tokenized': tokenized,
        'hypotheses': HYPOTHESES,
        'references': refs,
        'sentenceBleu': sentence,
        'corpusBleu': corpus_bleu,
        'chrf': chrf,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False)
        f.write('\n')
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', '--log-level', 'warn', OUT], check=True)
    print(f'wrote {OUT}: {len(sentence)} sentence BLEU, {len(corpus_bleu)} corpus BLEU, {len(chrf)} chrF cases')


if __name__ == '__main__':
    main()
