"""What every implementation of the benchmark shares: workloads, data, initial weights, flop count.

A workload is one recurrent layer (`rnn`, `lstm` or `indrnn`, H units) under a dense softmax output layer
(C classes), trained on B independent streams of I-dimensional inputs with truncated BPTT,
tau_b = tau_max = K, plain SGD (lr 0.01, no momentum, weight decay or clipping):

    rnn     h_t = tanh(W_s x_t + W_t h_{t-1} + b)                 W_s: H x I, W_t: H x H, b: H
    lstm    i, f, g, o = split(W_s x_t + b_s + W_t h_{t-1} + b_t)  W_s: 4H x I, W_t: 4H x H,
            c_t = sig(f) * c_{t-1} + sig(i) * tanh(g)              b_s, b_t: 4H (PyTorch gate
            h_t = sig(o) * tanh(c_t)                               order i, f, g, o)
    indrnn  h_t = tanh(W_s x_t + w_t * h_{t-1} + b)               W_s: H x I, w_t: H (element-
                                                                  wise: TW = diag(w_t)), b: H
    output  p_t = softmax(W_o h_t + b_o)                          W_o: C x H, b_o: C
    loss    mean over the window's (lane, step) pairs of -log p_t[y_t]
            (nn.CrossEntropyLoss(reduction='mean'))

Truncation: the stream is cut into windows of K steps. Window w runs forward from the state the
previous window ended in (h, and c for lstm; zero for the first window), backpropagates through
its own K steps only (no gradient reaches the carried state), makes one SGD update and hands its
final state to window w + 1. This is rnn-exp's BPTT(K, K) on a stream.

Data, generated here once and written to a directory (`export`) that every implementation,
rnn-exp's `tbptt-bench` included, reads:
    steps = (warmup + windows) * K
    x.npy  float32 (steps, B, I), time-major, standard normal   (numpy default_rng(seed))
    y.npy  int64   (steps, B), class ids uniform in [0, C)       (default_rng(seed + 1))
    init_<tensor>.npy  initial weights, float32, named as rnn-exp names its tensors
           (layers.0.W_s, layers.0.W_t (indrnn: layers.0.w_t), layers.0.b or layers.0.b_s /
           layers.0.b_t, layers.1.W_s, layers.1.b), drawn in that order from default_rng(seed + 2) in float64, uniform in
           [-1/sqrt(units), 1/sqrt(units)] of their layer (units = H for the recurrent layer,
           C for the output layer: rnn-exp's and PyTorch's default initialisation)
    workload.json  name, layer, I, H, C, B, K, lr, warmup, windows (online workloads also
                   algorithm and, when given, rflo_decay: see export)
Since data and weights are the same, every implementation's final loss agrees up to float32
rounding; `run_bench.py` holds them to 1e-4 (relative) of rnn-exp's.

Timing (`time_training`): `warmup` windows first (untimed; they include JIT compilation, except
for a trainer that compiles ahead of time, which reports `compile_seconds`), then
`windows` windows timed with time.perf_counter, synchronised at both ends. Reported:
    sample_steps_per_s = B * K * windows / seconds
    final_loss         = the loss of the last timed window (computed before its update)
"""

import json
import os
import time

import numpy as np

LR = 0.01

# name: (I, H, C, B, K); the same shapes serve the rnn and the lstm rows.
SHAPES = {
    "small": (16, 32, 16, 16, 20),
    "medium": (64, 128, 64, 32, 25),
    "large": (64, 512, 64, 64, 50),
}
GATES = {"rnn": 1, "lstm": 4, "indrnn": 1}


def tensor_names(layer):
    """Initial weights in the order they are drawn: the recurrent layer's, then the output layer's."""
    recurrent = {"rnn": ["W_s", "W_t", "b"], "indrnn": ["W_s", "w_t", "b"]}.get(layer, ["W_s", "W_t", "b_s", "b_t"])
    return [f"layers.0.{n}" for n in recurrent] + ["layers.1.W_s", "layers.1.b"]


def tensor_shapes(layer, I, H, C):
    g = GATES[layer] * H
    shapes = {"layers.0.W_s": (g, I), "layers.0.W_t": (g, H), "layers.0.w_t": (H,), "layers.0.b": (g,),
              "layers.0.b_s": (g,), "layers.0.b_t": (g,), "layers.1.W_s": (C, H), "layers.1.b": (C,)}
    return {n: shapes[n] for n in tensor_names(layer)}


def initial_weights(layer, I, H, C, seed=0):
    rng = np.random.default_rng(seed + 2)
    out = {}
    for name, shape in tensor_shapes(layer, I, H, C).items():
        bound = 1.0 / np.sqrt(C if name.startswith("layers.1.") else H)
        out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return out


