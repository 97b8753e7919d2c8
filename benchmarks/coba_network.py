"""One random instance of the COBA network (shared/design/coba.md): synapses and initial state.

NumPy only, so that both benchmarks/coba.py (pysnn) and benchmarks/coba_brian2.py (run with the
Brian2 venv's python) import it and simulate the same synapses from the same initial state.
Neurons are numbered as in coba.md: 0 .. 3199 excitatory, 3200 .. 3999 inhibitory.
"""

from __future__ import annotations

import numpy as np

N_EXC = 3200
N_INH = 800
N = N_EXC + N_INH
P_CONNECT = 0.02
W_EXC = 0.6
"""ge += W_EXC per excitatory spike (units of the leak conductance)."""
W_INH = 6.7
"""gi += W_INH per inhibitory spike."""
EL = -60.0
DT = 0.1
"""Time step, ms (forward Euler)."""


def synapses(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Synapses of the excitatory and the inhibitory sources: ``{"exc": (i, j), "inh": (i, j)}``.

    ``i`` is the source's index within its population, ``j`` the target's index in 0 .. N - 1;
    pairs are sorted by ``(i, j)`` (CSR order). Every (source, target) pair is connected with
    probability ``P_CONNECT``, independently, self-connections included.
    """
    rng = np.random.default_rng([seed, 0])
    result = {}
    for name, n_source in (("exc", N_EXC), ("inh", N_INH)):
        i, j = np.nonzero(rng.random((n_source, N), dtype=np.float32) < P_CONNECT)
        result[name] = (i.astype(np.int64), j.astype(np.int64))
    return result


def initial_state(seed: int, copy: int = 0) -> dict[str, np.ndarray]:
    """Initial ``v`` (mV), ``ge``, ``gi`` of all N neurons for one copy of the network.

    ``v = El + 5 N(0,1) - 5``, ``ge = 1.5 N(0,1) + 4``, ``gi = 12 N(0,1) + 20``, drawn in that
    order from a generator keyed by (seed, copy); copy 0 is the one Brian2 simulates.
    """
    rng = np.random.default_rng([seed, 1, copy])
    return {
        "v": EL + 5.0 * rng.standard_normal(N) - 5.0,
        "ge": 1.5 * rng.standard_normal(N) + 4.0,
        "gi": 12.0 * rng.standard_normal(N) + 20.0,
    }
