"""The example third-party distribution (plugins/qif_example, installed by the README's install
command) is discovered through its entry point and runs, identically, on every backend that can
run here."""

import numpy as np
import pytest

from pysnn import Dense, Network, registry

from networks import COMPILED_BACKENDS


def test_qif_is_discovered_from_its_own_distribution():
    entry = next(e for e in registry.entries("neuron") if e.name == "qif")
    assert entry.package == "pysnn-qif-example" and entry.value == "pysnn_qif:QIF"
    assert registry.load("neuron", "qif").cls.__module__ == "pysnn_qif"


@pytest.mark.parametrize("backend", COMPILED_BACKENDS)
def test_qif_runs_identically_on_every_backend(backend):
    rng = np.random.default_rng(1)
    net = Network(dt=0.5)
    net.add_input("x", 20, encoder="poisson")
    net.add_population("y", 10, model="qif", params={"a": rng.uniform(0.03, 0.07, 10)})
    net.connect("x", "y", Dense(rng.uniform(0, 120, (20, 10))))
    net.monitor("y", "spike_counts")
    net.monitor("y", "v", every=5)
    rates = {"x": rng.uniform(40, 120, (2, 20))}
    reference = net.compile(backend="numpy").run(60, rates)
    assert reference.spike_counts("y").sum() > 20
    out = net.compile(backend=backend).run(60, rates)
    assert out.state("y", "v").tobytes() == reference.state("y", "v").tobytes()
