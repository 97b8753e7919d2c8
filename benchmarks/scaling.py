"""Benchmark driver for experiment 1 (wall-clock as the batch grows); prints markdown tables.

Parts (``--parts``, default all):

- ``pysnn``: pysnn's numba-cpu backend on 1 and 2 Numba threads and the numpy backend; n_out in
  {100, 1000, 10000}, batch 1, 2, 4, ..., 1024, 1000 steps, best of --repeats. Once a numpy run
  takes more than --numpy-cutoff seconds, the larger batches of that n_out are skipped.
- ``first-step``: time to first step of numba-cpu (n_out 1000) in fresh processes
  (benchmarks/time_to_first_step.py): cold with an empty PYSNN_CACHE_DIR, then warm on the same dir.
- ``handwritten``: the hand-written kernel of benchmarks/handwritten.py vs pysnn numba-cpu at
  n_out 1000, batch 1 and 64, 1 and 2 threads; the runs alternate so machine noise hits both.
- ``overhead`` (with ``--stdp``): numba-cpu with PostPre vs the same run without learning, at
  n_out 1000, batch 1 and 64, 1 and 2 threads, interleaved.
- ``bindsnet``: benchmarks/bindsnet_scaling.py (2 torch threads) for n_out 100 and 1000 in the
  BindsNET venv, if its python exists, and the ratio BindsNET / pysnn numba-cpu (2 threads).

``--stdp``: the paper's STDP variant (traces, PostPre nu = (1e-4, 1e-2)) in the pysnn and
BindsNET parts; n_out {100, 1000} by default. ``--quick``: n_out {100, 1000}, batch {1, 8, 64},
repeats 1, BindsNET only at batch 1 and 64.

Usage:

    python benchmarks/scaling.py [--quick] [--stdp] [--out FILE.jsonl] [--repeats 3] [--no-bindsnet]
        [--bindsnet-python PATH] [--bindsnet-timeout 600] [--numpy-cutoff 10] [--parts pysnn,...]
        [--n-out 100,1000] [--batch 1,8] [--steps 1000]

Every measurement is also written to --out as one JSON object per line (``"kind"``: header,
pysnn, first-step, handwritten, learning-overhead or bindsnet); skipped configurations carry
``"skipped": true``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numba
import numpy as np

import pysnn
from pysnn.experiments.scaling import TABLE_HEADER, Timing, input_rates, scaling_network, table_row, time_runs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from handwritten import run_handwritten  # noqa: E402

PARTS = ("pysnn", "first-step", "handwritten", "overhead", "bindsnet")
BINDSNET_PYTHON = "/work/venvs/bindsnet/bin/python"


class Recorder:
    """Writes one JSON object per measurement to the --out file (if given)."""

    def __init__(self, path: str | None) -> None:
        self.file = open(path, "w") if path else None

    def record(self, kind: str, **fields) -> dict:
        record = {"kind": kind, **fields}
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()
        return record


def header(rec: Recorder) -> None:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    info = {
        "cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
        "pysnn": pysnn.__version__, "command": " ".join([sys.executable, *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    rec.record("header", **info)
    print("# pysnn scaling benchmark\n")
    print("\n".join(f"- {key}: {value}" for key, value in info.items()))


class PysnnTimer:
    """pysnn timings (via pysnn.experiments.scaling), one compiled simulation per (backend, n_out)."""

    def __init__(self, steps: int, stdp: bool) -> None:
        self.steps, self.stdp, self.sims, self.results = steps, stdp, {}, {}

    def sim(self, backend: str, n_out: int, stdp: bool | None = None):
        stdp = self.stdp if stdp is None else stdp
        if (backend, n_out, stdp) not in self.sims:
            self.sims[backend, n_out, stdp] = scaling_network(n_out, stdp=stdp).compile(backend=backend, dtype="float32")
        return self.sims[backend, n_out, stdp]

    def time(self, backend: str, threads: int | None, n_out: int, batch: int, repeats: int, stdp: bool | None = None) -> Timing:
        stdp = self.stdp if stdp is None else stdp
        if threads:
            numba.set_num_threads(threads)
        seconds, rate = time_runs(self.sim(backend, n_out, stdp), input_rates(batch), self.steps, repeats)
        timing = Timing(backend, stdp, n_out, batch, self.steps, seconds, rate)
        key = (backend, threads, n_out, batch, stdp)
        best = self.results.get(key)
        self.results[key] = timing if best is None or timing.seconds < best.seconds else best
        return timing


def pysnn_part(rec: Recorder, timer: PysnnTimer, args) -> None:
    for backend, threads in [("numba-cpu", t) for t in args.threads] + [("numpy", None)]:
        print(f"\n## pysnn {backend}" + (f", {threads} thread(s)" if threads else "") + f", {args.steps} steps\n")
        print(TABLE_HEADER)
        for n_out in args.n_out:
            too_slow = None
            for batch in args.batch:
                if too_slow is not None:
                    rec.record("pysnn", backend=backend, threads=threads, n_out=n_out, batch=batch, steps=args.steps, stdp=args.stdp, skipped=True)
                    print(f"| {backend} | {'PostPre' if args.stdp else 'none'} | {n_out} | {batch} | skipped (a run took {too_slow:.1f} s) | | |", flush=True)
                    continue
                t = timer.time(backend, threads, n_out, batch, args.repeats)
                rec.record("pysnn", **t.as_dict(), threads=threads, repeats=args.repeats)
                print(table_row(t), flush=True)
                if backend == "numpy" and t.seconds > args.numpy_cutoff:
                    too_slow = t.seconds


def first_step_part(rec: Recorder) -> None:
    print("\n## numba-cpu time to first step (fresh process, the scaling network: n_out 1000)\n")
    print("| cache | seconds | cache hits | cache misses |\n|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="pysnn-cache-") as cache:
        for phase in ("cold", "warm"):
            env = {**os.environ, "PYSNN_CACHE_DIR": cache}
            script = str(HERE / "time_to_first_step.py")
            out = subprocess.run([sys.executable, script, "scaling"], env=env, capture_output=True, text=True, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rec.record("first-step", phase=phase, n_out=1000, **result)
            print(f"| {phase} | {result['seconds']:.2f} | {result['cache_hits']} | {result['cache_misses']} |", flush=True)


def handwritten_part(rec: Recorder, timer: PysnnTimer, args, n_out: int = 1000, batches=(1, 64)) -> None:
    print(f"\n## pysnn numba-cpu vs hand-written Numba kernel (n_out {n_out}, {args.steps} steps, interleaved)\n")
    print("| threads | batch | pysnn s | hand-written s | pysnn / hand-written | pysnn rate (Hz) | hand-written rate (Hz) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    weights = timer.sim("numba-cpu", n_out).weights("x->y")
    for threads in args.threads:
        for batch in batches:
            p_best = h_best = np.inf
            for _ in range(args.repeats):  # alternate single runs of the two
                p = timer.time("numba-cpu", threads, n_out, batch, 1)
                h, h_rate = run_handwritten(input_rates(batch), weights, args.steps, threads, repeats=1)
                p_best, h_best = min(p_best, p.seconds), min(h_best, h)
            rec.record("handwritten", n_out=n_out, batch=batch, threads=threads, steps=args.steps, repeats=args.repeats,
                       pysnn_seconds=p_best, handwritten_seconds=h_best, ratio=p_best / h_best,
                       pysnn_output_rate=p.output_rate, handwritten_output_rate=h_rate)
            print(f"| {threads} | {batch} | {p_best:.4f} | {h_best:.4f} | {p_best / h_best:.2f} | "
                  f"{p.output_rate:.2f} | {h_rate:.2f} |", flush=True)


def bindsnet_part(rec: Recorder, timer: PysnnTimer, args, n_outs, batches) -> None:
    threads = 2
    print(f"\n## BindsNET ({threads} torch threads) vs pysnn numba-cpu ({threads} threads), {args.steps} steps\n")
    print("| n_out | batch | BindsNET s | pysnn s | BindsNET / pysnn |\n|---:|---:|---:|---:|---:|")
    command = [args.bindsnet_python, str(HERE / "bindsnet_scaling.py"), "--n-out", ",".join(map(str, n_outs)),
               "--batch", ",".join(map(str, batches)), "--steps", str(args.steps), "--repeats", str(args.repeats),
               "--threads", str(threads), "--timeout-seconds", str(args.bindsnet_timeout)] + (["--stdp"] if args.stdp else [])
    for n_out in n_outs:  # pysnn counterparts missing from this run's grid, measured before BindsNET runs
        for batch in batches:
            if ("numba-cpu", threads, n_out, batch, args.stdp) not in timer.results:
                timer.time("numba-cpu", threads, n_out, batch, args.repeats)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            b = json.loads(line)
            n_out, batch = b["n_out"], b["batch"]
            if b.get("skipped"):
                rec.record("bindsnet", **{k: v for k, v in b.items() if k != "simulator"})
                print(f"| {n_out} | {batch} | skipped (budget spent) | | |", flush=True)
                continue
            pysnn = timer.results["numba-cpu", threads, n_out, batch, args.stdp]
            ratio = b["seconds"] / pysnn.seconds
            rec.record("bindsnet", **{k: v for k, v in b.items() if k != "simulator"}, pysnn_seconds=pysnn.seconds, ratio=ratio)
            print(f"| {n_out} | {batch} | {b['seconds']:.4f} | {pysnn.seconds:.4f} | {ratio:.1f} |", flush=True)
    if proc.returncode:
        print(f"\n(bindsnet_scaling.py exited with status {proc.returncode})")


def overhead_part(rec: Recorder, timer: PysnnTimer, args, n_out: int = 1000, batches=(1, 64)) -> None:
    """Learning vs no learning, same network and inputs, single runs interleaved."""
    print(f"\n## numba-cpu: PostPre learning vs none (n_out {n_out}, {args.steps} steps, interleaved)\n")
    print("| threads | batch | none s | PostPre s | PostPre / none | rate none (Hz) | rate PostPre (Hz) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        for batch in batches:
            best = {False: np.inf, True: np.inf}
            rates = {}
            for _ in range(args.repeats):
                for stdp in (False, True):
                    t = timer.time("numba-cpu", threads, n_out, batch, 1, stdp)
                    best[stdp], rates[stdp] = min(best[stdp], t.seconds), t.output_rate
            ratio = best[True] / best[False]
            rec.record("learning-overhead", n_out=n_out, batch=batch, threads=threads, steps=args.steps,
                       plain_seconds=best[False], stdp_seconds=best[True], ratio=ratio,
                       plain_output_rate=rates[False], stdp_output_rate=rates[True])
            print(f"| {threads} | {batch} | {best[False]:.4f} | {best[True]:.4f} | {ratio:.2f} | "
                  f"{rates[False]:.1f} | {rates[True]:.1f} |", flush=True)


def main() -> None:
    def ints(text):
        return [int(x) for x in text.split(",") if x]

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid, 1 repeat: a fast check")
    parser.add_argument("--out", help="write one JSON object per measurement to this file (JSON lines)")
    parser.add_argument("--repeats", type=int, help="runs per point, the best is reported (default 3; --quick 1)")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--n-out", type=ints, help="override the n_out grid")
    parser.add_argument("--batch", type=ints, help="override the batch grid")
    parser.add_argument("--threads", type=ints, default=[1, 2], help="Numba thread counts (default 1,2)")
    parser.add_argument("--numpy-cutoff", type=float, default=10.0, help="seconds per numpy run beyond which larger batches are skipped")
    parser.add_argument("--parts", type=lambda s: s.split(","), default=list(PARTS), help=f"subset of {','.join(PARTS)}")
    parser.add_argument("--bindsnet-python", default=BINDSNET_PYTHON, help=f"python of the BindsNET venv (default {BINDSNET_PYTHON})")
    parser.add_argument("--bindsnet-timeout", type=float, default=600.0, help="total seconds for the BindsNET runs")
    parser.add_argument("--no-bindsnet", action="store_true", help="skip BindsNET")
    parser.add_argument("--stdp", action="store_true", help="the STDP variant (PostPre) for the pysnn and BindsNET parts")
    args = parser.parse_args()
    if unknown := set(args.parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.n_out = args.n_out or ([100, 1000] if args.quick or args.stdp else [100, 1000, 10000])
    args.batch = args.batch or ([1, 8, 64] if args.quick else [2**k for k in range(11)])
    bindsnet_batches = [b for b in args.batch if b in (1, 64)] if args.quick else args.batch

    rec = Recorder(args.out)
    header(rec)
    timer = PysnnTimer(args.steps, args.stdp)
    if "pysnn" in args.parts:
        pysnn_part(rec, timer, args)
    if "first-step" in args.parts and not args.stdp:
        first_step_part(rec)
    if "handwritten" in args.parts and not args.stdp:
        handwritten_part(rec, timer, args)
    if "overhead" in args.parts and args.stdp:
        overhead_part(rec, timer, args)
    if "bindsnet" in args.parts and not args.no_bindsnet:
        if Path(args.bindsnet_python).exists():
            bindsnet_part(rec, timer, args, [n for n in args.n_out if n in (100, 1000)], bindsnet_batches)
        else:
            print(f"\n(BindsNET skipped: {args.bindsnet_python} not found)")


if __name__ == "__main__":
    main()
