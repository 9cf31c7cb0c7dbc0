#!/usr/bin/env python3
"""The yardstick for local embeddings: onnxruntime running all-MiniLM-L6-v2's fp32 graph
on the same token ids `cargo bench --bench embed` embeds (it writes them to
target/embed-bench-tokens.json), in batches of 32 padded to the longest, with
onnxruntime's full graph optimisations, on 1 and 2 threads.

No ONNX export of the model is available offline, so the graph is built here from the
model's own safetensors weights with onnx's helper API: the standard BERT encoder
(embeddings, 6 × [self-attention, LayerNorm, GELU feed-forward, LayerNorm]), fp32
throughout, mean pooling after. Its output is checked against LocalGPT's vectors for
the first sentences before anything is timed.

    pip install onnx onnxruntime
    RAYON_NUM_THREADS=1 LOCALGPT_TEST_WHEELS=model-wheels cargo bench --bench embed
    python3 benches/embed-onnxruntime.py ~/.localgpt/models/all-minilm-l6-v2
"""
import json, math, os, struct, sys, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

model_dir = os.path.expanduser(sys.argv[1])
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tokens = json.load(open(f"{repo}/target/embed-bench-tokens.json"))
config = json.load(open(f"{model_dir}/config.json"))


def safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    start = 8 + length
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[start + begin:start + end], dtype=np.float32)
        tensors[name.removeprefix("bert.")] = array.reshape(info["shape"])
    return tensors


weights = safetensors(f"{model_dir}/model.safetensors")
hidden, heads = config["hidden_size"], config["num_attention_heads"]
head_size = hidden // heads
eps = config.get("layer_norm_eps", 1e-12)
initializers, nodes = [], []


def const(name, array):
    initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
    return name


def node(op, inputs, name, **attributes):
    nodes.append(helper.make_node(op, inputs, [name], name=name, **attributes))
    return name


def dense(x, prefix, out):
    w = const(f"{prefix}.wT", weights[f"{prefix}.weight"].T)
    b = const(f"{prefix}.b", weights[f"{prefix}.bias"])
    return node("Add", [node("MatMul", [x, w], f"{out}.mm"), b], out)


def norm(x, prefix, out):
    g = const(f"{prefix}.g", weights[f"{prefix}.weight"])
    b = const(f"{prefix}.b", weights[f"{prefix}.bias"])
    return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)


split_heads = const("split_heads", np.array([0, 0, heads, head_size], dtype=np.int64))
join_heads = const("join_heads", np.array([0, 0, hidden], dtype=np.int64))
scale = const("scale", np.array(1 / math.sqrt(head_size), dtype=np.float32))
half = const("half", np.array(0.5, dtype=np.float32))
one = const("one", np.array(1.0, dtype=np.float32))
root2 = const("root2", np.array(math.sqrt(2.0), dtype=np.float32))

embedded = node("Add", [
    node("Add", [
        node("Gather", [const("word", weights["embeddings.word_embeddings.weight"]), "input_ids"], "e.word"),
        node("Gather", [const("type", weights["embeddings.token_type_embeddings.weight"]), "token_type_ids"], "e.type"),
    ], "e.sum"),
    node("Gather", [const("pos", weights["embeddings.position_embeddings.weight"]), "position_ids"], "e.pos"),
], "e.all")
x = norm(embedded, "embeddings.LayerNorm", "e.norm")
for i in range(config["num_hidden_layers"]):
    p = f"encoder.layer.{i}"
    def project(kind, perm):
        projected = dense(x, f"{p}.attention.self.{kind}", f"{p}.{kind}")
        shaped = node("Reshape", [projected, split_heads], f"{p}.{kind}.heads")
        return node("Transpose", [shaped], f"{p}.{kind}.t", perm=perm)
    q = project("query", [0, 2, 1, 3])
    k = project("key", [0, 2, 3, 1])
    v = project("value", [0, 2, 1, 3])
    scores = node("Add", [node("Mul", [node("MatMul", [q, k], f"{p}.qk"), scale], f"{p}.scaled"), "mask_bias"], f"{p}.scores")
    context = node("MatMul", [node("Softmax", [scores], f"{p}.probs", axis=-1), v], f"{p}.context")
    joined = node("Reshape", [node("Transpose", [context], f"{p}.context.t", perm=[0, 2, 1, 3]), join_heads], f"{p}.joined")
    attended = norm(node("Add", [dense(joined, f"{p}.attention.output.dense", f"{p}.ao"), x], f"{p}.res1"),
                    f"{p}.attention.output.LayerNorm", f"{p}.n1")
    inner = dense(attended, f"{p}.intermediate.dense", f"{p}.inner")
    gelu = node("Mul", [node("Mul", [inner, half], f"{p}.halfx"),
                        node("Add", [one, node("Erf", [node("Div", [inner, root2], f"{p}.div")], f"{p}.erf")], f"{p}.1erf")],
                f"{p}.gelu")
    x = norm(node("Add", [dense(gelu, f"{p}.output.dense", f"{p}.out"), attended], f"{p}.res2"),
             f"{p}.output.LayerNorm", f"{p}.n2")
nodes[-1].output[0] = "hidden"

ints = lambda name: helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
graph = helper.make_graph(
    nodes, "minilm",
    [ints("input_ids"), ints("token_type_ids"), ints("position_ids"),
     helper.make_tensor_value_info("mask_bias", TensorProto.FLOAT, ["batch", 1, 1, "tokens"])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", hidden])],
    initializer=initializers)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.checker.check_model(model)
serialized = model.SerializeToString()


def session(threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(serialized, options, providers=["CPUExecutionProvider"])


def embed(sess, batch):
    longest = max(len(ids) for ids in batch)
    ids = np.zeros((len(batch), longest), dtype=np.int64)
    mask = np.zeros((len(batch), longest), dtype=np.float32)
    for row, text in enumerate(batch):
        ids[row, :len(text)] = text
        mask[row, :len(text)] = 1
    positions = np.broadcast_to(np.arange(longest, dtype=np.int64), ids.shape).copy()
    bias = ((mask - 1.0) * 10000.0).reshape(len(batch), 1, 1, longest)
    (states,) = sess.run(["hidden"], {"input_ids": ids, "token_type_ids": np.zeros_like(ids),
                                      "position_ids": positions, "mask_bias": bias})
    pooled = (states * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


ours = np.array(tokens["vectors"], dtype=np.float32)
theirs = embed(session(1), tokens["sentences"][:len(ours)])
worst = float((ours * theirs).sum(1).min())
print(f"the graph's vectors against LocalGPT's: lowest cosine {worst:.6f}")
if worst < 0.999:
    sys.exit("the ONNX graph does not compute what LocalGPT does; not timing it")

for threads in (1, 2):
    sess = session(threads)
    for kind, unit in (("sentences", "sentences"), ("chunks", "chunks")):
        texts = tokens[kind]
        embed(sess, texts[:32])  # warm up
        rates = []
        for _ in range(3):
            started = time.perf_counter()
            for at in range(0, len(texts), 32):
                embed(sess, texts[at:at + 32])
            rates.append(len(texts) / (time.perf_counter() - started))
        print(f"onnxruntime {ort.__version__}, {threads} thread(s): "
              f"{max(rates):.1f} {unit}/s ({len(texts)} {kind}, "
              f"{sum(map(len, texts)) / len(texts):.0f} word pieces on average, batches of 32)")
