"""Times transformers' forward pass for `distill bench parity` (written by Distill; run with the python of the
hf-reference setup, which provides transformers 4.40 and PyTorch).

usage: python3 hf_forward_timing.py MODEL_DIR INPUTS.safetensors OUT.safetensors THREADS REPEATS

Loads MODEL_DIR with AutoModelForCausalLM (float32, eager attention, eval), runs one warm-up and REPEATS timed
forward passes over input_ids under no_grad without a KV cache, writes the last logits to OUT and prints one JSON
line: load_s, forward_s (each timed pass), matmul_gflops (a [2048, 2048] float32 matmul, median of 5 after one
warm-up: what this PyTorch's BLAS reaches), threads, torch and transformers versions."""
import json
import sys
import time

import torch
import transformers
from safetensors.torch import load_file, save_file


def matmul_gflops(n=2048, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    times = []
    for r in range(repeats + 1):
        start = time.perf_counter()
        torch.matmul(a, b)
        elapsed = time.perf_counter() - start
        if r > 0:
            times.append(elapsed)
    return 2.0 * n ** 3 / sorted(times)[len(times) // 2] / 1e9


def main(argv):
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    model_dir, inputs, out, threads, repeats = argv[1], argv[2], argv[3], int(argv[4]), int(argv[5])
    torch.set_num_threads(threads)
    start = time.perf_counter()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        model_dir, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    load_s = time.perf_counter() - start
    ids = load_file(inputs)["input_ids"]
    times = []
    with torch.no_grad():
        for r in range(repeats + 1):
            start = time.perf_counter()
            logits = model(input_ids=ids, use_cache=False).logits
            elapsed = time.perf_counter() - start
            if r > 0:
                times.append(elapsed)
    save_file({"logits": logits.float().contiguous()}, out)
    print(json.dumps({"load_s": load_s, "forward_s": times, "matmul_gflops": matmul_gflops(),
                      "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "transformers": transformers.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
