#!/usr/bin/env python3
"""Qwen 3's forward pass in float64 NumPy, written from the architecture's definition (each
head's query and key RMS-normalised before a rotation by halves, grouped key/value heads,
SwiGLU), with none of LocalGPT's or candle's code: the reference its own forward pass is
held to (`qwen3_gives_the_float64_reference_logits` in crates/inference). Prints the first
twelve logits after PROMPT (token ids) for the model in FILE.

usage: python3 scripts/qwen3-reference.py FILE [TOKEN ...]     # needs: pip install gguf numpy
"""
import sys

import gguf
import numpy as np
from gguf.quants import dequantize

reader = gguf.GGUFReader(sys.argv[1])
prompt = [int(t) for t in sys.argv[2:]] or [(i * 7 + 3) % 96 for i in range(20)]
weights = {
    t.name: dequantize(t.data, t.tensor_type).astype(np.float64).reshape([int(x) for x in reversed(t.shape)])
    for t in reader.tensors
}
meta = {name: field.contents() for name, field in reader.fields.items() if name.startswith("qwen3.")}
heads, kv_heads = meta["qwen3.attention.head_count"], meta["qwen3.attention.head_count_kv"]
head = meta["qwen3.attention.key_length"]
eps, base = meta["qwen3.attention.layer_norm_rms_epsilon"], meta["qwen3.rope.freq_base"]


def rms(x, gain):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * gain


def rotate(x, positions):
    angles = np.outer(positions, 1.0 / base ** (np.arange(0, head, 2) / head))[:, None, :]
    first, second = x[..., : head // 2], x[..., head // 2 :]
    cos, sin = np.cos(angles), np.sin(angles)
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], -1)


n = len(prompt)
x = weights["token_embd.weight"][prompt]
positions = np.arange(n)
for layer in range(meta["qwen3.block_count"]):
    w = lambda part: weights[f"blk.{layer}.{part}.weight"]
    h = rms(x, w("attn_norm"))
    q = rms((h @ w("attn_q").T).reshape(n, heads, head), w("attn_q_norm"))
    k = rms((h @ w("attn_k").T).reshape(n, kv_heads, head), w("attn_k_norm"))
    v = (h @ w("attn_v").T).reshape(n, kv_heads, head)
    q, k = rotate(q, positions), rotate(k, positions)
    attended = np.zeros((n, heads, head))
    for i in range(heads):
        g = i // (heads // kv_heads)
        scores = q[:, i] @ k[:, g].T / np.sqrt(head) + np.triu(np.full((n, n), -np.inf), 1)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        attended[:, i] = (p / p.sum(-1, keepdims=True)) @ v[:, g]
    x = x + attended.reshape(n, heads * head) @ w("attn_output").T
    h = rms(x, w("ffn_norm"))
    gate, up = h @ w("ffn_gate").T, h @ w("ffn_up").T
    x = x + (gate / (1 + np.exp(-gate)) * up) @ w("ffn_down").T
output = weights.get("output.weight", weights["token_embd.weight"])
logits = rms(x[-1], weights["output_norm.weight"]) @ output.T
print(", ".join(f"{v:.5f}" for v in logits[:12]))
