"""The parts of a dense PostPre learning step, each timed alone in hand-written Numba: a floor for
what the generated learning phase can cost on this machine.

    python benchmarks/learning_floor.py [--batch 64] [--n-in 100] [--n-out 1000] [--threads 1]

Synthetic state with the rates of the STDP scaling run at batch 64 (targets spike with
probability 0.161 per step, sources 0.06; traces uniform): per step, each part over all its data,
best of 5 x 200 steps, microseconds. Parts: listing each target's spiking samples (scan),
folding the ~10 000 post events over their 100-synapse columns (post fold), copying the folded
columns into row order in 16 x 16 tiles (copy), folding the ~400 pre events over their
1000-synapse rows (pre fold), and applying every synapse with bounds (apply). The sum is what
the learning phase costs at best in this layout; the run's own phase is the difference between
``scaling.py --parts overhead`` times.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

BLOCK = 16


@numba.njit(parallel=True)
def scan(spikes, samples, counts, steps):
    for _ in range(steps):
        for jq in numba.prange(spikes.shape[1]):
            n = 0
            for b in range(spikes.shape[0]):
                samples[jq, n] = b
                n += spikes[b, jq]
            counts[jq] = n


@numba.njit(parallel=True)
def post_fold(x_pre, samples, counts, post, steps):
    for _ in range(steps):
        for jq in numba.prange(post.shape[0]):
            n = counts[jq]
            if n == 0:
                continue
            b = samples[jq, 0]
            for ip in range(post.shape[1]):
                post[jq, ip] = np.float32(0.0) + x_pre[b, ip]
            for e in range(1, n):
                b = samples[jq, e]
                for ip in range(post.shape[1]):
                    post[jq, ip] = post[jq, ip] + x_pre[b, ip]


@numba.njit(parallel=True)
def copy(post, rows, steps):
    n_pre = rows.shape[0]
    for _ in range(steps):
        for block in numba.prange(post.shape[0] // BLOCK):
            j0 = block * BLOCK
            for i0 in range(0, n_pre - BLOCK + 1, BLOCK):
                for ii in range(BLOCK):
                    for jj in range(BLOCK):
                        rows[i0 + ii, j0 + jj] = post[j0 + jj, i0 + ii]
            for ip in range(n_pre - n_pre % BLOCK, n_pre):
                for jj in range(BLOCK):
                    rows[ip, j0 + jj] = post[j0 + jj, ip]


@numba.njit(parallel=True)
def pre_fold(spikes_pre, x_post, pre, pre_hit, steps):
    for _ in range(steps):
        for ip in numba.prange(pre.shape[0]):
            events = 0
            for b in range(spikes_pre.shape[0]):
                if spikes_pre[b, ip]:
                    if events == 0:
                        for jq in range(pre.shape[1]):
                            pre[ip, jq] = np.float32(0.0) + x_post[b, jq]
                    else:
                        for jq in range(pre.shape[1]):
                            pre[ip, jq] = pre[ip, jq] + x_post[b, jq]
                    events += 1
            pre_hit[ip] = events > 0


@numba.njit(parallel=True)
def apply(w, pre, rows, pre_hit, col_hit, nu_pre, nu_post, wmin, wmax, steps):
    for _ in range(steps):
        for ip in numba.prange(w.shape[0]):
            hit = pre_hit[ip]
            for jq in range(w.shape[1]):
                pre_value = pre[ip, jq] if hit else np.float32(0.0)
                post_value = rows[ip, jq] if col_hit[jq] else np.float32(0.0)
                old = w[ip, jq]
                new = (old - nu_pre * pre_value) + nu_post * post_value
                new = wmin if new < wmin else new
                new = wmax if new > wmax else new
                w[ip, jq] = new if hit | (col_hit[jq] != 0) else old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--n-in", type=int, default=100)
    parser.add_argument("--n-out", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    batch, n_in, n_out = args.batch, args.n_in, args.n_out - args.n_out % BLOCK
    rng = np.random.default_rng(0)
    spikes_post = (rng.random((batch, n_out)) < 0.161).astype(np.uint8)
    spikes_pre = rng.random((batch, n_in)) < 0.06
    x_pre = rng.random((batch, n_in), dtype=np.float32)
    x_post = rng.random((batch, n_out), dtype=np.float32)
    samples, counts = np.zeros((n_out, batch), np.int64), np.zeros(n_out, np.int64)
    post, rows = np.zeros((n_out, n_in), np.float32), np.zeros((n_in, n_out), np.float32)
    pre, pre_hit = np.zeros((n_in, n_out), np.float32), np.zeros(n_in, np.bool_)
    w = rng.random((n_in, n_out), dtype=np.float32)
    col_hit = (spikes_post.sum(axis=0) > 0).astype(np.uint8)
    f32 = np.float32
    parts = {
        "scan": lambda s: scan(spikes_post, samples, counts, s),
        "post fold": lambda s: post_fold(x_pre, samples, counts, post, s),
        "copy": lambda s: copy(post, rows, s),
        "pre fold": lambda s: pre_fold(spikes_pre, x_post, pre, pre_hit, s),
        "apply": lambda s: apply(w, pre, rows, pre_hit, col_hit, f32(1e-4), f32(1e-2), f32(-np.inf), f32(np.inf), s),
    }
    print(f"batch {batch}, {n_in} -> {n_out}, {args.threads} thread(s): {int(spikes_post.sum())} "
          f"post events, {int(spikes_pre.sum())} pre events per step\n")
    print("| part | us per step |\n|---|---:|")
    total = 0.0
    for name, run in parts.items():
        run(1)  # compile
        best = min(_timed(run, 200) for _ in range(5)) / 200 * 1e6
        total += best
        print(f"| {name} | {best:.1f} |")
    print(f"| **sum** | **{total:.1f}** |")


def _timed(run, steps: int) -> float:
    start = time.perf_counter()
    run(steps)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
