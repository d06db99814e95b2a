"""Golden GGUF block codecs from llama.cpp's own gguf-py (gguf/quants.py, the numpy
port of ggml-quants.c that llama.cpp's converter quantizes with).

Writes test/golden/gguf-quants.json: for Q8_0, Q4_0, Q4_K and Q6_K, seeded random blocks
(raw bytes, the fp16 scales drawn as finite halves) and what gguf-py dequantizes them to;
for Q8_0 and Q4_0, seeded float32 rows (with exact ties and zero blocks) and the bytes
gguf-py quantizes them to; for F16, float32 values (overflow, subnormals, ties) and numpy's
round-to-nearest-even half bits. test/io/gguf-quant.test.ts checks lmforge against it.

gguf-py ships inside node-llama-cpp's llama.cpp source bundle, so no network is needed:

    git clone node_modules/node-llama-cpp/llama/gitRelease.bundle /tmp/llama.cpp
    /usr/bin/python3 tools/reference/make_gguf_goldens.py --gguf-py /tmp/llama.cpp/gguf-py
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "test", "golden", "gguf-quants.json")
SEED = 20241201


def random_halves(rng, n):
    """Finite fp16 scales of moderate size, as a quantizer would write them."""
    return (rng.standard_normal(n) * 0.05).astype(np.float16)


def dequant_case(quants, qtype, name, rng, blocks):
    block_bytes = quants.GGML_QUANT_SIZES[qtype][1]
    raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    # Put finite halves where each layout keeps its fp16 scales.
    halves = {"Q8_0": [0], "Q4_0": [0], "Q4_K": [0, 2], "Q6_K": [208]}[name]
    for at in halves:
        raw[:, at : at + 2] = random_halves(rng, blocks).view(np.uint8).reshape(blocks, 2)
    values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32)
    return {"type": name, "bytes": raw.reshape(-1).tobytes().hex(), "values": [float(v) for v in values]}


def quant_case(quants, qtype, name, rng):
    rows = rng.standard_normal((4, 32)).astype(np.float32)
    rows[1] = 0  # an all-zero block: scale 0
    rows[2] = np.arange(-16, 16, dtype=np.float32) / 16  # exact ties of x * id + 8.5 / roundf
    rows[3, :16] *= 1e-3  # small values next to large ones
    data = quants.quantize(rows.reshape(1, -1), qtype)
    return {"type": name, "values": [float(v) for v in rows.reshape(-1)], "bytes": data.tobytes().hex()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gguf-py", required=True, help="llama.cpp's gguf-py folder")
    args = parser.parse_args()
    sys.path.insert(0, args.gguf_py)
    import gguf  # noqa: E402  (from the path just added)
    from gguf import quants  # noqa: E402

    commit = subprocess.run(
        ["git", "-C", args.gguf_py, "log", "-1", "--format=%H"], capture_output=True, text=True
    ).stdout.strip()
    rng = np.random.default_rng(SEED)
    T = gguf.GGMLQuantizationType
    dequant = [
        dequant_case(quants, T.Q8_0, "Q8_0", rng, 3),
        dequant_case(quants, T.Q4_0, "Q4_0", rng, 3),
        dequant_case(quants, T.Q4_K, "Q4_K", rng, 2),
        dequant_case(quants, T.Q6_K, "Q6_K", rng, 2),
    ]
    quant = [quant_case(quants, T.Q8_0, "Q8_0", rng), quant_case(quants, T.Q4_0, "Q4_0", rng)]
    edge = [65504, 65519.99, 65520, 1e6, -65536, 2**-14, 2**-24, 2**-25, 1.5 * 2**-25, 2**-26, 1 + 2**-11,
            1 + 3 * 2**-11, -0.0, 0.1, 1 / 3]
    floats = np.concatenate([np.array(edge, dtype=np.float32), rng.standard_normal(32).astype(np.float32)])
    f16 = {"values": [float(v) for v in floats], "bits": [int(b) for b in floats.astype(np.float16).view(np.uint16)]}
    out = {
        "generator": "tools/reference/make_gguf_goldens.py",
        "seed": SEED,
        "gguf_py_commit": commit,
        "numpy": np.__version__,
        "tolerance": "exact: float32 arithmetic in the same order as ggml-quants.c",
        "dequantize": dequant,
        "quantize": quant,
        "f16": f16,
    }
    with open(OUT, "w") as f:
        json.dump(out, f)
        f.write("\n")
    prettier = os.path.join(ROOT, "node_modules", ".bin", "prettier")
    if os.path.exists(prettier):
        subprocess.run([prettier, "--write", OUT], check=True, capture_output=True)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
