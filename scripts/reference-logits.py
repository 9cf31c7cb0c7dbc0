#!/usr/bin/env python3
"""Qwen 3's, Gemma 3's and Phi-3's forward passes in float64 NumPy, written from each
architecture's definition with none of LocalGPT's or candle's code: the references its own
forward pass is held to (`*_gives_the_float64_reference_logits` in crates/inference).
Prints the first twelve logits after PROMPT (token ids) for the model in FILE.

- Qwen 3: each head's query and key RMS-normalised before a rotation by halves, grouped
  key/value heads, SwiGLU.
- Gemma 3: embeddings times sqrt(width); query and key norms; the attention's and the
  feed-forward's outputs RMS-normalised before they are added back; GELU (tanh form)
  gating; five local layers of six attend to a sliding window with rotary base 10,000,
  the sixth to everything with the file's base, positions divided by its linear scaling.
  (GGUF norm gains already hold Gemma's 1 + w.)
- Phi-3: query, key and value rows in one matrix, gate and up rows in another.

usage: python3 scripts/reference-logits.py FILE [TOKEN ...]     # needs: pip install gguf numpy
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
arch = reader.fields["general.architecture"].contents()
meta = {name[len(arch) + 1 :]: field.contents() for name, field in reader.fields.items() if name.startswith(arch + ".")}
heads, kv_heads = meta["attention.head_count"], meta["attention.head_count_kv"]
head = meta.get("attention.key_length", meta["embedding_length"] // heads)
eps, base = meta["attention.layer_norm_rms_epsilon"], meta.get("rope.freq_base", 10000.0)
gemma = arch == "gemma3"


def rms(x, gain):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * gain


def rotate(x, positions, base):
    angles = np.outer(positions, 1.0 / base ** (np.arange(0, head, 2) / head))[:, None, :]
    first, second = x[..., : head // 2], x[..., head // 2 :]
    cos, sin = np.cos(angles), np.sin(angles)
    return np.concatenate([first * cos - second * sin, first * sin + second * cos], -1)


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def silu(x):
    return x / (1 + np.exp(-x))


n = len(prompt)
x = weights["token_embd.weight"][prompt] * (np.sqrt(meta["embedding_length"]) if gemma else 1.0)
positions = np.arange(n, dtype=np.float64)
causal = np.triu(np.full((n, n), -np.inf), 1)
for layer in range(meta["block_count"]):
    w = lambda part: weights[f"blk.{layer}.{part}.weight"]
    has = lambda part: f"blk.{layer}.{part}.weight" in weights
    local = gemma and layer % 6 < 5
    h = rms(x, w("attn_norm"))
    if has("attn_qkv"):
        q, k, v = np.split(h @ w("attn_qkv").T, [heads * head, (heads + kv_heads) * head], -1)
    else:
        q, k, v = h @ w("attn_q").T, h @ w("attn_k").T, h @ w("attn_v").T
    q, k, v = q.reshape(n, heads, head), k.reshape(n, kv_heads, head), v.reshape(n, kv_heads, head)
    if has("attn_q_norm"):
        q, k = rms(q, w("attn_q_norm")), rms(k, w("attn_k_norm"))
    if local:
        where, layer_base = positions, 10000.0
    else:
        where, layer_base = positions / meta.get("rope.scaling.factor", 1.0), base
    q, k = rotate(q, where, layer_base), rotate(k, where, layer_base)
    mask = causal.copy()
    if local:
        window = meta["attention.sliding_window"]
        mask[np.subtract.outer(np.arange(n), np.arange(n)) >= window] = -np.inf
    attended = np.zeros((n, heads, head))
    for i in range(heads):
        g = i // (heads // kv_heads)
        scores = q[:, i] @ k[:, g].T / np.sqrt(head) + mask
        p = np.exp(scores - scores.max(-1, keepdims=True))
        attended[:, i] = (p / p.sum(-1, keepdims=True)) @ v[:, g]
    out = attended.reshape(n, heads * head) @ w("attn_output").T
    x = x + (rms(out, w("post_attention_norm")) if gemma else out)
    h = rms(x, w("ffn_norm"))
    if has("ffn_gate"):
        gate, up = h @ w("ffn_gate").T, h @ w("ffn_up").T
    else:
        gate, up = np.split(h @ w("ffn_up").T, 2, -1)
    out = ((gelu(gate) if gemma else silu(gate)) * up) @ w("ffn_down").T
    x = x + (rms(out, w("post_ffw_norm")) if gemma else out)
output = weights.get("output.weight", weights["token_embd.weight"])
logits = rms(x[-1], weights["output_norm.weight"]) @ output.T
print(", ".join(f"{v:.5f}" for v in logits[:12]))
