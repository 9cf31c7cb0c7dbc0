#!/usr/bin/env python3
"""A real-size Qwen 3 GGUF with random weights, for speed only: ../shared/bench/synth_gguf.py
with Qwen 3's layout — heads of 128 values whatever the width (so the query is wider than
the model), each head's query and key normalised, rotation base 1e6. Tokenizer and chat
template copied from a small real model.
usage: synth_qwen3_gguf.py SRC.gguf OUT.gguf q8|q4km [hidden layers heads kv_heads ffn]
Qwen3-4B: 2560 36 32 8 9728."""
import sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

src, out, kind = sys.argv[1:4]
hidden, layers, heads, kv, ffn = (int(x) for x in (sys.argv[4:9] or (2048, 16, 32, 8, 8192)))
r = gguf.GGUFReader(src)
arch = "qwen3"
w = gguf.GGUFWriter(out, arch)
skip = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")
for name, f in r.fields.items():
    if name.startswith(skip) or name.startswith("llama.") or name.startswith("qwen3."):
        continue
    t = f.types[0]
    val = f.contents()
    sub = f.types[1] if t == V.ARRAY else None
    w.add_key_value(name, val, t, sub_type=sub)
w.add_block_count(layers); w.add_embedding_length(hidden); w.add_feed_forward_length(ffn)
w.add_head_count(heads); w.add_head_count_kv(kv); w.add_context_length(8192)
hd = 128
w.add_key_length(hd); w.add_value_length(hd)
w.add_rope_dimension_count(hd); w.add_rope_freq_base(1000000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(7 if kind == "q8" else 15)  # MOSTLY_Q8_0 / MOSTLY_Q4_K_M
vocab = len(r.fields["tokenizer.ggml.tokens"].data)
rng = np.random.default_rng(7)

def half(x):
    return np.frombuffer(np.float16(x).tobytes(), dtype=np.uint8)

def blocks(qtype, rows, cols):
    bs, ts = gguf.GGML_QUANT_SIZES[qtype]
    nb = cols // bs
    b = rng.integers(0, 256, size=(rows, nb, ts), dtype=np.uint8)
    if qtype == Q.Q8_0:
        b[:, :, 0:2] = half(0.002)
    elif qtype == Q.Q4_K:
        b[:, :, 0:2] = half(0.0004); b[:, :, 2:4] = half(0.0004)
    elif qtype == Q.Q6_K:
        b[:, :, ts - 2:ts] = half(0.0004)
        b[:, :, 192:208] = rng.integers(1, 16, size=(rows, nb, 16), dtype=np.uint8)
    return b.reshape(rows, nb * ts)

def add(name, qtype, rows, cols):
    w.add_tensor(name, blocks(qtype, rows, cols), raw_dtype=qtype)

main = Q.Q8_0 if kind == "q8" else Q.Q4_K
heavy = Q.Q8_0 if kind == "q8" else Q.Q6_K
add("token_embd.weight", heavy, vocab, hidden)
for i in range(layers):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", np.ones(hidden, dtype=np.float32))
    w.add_tensor(p + "ffn_norm.weight", np.ones(hidden, dtype=np.float32))
    add(p + "attn_q.weight", main, heads * hd, hidden)
    w.add_tensor(p + "attn_q_norm.weight", np.ones(hd, dtype=np.float32))
    w.add_tensor(p + "attn_k_norm.weight", np.ones(hd, dtype=np.float32))
    add(p + "attn_k.weight", main, kv * hd, hidden)
    add(p + "attn_v.weight", heavy if i % 2 == 0 else main, kv * hd, hidden)
    add(p + "attn_output.weight", main, hidden, heads * hd)
    add(p + "ffn_gate.weight", main, ffn, hidden)
    add(p + "ffn_up.weight", main, ffn, hidden)
    add(p + "ffn_down.weight", heavy if i % 2 == 0 else main, hidden, ffn)
w.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print(out)
