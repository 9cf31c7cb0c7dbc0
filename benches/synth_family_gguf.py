#!/usr/bin/env python3
"""A real-size GGUF with random weights of a family ../shared/bench/synth_gguf.py does not
write, for speed only; tokenizer and chat template copied from a small real model (its
vocabulary padded with unused tokens to the family's size).

- qwen3: heads of 128 values whatever the width, each head's query and key normalised,
  rotation base 1e6. Qwen3-4B: 2560 36 32 8 9728.
- gemma3: heads of 256, query/key norms, post-norms, a sliding window of 512 on five
  layers of six, tied embeddings over 262,144 tokens. Gemma-3-1B: 1152 26 4 1 6912.
- phi3: query/key/value in one matrix, gate/up in another, 32,064 tokens.
  Phi-3-mini-4k: 3072 32 32 32 8192.

usage: synth_family_gguf.py FAMILY SRC.gguf OUT.gguf q8|q4km hidden layers heads kv_heads ffn
"""
import sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

arch, src, out, kind = sys.argv[1:5]
hidden, layers, heads, kv, ffn = (int(x) for x in sys.argv[5:10])
head = {"qwen3": 128, "gemma3": 256}.get(arch, hidden // heads)
vocab_of_family = {"gemma3": 262144, "phi3": 32064}
r = gguf.GGUFReader(src)
w = gguf.GGUFWriter(out, arch)
skip = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")
for name, f in r.fields.items():
    if name.startswith(skip) or name.split(".")[0] in ("llama", "qwen3", "gemma3", "phi3"):
        continue
    if name in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type"):
        continue
    t = f.types[0]
    w.add_key_value(name, f.contents(), t, sub_type=f.types[1] if t == V.ARRAY else None)
tokens = list(r.fields["tokenizer.ggml.tokens"].contents())
types = list(r.fields["tokenizer.ggml.token_type"].contents())
vocab = max(len(tokens), vocab_of_family.get(arch, 0))
tokens += [f"<unused{i}>" for i in range(vocab - len(tokens))]
types += [5] * (vocab - len(types))
w.add_token_list(tokens)
w.add_token_types(types)
w.add_block_count(layers); w.add_embedding_length(hidden); w.add_feed_forward_length(ffn)
w.add_head_count(heads); w.add_head_count_kv(kv); w.add_context_length(8192)
w.add_key_length(head); w.add_value_length(head)
w.add_rope_dimension_count(head)
w.add_rope_freq_base({"qwen3": 1e6, "gemma3": 1e6}.get(arch, 10000.0))
w.add_layer_norm_rms_eps(1e-6 if arch == "gemma3" else 1e-5)
if arch == "gemma3":
    w.add_sliding_window(512)
w.add_file_type(7 if kind == "q8" else 15)  # MOSTLY_Q8_0 / MOSTLY_Q4_K_M
rng = np.random.default_rng(7)


def half(x):
    return np.frombuffer(np.float16(x).tobytes(), dtype=np.uint8)


def blocks(qtype, rows, cols):
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    nb = cols // bs
    b = rng.integers(0, 256, size=(rows, nb, ts), dtype=np.uint8)
    if qtype == Q.Q8_0:
        b[:, :, 0:2] = half(0.002)
    elif qtype == Q.Q5_0:
        b[:, :, 0:2] = half(0.004)
    elif qtype == Q.Q4_K:
        b[:, :, 0:2] = half(0.0004); b[:, :, 2:4] = half(0.0004)
    elif qtype == Q.Q6_K:
        b[:, :, ts - 2:ts] = half(0.0004)
        b[:, :, 192:208] = rng.integers(1, 16, size=(rows, nb, 16), dtype=np.uint8)
    return b.reshape(rows, nb * ts)


# What llama.cpp's quantizer writes instead when a row is not whole 256-value blocks
# (Gemma-3-1B's width of 1152).
FALLBACK = {Q.Q4_K: Q.Q5_0, Q.Q6_K: Q.Q8_0}


def add(name, qtype, rows, cols):
    if cols % 256 != 0:
        qtype = FALLBACK.get(qtype, qtype)
    w.add_tensor(name, blocks(qtype, rows, cols), raw_dtype=qtype)


def ones(name, n):
    w.add_tensor(name, np.ones(n, dtype=np.float32))


main = Q.Q8_0 if kind == "q8" else Q.Q4_K
heavy = Q.Q8_0 if kind == "q8" else Q.Q6_K
add("token_embd.weight", heavy, vocab, hidden)
for i in range(layers):
    p = f"blk.{i}."
    ones(p + "attn_norm.weight", hidden)
    ones(p + "ffn_norm.weight", hidden)
    if arch in ("qwen3", "gemma3"):
        ones(p + "attn_q_norm.weight", head)
        ones(p + "attn_k_norm.weight", head)
    if arch == "gemma3":
        ones(p + "post_attention_norm.weight", hidden)
        ones(p + "post_ffw_norm.weight", hidden)
    mixed = heavy if i % 2 == 0 else main
    if arch == "phi3":
        add(p + "attn_qkv.weight", main, (heads + 2 * kv) * head, hidden)
        add(p + "ffn_up.weight", main, 2 * ffn, hidden)
    else:
        add(p + "attn_q.weight", main, heads * head, hidden)
        add(p + "attn_k.weight", main, kv * head, hidden)
        add(p + "attn_v.weight", mixed, kv * head, hidden)
        add(p + "ffn_gate.weight", main, ffn, hidden)
        add(p + "ffn_up.weight", main, ffn, hidden)
    add(p + "attn_output.weight", main, hidden, heads * head)
    add(p + "ffn_down.weight", mixed, hidden, ffn)
ones("output_norm.weight", hidden)
if arch == "phi3":
    add("output.weight", heavy, vocab, hidden)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print(out)
