"""A hand-written Numba kernel for the scaling experiment: the yardstick for pysnn's generated code.

It does exactly the work of pysnn's ``numba-cpu`` run of ``pysnn.experiments.scaling``'s network
(100 Poisson inputs -> dense weights -> ``n_out`` LIF neurons, BindsNET semantics, float32), the
way a competent person would write it for this one network: one ``prange`` over samples, each
sample running all steps with its state in local arrays and the parameters as scalars. Per sample
and step:

1. zero an accumulator and add the weight rows of the inputs that spiked at the previous step;
2. LIF update: ``v = decay * (v - rest) + rest``; add the input where ``refrac_count <= 0``;
   ``refrac_count -= dt``; spike where ``v >= thresh``, then ``v = reset`` and
   ``refrac_count = refrac``; count the spikes;
3. draw this step's Poisson inputs with pysnn's counter-based hash (``pysnn.rng``: SplitMix64 of
   (stream, sample id, step, input)), spiking where ``uniform < rate * dt * 0.001``.

Same hash, same stream key (seed 0, stream ``"x"``) and float operations in the same order as
pysnn, so the spike counts match pysnn's exactly, not just statistically.

Usage (prints pysnn and hand-written seconds and output rates side by side):

    python benchmarks/handwritten.py [--n-out 1000] [--batch 1,64] [--threads 1,2] [--steps 1000]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from pysnn import kernel_math as km
from pysnn import rng
from pysnn.kernel_math_jit import element_key, mix, step_key

LIF = {"thresh": -52.0, "rest": -65.0, "reset": -65.0, "refrac": 5.0, "tc_decay": 100.0}
DT = 1.0
INPUT_STREAM = rng.stream_key(0, "x")  # pysnn's key for input population "x" with seed 0


@numba.njit(parallel=True, cache=True)
def lif_poisson_kernel(steps, stream, rates, w, decay, rest, reset, thresh, refrac, dt, counts):
    """Run ``steps`` steps of every sample; add each LIF neuron's spikes to ``counts[b, j]``."""
    batch, n_in = rates.shape
    n_out = w.shape[1]
    scale = np.float32(0.001)
    zero = np.float32(0.0)
    for b in numba.prange(batch):
        sid = np.uint64(b)
        v = np.full(n_out, rest, np.float32)
        rc = np.zeros(n_out, np.float32)
        acc = np.empty(n_out, np.float32)
        count = np.zeros(n_out, np.int32)
        spiked = np.zeros(n_in, np.bool_)
        p = np.empty(n_in, np.float64)  # spike probability per step, as pysnn's float32 rounds it
        for i in range(n_in):
            p[i] = np.float64(rates[b, i] * dt * scale)
        for t in range(steps):
            acc[:] = zero
            for i in range(n_in):
                if spiked[i]:
                    for j in range(n_out):
                        acc[j] += w[i, j]
            for j in range(n_out):  # branch-free, so that LLVM vectorises it
                vj = decay * (v[j] - rest) + rest
                vj = vj + acc[j] if rc[j] <= zero else vj
                rj = rc[j] - dt
                s = vj >= thresh
                count[j] += s
                v[j] = reset if s else vj
                rc[j] = refrac if s else rj
            key = step_key(stream, sid, np.uint64(t))
            for i in range(n_in):
                bits = mix(element_key(key, np.uint64(i)))  # draw 0 of input i: km.uniform(rng, 0)
                spiked[i] = np.float64(bits >> km.SHIFT_11) * km.UNIT_53 < p[i]
        for j in range(n_out):
            counts[b, j] += count[j]


def _call(rates32, w32, steps, counts):
    f = np.float32
    decay = f(km.exp(np.float32(-DT / LIF["tc_decay"])))  # what pysnn's LIF.derived gives
    lif_poisson_kernel(
        steps, INPUT_STREAM, rates32, w32, decay, f(LIF["rest"]), f(LIF["reset"]), f(LIF["thresh"]),
        f(LIF["refrac"]), f(DT), counts,
    )


def run_handwritten(rates, weights, steps, threads, repeats=3):
    """Best wall-clock of ``repeats`` runs of ``steps`` steps on ``threads`` Numba threads, and the
    mean output rate in Hz. ``rates`` is (batch, n_in) in Hz, ``weights`` (n_in, n_out).

    Each timed run starts from a fresh state and includes allocating the spike-count array (as
    pysnn's ``Simulation.run`` does); compilation happens in an untimed one-step call.
    """
    numba.set_num_threads(threads)
    rates32 = np.ascontiguousarray(rates, np.float32)
    w32 = np.ascontiguousarray(weights, np.float32)
    _call(rates32, w32, 1, np.zeros((rates32.shape[0], w32.shape[1]), np.int32))
    best, counts = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        counts = np.zeros((rates32.shape[0], w32.shape[1]), np.int32)
        _call(rates32, w32, steps, counts)
        best = min(best, time.perf_counter() - start)
    return best, float(counts.mean() * 1000.0 / (steps * DT))


def handwritten_counts(rates, weights, steps):
    """Spike counts per (sample, neuron) after ``steps`` steps (for exact comparison with pysnn)."""
    counts = np.zeros((rates.shape[0], weights.shape[1]), np.int32)
    _call(np.ascontiguousarray(rates, np.float32), np.ascontiguousarray(weights, np.float32), steps, counts)
    return counts


def main() -> None:
    from pysnn.experiments.scaling import input_rates, scaling_network, time_runs

    def ints(text):
        return [int(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(description="pysnn numba-cpu vs the hand-written kernel, side by side.")
    parser.add_argument("--n-out", type=int, default=1000)
    parser.add_argument("--batch", type=ints, default=[1, 64])
    parser.add_argument("--threads", type=ints, default=[1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sim = scaling_network(args.n_out).compile(backend="numba-cpu", dtype="float32")
    weights = sim.weights("x->y")
    print(f"n_out {args.n_out}, {args.steps} steps, best of {args.repeats}")
    print("| threads | batch | pysnn s | hand-written s | pysnn / hand | pysnn rate (Hz) | hand rate (Hz) | counts equal |")
    print("|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for threads in args.threads:
        for batch in args.batch:
            rates = input_rates(batch)
            numba.set_num_threads(threads)
            p_s, p_rate = time_runs(sim, rates, args.steps, args.repeats)
            sim.reset()
            pysnn_counts = sim.run(args.steps, {"x": rates}).spike_counts("y")
            h_s, h_rate = run_handwritten(rates, weights, args.steps, threads, args.repeats)
            equal = np.array_equal(pysnn_counts, handwritten_counts(rates, weights, args.steps))
            print(f"| {threads} | {batch} | {p_s:.4f} | {h_s:.4f} | {p_s / h_s:.2f} | {p_rate:.2f} | {h_rate:.2f} | {equal} |")


if __name__ == "__main__":
    main()
