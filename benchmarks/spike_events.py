"""Cost of recording spikes: spike counts only, + the dense ``spikes`` record, + ``spike_events``
(one dense piece at a time, then events), on the scaling network (100 Poisson inputs -> 1000
LIF), 1000 steps, side by side in one process, best of N.

    python benchmarks/spike_events.py [N]
"""

import sys

from pysnn.experiments.scaling import input_rates, scaling_network
from run_pieces import best  # benchmarks/, the script's folder

RECORDS = {"counts only": (), "+ spikes": ("spikes",), "+ spike_events": ("spike_events",)}


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    steps = 1000
    print(f"| batch | {' | '.join(f'{label} (ms)' for label in RECORDS)} | spikes per run |")
    print("|---:|" + "---:|" * (len(RECORDS) + 1))
    for batch in (1, 64, 256):
        rates = input_rates(batch)
        sims = {}
        for label, what in RECORDS.items():
            net = scaling_network(1000)
            if what:
                net.monitor("y", *what)
            sims[label] = net.compile(backend="numba-cpu")
            sims[label].run(10, {"x": rates})
        timings = {label: float("inf") for label in RECORDS}
        for _ in range(2):  # interleaved, twice
            for label, sim in sims.items():
                timings[label] = min(timings[label], best(sim, rates, steps, repeats // 2))
        sim = sims["+ spike_events"]
        sim.reset()
        spikes = len(sim.run(steps, {"x": rates}).spike_events("y"))
        cells = " | ".join(f"{1e3 * timings[label]:.1f}" for label in RECORDS)
        print(f"| {batch} | {cells} | {spikes:,} |", flush=True)


if __name__ == "__main__":
    main()
