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
# n_threads_batch too: llama-cpp-python otherwise reads prompts on every core whatever
# n_threads says, and the comparison is at the same thread count.
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=2048,
            verbose=False, seed=1)
prompt = ("<|im_start|>user\nWrite a short story about a lighthouse keeper.<|im_end|>\n"
          "<|im_start|>assistant\n")
for _ in range(2):
    llm.reset()
    started_first = time.perf_counter()
    first, tokens = None, 0
    for _chunk in llm(prompt, max_tokens=128, temperature=0, stream=True):
        if first is None:
            first = time.perf_counter()
        tokens += 1
    ended = time.perf_counter()
generation = (tokens - 1) / (ended - first)
# Prompt reading: a longer prompt evaluated in one go, as a chat's history is.
long_prompt = llm.tokenize((prompt * 10).encode(), add_bos=False)
rates = []
for _ in range(3):
    llm.reset()
    started = time.perf_counter()
    llm.eval(long_prompt)
    rates.append(len(long_prompt) / (time.perf_counter() - started))
prompt_tokens = len(llm.tokenize(prompt.encode(), add_bos=False))
print(f"llama.cpp, {threads} thread(s): first token {first - started_first:.3f} s "
      f"after {prompt_tokens} prompt tokens, "
      f"generation {generation:.1f} tokens/s over {tokens} tokens, "
      f"prompt {max(rates):.0f} tokens/s ({len(long_prompt)} tokens)")
