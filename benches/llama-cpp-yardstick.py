#!/usr/bin/env python3
"""The yardstick for the built-in chat model: llama.cpp, through llama-cpp-python, on
the same GGUF file. Prints the time to the first token and generation speed (greedy,
128 tokens, the second of two runs).

    CMAKE_ARGS="-DGGML_NATIVE=ON" pip wheel --no-deps -w ~/wheels llama-cpp-python  # ~25 min
    pip install ~/wheels/llama_cpp_python-*.whl
    python3 benches/llama-cpp-yardstick.py ~/.localgpt/models/smollm2/model.gguf 1
"""
import sys
import time

from llama_cpp import Llama

path, threads = sys.argv[1], int(sys.argv[2])
llm = Llama(model_path=path, n_threads=threads, n_ctx=2048, verbose=False, seed=1)
prompt = ("<|im_start|>user\nWrite a short story about a lighthouse keeper.<|im_end|>\n"
          "<|im_start|>assistant\n")
for _ in range(2):
    llm.reset()
    started = time.perf_counter()
    first, tokens = None, 0
    for _chunk in llm(prompt, max_tokens=128, temperature=0, stream=True):
        if first is None:
            first = time.perf_counter()
        tokens += 1
    ended = time.perf_counter()
print(f"llama.cpp, {threads} thread(s): first token {first - started:.3f} s, "
      f"{(tokens - 1) / (ended - first):.1f} tokens/s over {tokens} tokens")