def stream_data(I, C, B, steps, seed=0):
    x = np.random.default_rng(seed).standard_normal((steps, B, I), dtype=np.float32)
    y = np.random.default_rng(seed + 1).integers(0, C, size=(steps, B), dtype=np.int64)
    return x, y


def export(directory, name, layer, warmup, windows, seed=0, algorithm=None, rflo_decay=None):
    """Writes one workload's data, initial weights and workload.json to `directory`.

    `algorithm` (rtrl, snap1, uoro, rflo) makes it an online workload: workload.json gains
    "algorithm" (and "rflo_decay" when given), and a window is K online steps (K updates, tau_b = 1)
    instead of one BPTT(K, K) update; see numpy_online.py."""
    I, H, C, B, K = SHAPES[name]
    os.makedirs(directory, exist_ok=True)
    x, y = stream_data(I, C, B, (warmup + windows) * K, seed)
    np.save(os.path.join(directory, "x.npy"), x)
    np.save(os.path.join(directory, "y.npy"), y)
    for tensor, value in initial_weights(layer, I, H, C, seed).items():
        np.save(os.path.join(directory, f"init_{tensor}.npy"), value)
    meta = dict(name=name, layer=layer, I=I, H=H, C=C, B=B, K=K, lr=LR, warmup=warmup, windows=windows)
    if algorithm is not None:
        meta["algorithm"] = algorithm
        if rflo_decay is not None:
            meta["rflo_decay"] = rflo_decay
    with open(os.path.join(directory, "workload.json"), "w") as f:
        json.dump(meta, f)
    return meta


def load(directory):
    """(workload.json as a dict, x, y, initial weights by tensor name) of an exported workload."""
    with open(os.path.join(directory, "workload.json")) as f:
        meta = json.load(f)
    x = np.load(os.path.join(directory, "x.npy"))
    y = np.load(os.path.join(directory, "y.npy"))
    weights = {n: np.load(os.path.join(directory, f"init_{n}.npy")) for n in tensor_names(meta["layer"])}
    return meta, x, y, weights


def gemm_flops_per_sample_step(layer, I, H, C, K):
    """Matrix-product flops of one (lane, step) of training, forward and backward (2 per multiply-add).

    With G = gates * H rows in the recurrent layer (G = H for rnn, 4H for lstm):
        forward               2 (I G + H G + H C)      input projection, recurrence, output layer
        weight gradients      2 (I G + H G + H C)      dW_s, dW_t, dW_o
        errors back to h      2 H C + 2 H G (K-1)/K    through W_o every step; through W_t at every
                                                       step but the window's first (the carried
                                                       state gets no gradient); never back to x
    total = 4 I G + (6 - 2/K) H G + 6 H C. Element-wise work (activations, gates, softmax, biases)
    is not counted. indrnn (G = H): its recurrence w_t * h is element-wise, so 4 I H + 6 H C.
    """
    G = GATES[layer] * H
    if layer == "indrnn":
        return 4 * I * G + 6 * H * C
    return 4 * I * G + (6 - 2 / K) * H * G + 6 * H * C


def time_training(trainer, B, K, warmup, windows):
    """Runs `warmup` untimed windows and `windows` timed ones; returns the result fields.

    A trainer with a `compile(*counts)` method (the JAX online peer: one jit per train() call of
    `count` windows) compiles ahead of time first; its seconds are reported as `compile_seconds`,
    outside both the warm-up and the timed windows."""
    compile_seconds = trainer.compile(warmup, windows) if hasattr(trainer, "compile") else None
    t0 = time.perf_counter()
    if warmup:
        trainer.train(0, warmup)
    trainer.sync()
    t1, c1 = time.perf_counter(), time.process_time()
    loss = trainer.train(warmup, windows)
    trainer.sync()
    t2, c2 = time.perf_counter(), time.process_time()
    seconds = t2 - t1
    # CPU time of the process as well: on a shared machine the wall-clock rate counts the time
    # other processes had the CPU; the CPU-time rate does not (one thread: the two agree when quiet).
    cpu = max(c2 - c1, 1e-9)
    return {"seconds": round(seconds, 6), "sample_steps_per_s": round(B * K * windows / seconds, 1),
            "cpu_seconds": round(cpu, 6), "sample_steps_per_cpu_s": round(B * K * windows / cpu, 1),
            "final_loss": trainer.loss_value(loss), "warmup_seconds": round(t1 - t0, 3),
            **({} if compile_seconds is None else {"compile_seconds": round(compile_seconds, 3)})}
