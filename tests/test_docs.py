"""The examples of the README and docs/plugins.md run as written and do what they say: the quick
start returns the shapes and dtypes its comments give, and each plugin example is the standard
plugin it shows, bit for bit."""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import numpy as np

from pysnn import Dense, Learning, Network, Trace

ROOT = Path(__file__).parent.parent
PLUGIN_IMPORTS = (
    "import math\n"
    "from pysnn import Encoder, LearningRule, NeuronModel, Reduction, SynapseModel, param, per_sample\n"
    "from pysnn import kernel_math as km\n"
)
"""What the examples of docs/plugins.md leave out (the README's example imports its own)."""
WEIGHTS = np.random.default_rng(2).uniform(0.5, 1.5, (6, 4))


def python_blocks(path: str) -> list[str]:
    """The fenced ```python blocks of a document of the repository, in order."""
    return re.findall(r"```python\n(.*?)```", (ROOT / path).read_text(), re.S)


def module(source: str, path: Path) -> ModuleType:
    """``source`` imported from the file ``path`` (plugins' kernels are read from their files)."""
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_the_quick_start_runs_as_written_and_returns_what_its_comments_say():
    quick_start = python_blocks("README.md")[0]
    namespace: dict = {}
    exec(quick_start, namespace)
    claims = re.findall(r"^(out\.\w+\(.*?\))\s+# \(([\d, ]+)\) (\w+)", quick_start, re.M)
    assert len(claims) == 3, quick_start
    for expression, shape, dtype in claims:
        value = eval(expression, namespace)
        assert value.shape == tuple(int(n) for n in shape.split(",")), expression
        assert value.dtype == np.dtype(dtype), expression
    assert namespace["out"].spike_counts("y").sum() > 0


def _learning_network(plugins: dict) -> Network:
    """Poisson inputs -> LIF through an exponential conductance, PostPre with a mean over the
    batch: each of ``plugins`` (kind -> class) replaces the standard plugin of its kind."""
    net = Network()
    net.add_input("x", 6, encoder=plugins.get("encoder", "poisson"), trace=Trace(20.0))
    net.add_population("y", 4, model=plugins.get("neuron", "lif"), trace=Trace(20.0))
    rule = Learning(plugins.get("rule", "postpre"), reduction=plugins.get("reduction", "mean"))
    net.connect("x", "y", Dense(WEIGHTS), synapse=plugins.get("synapse", "exp_conductance"), learning=rule)
    net.monitor("y", "spikes", "v")
    return net


def _run(net: Network) -> list[np.ndarray]:
    sim = net.compile(backend="numpy")
    out = sim.run(40, {"x": np.random.default_rng(3).uniform(0.0, 400.0, (3, 6))})
    return [out.spikes("y"), out.state("y", "v"), sim.weights("x->y")]


def test_the_plugin_examples_are_the_standard_plugins(tmp_path):
    docs = module(PLUGIN_IMPORTS + "\n".join(python_blocks("docs/plugins.md")), tmp_path / "plugins_md.py")
    readme = module(next(block for block in python_blocks("README.md") if "class LIF" in block), tmp_path / "readme.py")
    examples = {"encoder": docs.Poisson, "neuron": docs.LIF, "synapse": docs.ExpConductance, "rule": docs.PostPre, "reduction": docs.Mean}
    standard = _run(_learning_network({}))
    assert standard[0].any() and not np.array_equal(standard[2], WEIGHTS.astype(np.float32))  # spikes, learns
    for plugins in (examples, {"neuron": readme.LIF}):
        for reference, example in zip(standard, _run(_learning_network(plugins)), strict=True):
            assert reference.tobytes() == example.tobytes(), plugins
