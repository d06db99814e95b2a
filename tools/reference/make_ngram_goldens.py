#!/usr/bin/python3
"""Reference n-gram estimates for lmforge's src/ngram, written from the formulas, not from
lmforge's code: plain Python dictionaries over a small corpus that this script generates from
a fixed-seed toy grammar (so nothing copyrighted is committed).

  counts       every k-gram of <s> w1 .. wm </s> (k = 1..N, windows inside one sentence)
  kneser_ney   interpolated modified Kneser-Ney, Chen & Goodman (1998) eq. 26, section 3.5:
                 p_k(w|h) = max(a(hw) - D_k(a(hw)), 0) / sum_x a(hx) + gamma(h) p_{k-1}(w|h[1:])
                 gamma(h) = (D1 N1(h.) + D2 N2(h.) + D3+ N3+(h.)) / sum_x a(hx)
               with a = raw counts at order N and for n-grams starting with <s>, else the
               continuation count N1+(.g); D_k(j) = j - (j+1) Y n_{j+1}/n_j, Y = n1/(n1+2n2),
               from order k's count-of-counts of a; order 1 interpolated with 1/(V-1) (every
               unit but <s>); an unseen context uses p_{k-1} alone.
  add_k        (c(hw) + k) / (c(h) + k (V-1)) on the longest context (N-1 units, or fewer from <s>)
  stupid       Brants et al. (2007): c(hw)/c(h), else alpha * S(w|h[1:]); S(w) = c(w)/tokens,
               with alpha applied only when backing off from a context seen in training (the
               ARPA reading lmforge documents)

NLTK (Debian's python3-nltk 3.8) checks the counts: nltk.everygrams over the same padded
sentences gives the same raw counts, asserted here. Its KneserNeyInterpolated is not used for
the probabilities because its conventions differ: one discount (0.1) for every order instead
of three per order from the count-of-counts; n-1 <s> and n-1 </s> of padding; gamma counts the
distinct raw continuations over the continuation total; the lowest order is not interpolated
with the uniform distribution (an unseen word has probability 0), and a context's
probabilities need not sum to 1.

Writes test/golden/ngram/reference.json: the corpus lines, the vocabulary, raw and adjusted
counts, count-of-counts and discounts per order, and for a set of contexts (seen, unseen,
each length 0..N-1, from <s> and not) the full distribution over the vocabulary under each
estimator. test/ngram/reference.test.ts compares lmforge to it.

Run: /usr/bin/python3 tools/reference/make_ngram_goldens.py   (~1 s; nltk optional)
"""
import json
import os
import random
import subprocess
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'test', 'golden', 'ngram', 'reference.json')
SEED = 2121
N = 3
ADD_K = 0.5
ALPHA = 0.4
BOS, EOS, UNK = '<s>', '</s>', '<unk>'


def toy_corpus(rng, lines=80):
    """Sentences over 40 made-up words, Zipf-distributed, each word with two favourite
    followers: enough rare and repeated n-grams for n1..n4 > 0 at every order."""
    words = [f'w{i}' for i in range(40)]
    weights = [1 / (i + 1) for i in range(40)]
    follow = {w: rng.sample(words, 2) for w in words}
    out = []
    for _ in range(lines):
        sentence = [rng.choices(words, weights)[0]]
        for _ in range(rng.randint(1, 7)):
            previous = sentence[-1]
            sentence.append(rng.choice(follow[previous]) if rng.random() < 0.6 else rng.choices(words, weights)[0])
        out.append(' '.join(sentence))
    out[5] = ''  # an empty line is a sentence too: <s> </s>
    return out


def padded(line):
    return [BOS] + line.split() + [EOS]


def raw_counts(lines):
    counts = [Counter() for _ in range(N + 1)]  # counts[k][tuple]
    for line in lines:
        s = padded(line)
        for i in range(len(s)):
            for k in range(1, N + 1):
                if i + k <= len(s):
                    counts[k][tuple(s[i:i + k])] += 1
    # <s> as a unigram: once per sentence (what lmforge records); it is never predicted.
    return counts


def adjusted_counts(counts):
    a = [Counter() for _ in range(N + 1)]
    a[N] = Counter(counts[N])
    for k in range(1, N):
        for g, c in counts[k].items():
            if g[0] == BOS:
                a[k][g] = c
        for g in counts[k + 1]:
            suffix = g[1:]
            if suffix[0] != BOS:
                a[k][suffix] += 1
    return a


def discounts(a):
    out = []
    for k in range(1, N + 1):
        n = [0, 0, 0, 0]
        for g, c in a[k].items():
            if k == 1 and g == (BOS,):
                continue
            if 1 <= c <= 4:
                n[c - 1] += 1
        y = n[0] / (n[0] + 2 * n[1])
        d = [1 - 2 * y * n[1] / n[0], 2 - 3 * y * n[2] / n[1], 3 - 4 * y * n[3] / n[2]]
        assert all(0 <= d[j] <= j + 1 for j in range(3)), (k, n, d)
        out.append({'order': k, 'countOfCounts': n, 'd': d})
    return out


