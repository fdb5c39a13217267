#!/usr/bin/env python3
"""Checks the PyTorch snippet of docs/model.md that rebuilds an lru layer from a run's
final.safetensors: its outputs equal the numpy reference's lru forward (make_golden.py's
lru_step, which the Swift tests hold rnn-exp's lru to, 1e-13), for a layer with D (units = in)
and one without, with state != units.

Needs torch (not part of `make test`: run it where torch is installed, e.g. after `make bench`'s
peers): python3 Tests/Reference/check_lru_torch.py
"""
import os
import re
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_golden  # noqa: E402


def snippet():
    """The python block of docs/model.md that defines class LRU."""
    text = open(os.path.join(HERE, "..", "..", "docs", "model.md"), encoding="utf-8").read()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        if "class LRU" in block:
            return block
    raise SystemExit("docs/model.md has no python block with class LRU")


def check(units, inputs, state, seed):
    rng = np.random.default_rng(seed)
    layer = {"kind": "lru", "inputs": inputs, "units": units, "state": state}
    tensors = {}
    for name, shape in make_golden.lru_shapes(layer):
        tensors["layers.0." + name] = (rng.standard_normal(shape) * 0.5).astype(np.float32)
    tensors["layers.0.nu_log"] = np.log(-np.log(rng.uniform(0.8, 0.99, state))).astype(np.float32)
    T, B = 12, 3
    x = rng.standard_normal((T, B, inputs))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "final.safetensors")
        save_file(tensors, path)
        scope = {}
        exec(snippet(), scope)
        module = scope["LRU"](load_file(path), 0)
        ours = module(torch.from_numpy(x)).detach().numpy()
    p = {k.split(".")[-1]: v.astype(np.float64) for k, v in tensors.items()}
    s = np.zeros((B, state), dtype=complex)
    ref = []
    for n in range(T):
        h, s = make_golden.lru_step(p, x[n], s)
        ref.append(h)
    err = np.abs(ours - np.array(ref)).max() / np.abs(np.array(ref)).max()
    print("lru snippet vs numpy reference, units %d, in %d, state %d: max rel. diff %.1e" % (units, inputs, state, err))
    return err


worst = max(check(4, 3, 6, 1), check(5, 5, 3, 2))
if worst > 1e-12:
    raise SystemExit("the docs' lru snippet does not reproduce the layer (%.1e)" % worst)
print("ok")
