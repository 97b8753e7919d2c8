"""Experiment 1 of the paper: wall-clock of a simulation as the batch grows.

100 Poisson inputs with rates drawn uniformly in [0, 120] Hz drive ``n_out`` LIF neurons through
dense weights ``0.1 + 0.1 N(0, 1)``; 1000 steps of 1 ms. The "stdp" variant adds spike traces
(20 ms) and PostPre learning with nu = (1e-4, 1e-2), reduced by sum, unbounded, as in the paper.
Only the simulation call is timed (``Simulation.run``), best of ``repeats`` runs, each from a
reset state and the initial weights.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable, Iterable

import numpy as np

from pysnn import Dense, Learning, Network, Simulation, Trace

N_INPUTS = 100
MAX_RATE = 120.0
STDP = Learning("postpre", {"nu_pre": 1e-4, "nu_post": 1e-2})


def scaling_network(n_out: int, n_in: int = N_INPUTS, seed: int = 0, stdp: bool = False) -> Network:
    """The experiment's network: Poisson input ``x`` -> LIF ``y``, spike counts monitored;
    with ``stdp``, traces on both and PostPre on the projection."""
    rng = np.random.default_rng(seed)
    trace = Trace(20.0) if stdp else None
    net = Network(dt=1.0)
    net.add_input("x", n_in, encoder="poisson", trace=trace)
    net.add_population("y", n_out, model="lif", trace=trace)
    net.connect("x", "y", Dense(0.1 + 0.1 * rng.standard_normal((n_in, n_out))), learning=STDP if stdp else None)
    net.monitor("y", "spike_counts")
    return net


def input_rates(batch: int, n_in: int = N_INPUTS, seed: int = 1) -> np.ndarray:
    """Rates in Hz, uniform in [0, 120], one row per sample."""
    return np.random.default_rng(seed).uniform(0.0, MAX_RATE, (batch, n_in))


@dataclass(frozen=True)
class Timing:
    backend: str
    stdp: bool
    n_out: int
    batch: int
    steps: int
    seconds: float
    """Best wall-clock of one run of ``steps`` steps."""
    output_rate: float
    """Mean firing rate of the LIF neurons in Hz (a check that the runs did the same work)."""

    @property
    def seconds_per_1000_steps(self) -> float:
        return self.seconds * 1000.0 / self.steps

    @property
    def sample_steps_per_second(self) -> float:
        return self.batch * self.steps / self.seconds

    def as_dict(self) -> dict:
        return asdict(self) | {
            "seconds_per_1000_steps": self.seconds_per_1000_steps,
            "sample_steps_per_second": self.sample_steps_per_second,
        }


def time_runs(sim: Simulation, rates: np.ndarray, steps: int, repeats: int) -> tuple[float, float]:
    """Best wall-clock of ``repeats`` runs, each from a reset state and the network's initial
    weights, and the output rate in Hz (of the last run)."""
    best, counts = np.inf, None
    sim.reset()
    sim.run(1, {"x": rates})  # compile (or load from cache) outside the timed runs
    for _ in range(repeats):
        sim.reset()
        for projection in sim.plan.projections:
            sim.set_weights(projection.name, projection.arrays["weights"])
        start = time.perf_counter()
        out = sim.run(steps, {"x": rates})
        best = min(best, time.perf_counter() - start)
        counts = out.spike_counts("y")
    return best, float(counts.mean() * 1000.0 / (steps * sim.plan.dt))


def scaling(
    backend: str,
    n_outs: Iterable[int],
    batches: Iterable[int],
    steps: int = 1000,
    repeats: int = 3,
    dtype: str = "float32",
    stdp: bool = False,
    report: Callable[[Timing], None] | None = None,
    seed: int = 0,
) -> list[Timing]:
    """Time the experiment for every (n_out, batch); ``report`` sees each result as it comes.
    ``seed`` draws the weights, ``seed + 1`` the input rates."""
    results = []
    for n_out in n_outs:
        sim = scaling_network(n_out, seed=seed, stdp=stdp).compile(backend=backend, dtype=dtype)
        for batch in batches:
            seconds, rate = time_runs(sim, input_rates(batch, seed=seed + 1), steps, repeats)
            timing = Timing(backend, stdp, n_out, batch, steps, seconds, rate)
            results.append(timing)
            if report is not None:
                report(timing)
    return results


TABLE_HEADER = (
    "| backend | learning | n_out | batch | s / 1000 steps | sample-steps / s | output rate (Hz) |\n"
    "|---|---|---:|---:|---:|---:|---:|"
)


def table_row(t: Timing) -> str:
    return (
        f"| {t.backend} | {'PostPre' if t.stdp else 'none'} | {t.n_out} | {t.batch} | {t.seconds_per_1000_steps:.4f} | "
        f"{t.sample_steps_per_second:,.0f} | {t.output_rate:.1f} |"
    )