def children(table, h):
    return {g[-1]: c for g, c in table.items() if g[:-1] == h}


def kneser_ney(a, D, vocab):
    predicted = [w for w in vocab if w != BOS]

    def p(w, h):
        k = len(h) + 1
        if w == BOS:
            return 0.0
        kids = children(a[k], h)
        kids.pop(BOS, None)  # <s> is never predicted: not in the unigram distribution
        total = sum(kids.values())
        dk = D[k - 1]['d']
        lower = (1.0 / len(predicted)) if k == 1 else None
        if total == 0:
            return p(w, h[1:])
        c = kids.get(w, 0)
        alpha = max(c - dk[min(c, 3) - 1], 0) / total if c > 0 else 0.0
        groups = [sum(1 for v in kids.values() if min(v, 3) == j) for j in (1, 2, 3)]
        gamma = sum(dk[j] * groups[j] for j in range(3)) / total
        return alpha + gamma * (lower if k == 1 else p(w, h[1:]))

    return p


def add_k(counts, vocab):
    predicted = [w for w in vocab if w != BOS]

    def p(w, h):
        if w == BOS:
            return 0.0
        kids = children(counts[len(h) + 1], h)
        return (kids.get(w, 0) + ADD_K) / (sum(kids.values()) + ADD_K * len(predicted))

    return p


def stupid(counts, vocab):
    tokens = sum(c for g, c in counts[1].items() if g != (BOS,))

    def s(w, h):
        if w == BOS:
            return 0.0
        if not h:
            return counts[1].get((w,), 0) / tokens
        kids = children(counts[len(h) + 1], h)
        if w in kids:
            return kids[w] / sum(kids.values())
        seen = sum(kids.values()) > 0
        return (ALPHA if seen else 1.0) * s(w, h[1:])

    return s


def nltk_check(lines, counts):
    try:
        from nltk.util import everygrams
    except ImportError:
        return 'nltk not installed: counts not cross-checked'
    import nltk
    theirs = Counter()
    for line in lines:
        theirs.update(everygrams(padded(line), max_len=N))
    ours = Counter()
    for k in range(1, N + 1):
        ours.update(counts[k])
    assert theirs == ours, 'nltk.everygrams disagrees with the counts'
    return f'nltk {nltk.__version__}: everygrams over <s> w.. </s> gives the same raw counts'


def main():
    rng = random.Random(SEED)
    lines = toy_corpus(rng)
    counts = raw_counts(lines)
    vocab = [UNK, BOS, EOS]
    for line in lines:
        for w in line.split():
            if w not in vocab:
                vocab.append(w)
    a = adjusted_counts(counts)
    D = discounts(a)
    kn, ak, sb = kneser_ney(a, D, vocab), add_k(counts, vocab), stupid(counts, vocab)

    words = [w for w in vocab if w not in (UNK, BOS)]
    # Seen and unseen contexts of every length, from <s> and not, with <unk> in them.
    contexts = [(), (BOS,), (BOS, 'w0'), (BOS, 'w39'), (UNK, 'w0'), ('w0', UNK), ('w3',)]
    for line in lines[:8]:
        s = padded(line)
        contexts.append(tuple(s[:2]))
    for _ in range(12):
        contexts.append(tuple(rng.choice(words) for _ in range(rng.choice([1, 2]))))
    # add-k is defined on the contexts the model conditions on: N-1 units, or fewer from <s>.
    full = [h for h in contexts if len(h) == N - 1 or (h and h[0] == BOS)]
    dist = lambda f, h: [f(w, h) for w in vocab]
    table = lambda c: [{'ngram': list(g), 'count': n} for g, n in sorted(c.items())]
    result = {
        'comment': 'written by tools/reference/make_ngram_goldens.py; see its header',
        'seed': SEED,
        'order': N,
        'addK': ADD_K,
        'alpha': ALPHA,
        'nltk': nltk_check(lines, counts),
        'lines': lines,
        'vocabulary': vocab,
        'counts': [table(counts[k]) for k in range(1, N + 1)],
        'adjusted': [table(a[k]) for k in range(1, N + 1)],
        'discounts': D,
        'kneserNey': [{'context': list(h), 'probs': dist(kn, h)} for h in contexts],
        'addKProbs': [{'context': list(h), 'probs': dist(ak, h)} for h in full],
        'stupidBackoff': [{'context': list(h), 'scores': dist(sb, h)} for h in contexts],
        'tolerance': {'rtol': 1e-6, 'reason': 'lmforge stores log10 probabilities as float32 (7 digits), as KenLM does'},
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(result, f)
    prettier = os.path.join(ROOT, 'node_modules', '.bin', 'prettier')
    if os.path.exists(prettier):
        subprocess.run([prettier, '--write', OUT], check=True, stdout=subprocess.DEVNULL)
    print(f'wrote {OUT}: {len(lines)} lines, V={len(vocab)}, discounts {[d["d"] for d in D]}; {result["nltk"]}')


if __name__ == '__main__':
    main()
