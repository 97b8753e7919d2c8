"""Entry-point discovery: third-party plugins are found like pysnn's own, a broken one is reported
with its package and entry point and never breaks the others. Fake distributions are written as
``*.dist-info`` folders on ``sys.path`` (what pip installs)."""

import sys

import numpy as np
import pytest

from pysnn import Network, OneToOne, PluginError, registry
from pysnn.cli import main

GOOD = '''
from pysnn import NeuronModel, per_sample


class Ramp(NeuronModel):
    """Integrates its input, spikes at 1 and restarts at 0."""

    state = {"v": per_sample(0.0)}

    @staticmethod
    def update(v, i_in):
        v = v + i_in
        spiked = v >= 1.0
        return v - spiked * v, spiked
'''

INVALID = '''
from pysnn import NeuronModel, per_sample


class Invalid(NeuronModel):
    state = {"v": per_sample(0.0)}

    @staticmethod
    def update(v, current):
        return v, v > 0
'''


def make_distribution(root, name, entry_points, modules):
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = []
    for group, items in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in items.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    make_distribution(tmp_path, "snn-ramp", {"pysnn.neurons": {"ramp": "snn_ramp:Ramp"}}, {"snn_ramp": GOOD})
    make_distribution(
        tmp_path,
        "snn-broken",
        {"pysnn.neurons": {"broken": "snn_broken:Model", "invalid": "snn_invalid:Invalid"}},
        {"snn_broken": "raise ImportError('needs libfoo 2.0')\n", "snn_invalid": INVALID},
    )
    make_distribution(tmp_path, "snn-other-ramp", {"pysnn.neurons": {"ramp": "snn_ramp:Ramp"}}, {})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    yield
    for module in ("snn_ramp", "snn_broken", "snn_invalid"):
        sys.modules.pop(module, None)
    registry.clear_cache()


def test_builtin_plugins_are_registered_through_entry_points():
    assert {"lif", "adaptive_lif", "if_subtractive", "izhikevich", "lif_cond", "adex"} <= set(registry.names("neuron"))
    assert registry.names("synapse") == ["delta", "exp_conductance", "exponential"]
    assert registry.names("backend") == ["cupy", "numba-cpu", "numba-cuda", "numpy"]
    lif = next(e for e in registry.entries("neuron") if e.name == "lif")
    assert lif.package == "pysnn-minibatch" and lif.value == "pysnn_models.lif:LIF"


def test_scanning_imports_nothing(third_party):
    assert "ramp" in registry.names("neuron")
    assert "snn_ramp" not in sys.modules and "snn_broken" not in sys.modules


def test_broken_plugin_is_reported_and_the_others_still_load(third_party):
    with pytest.raises(PluginError, match="'broken' \\(entry point 'snn_broken:Model' of package 'snn-broken'\\) failed to import: ImportError: needs libfoo 2.0"):
        registry.load("neuron", "broken")
    with pytest.raises(PluginError, match="'invalid' \\(entry point 'snn_invalid:Invalid' of package 'snn-broken'\\): update\\(\\) argument 'current'"):
        registry.load("neuron", "invalid")
    assert registry.load("neuron", "lif").cls.__name__ == "LIF"
    status = {entry.name: error for entry, error in registry.report()}
    assert status["lif"] is None and status["qif"] is None
    assert "needs libfoo" in status["broken"] and "argument 'current'" in status["invalid"]


def test_a_name_claimed_by_two_packages_is_an_error(third_party):
    with pytest.raises(PluginError, match="'ramp' is registered by several packages: snn-other-ramp, snn-ramp"):
        registry.load("neuron", "ramp")


def test_third_party_plugin_runs_once_installed(tmp_path, monkeypatch):
    make_distribution(tmp_path, "snn-ramp", {"pysnn.neurons": {"ramp": "snn_ramp:Ramp"}}, {"snn_ramp": GOOD})
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.clear_cache()
    try:
        net = Network()
        net.add_input("x", 2, encoder="current")
        net.add_population("y", 2, model="ramp")
        net.connect("x", "y", OneToOne(1.0))
        net.monitor("y", "spike_counts")
        for backend in ("numpy", "numba-cpu"):
            counts = net.compile(backend=backend).run(11, {"x": np.array([[0.25, 0.5]])}).spike_counts("y")
            np.testing.assert_array_equal(counts, [[2, 5]])
    finally:
        sys.modules.pop("snn_ramp", None)
        registry.clear_cache()


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown plugin kind 'neurons'"):
        registry.names("neurons")


LEAKY = '''
import numpy
from pysnn import NeuronModel, per_sample

GAIN = numpy.float64(0.5)


class Leaky(NeuronModel):
    state = {"v": per_sample(0.0)}

    @staticmethod
    def update(v, i_in):
        v = v * GAIN + i_in
        return v, v > 1.0
'''


def test_plugins_check_compiles_every_plugin_for_every_backend(third_party, tmp_path, capsys):
    make_distribution(tmp_path, "snn-leaky", {"pysnn.neurons": {"leaky": "snn_leaky:Leaky"}}, {"snn_leaky": LEAKY})
    registry.clear_cache()
    try:
        assert main(["plugins", "--check"]) == 1
    finally:
        sys.modules.pop("snn_leaky", None)
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["lif"].endswith(" ok") and rows["qif"].endswith(" ok")
    assert "ERROR: " in rows["ramp"] and "registered by several packages" in rows["ramp"]
    assert "ERROR: " in rows["broken"] and "needs libfoo 2.0" in rows["broken"]
    assert "ERROR on numba-cpu: " in rows["leaky"] and "ERROR on numpy: " in rows["leaky"]
    assert "returns float64 for 'v' where float32 is expected" in rows["leaky"]
