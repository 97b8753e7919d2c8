"""Compile the numba-cuda backend's code to PTX without a GPU: every installed plugin kernel bound
for CUDA, and the generated run kernels of networks that use every standard model, synapse,
connectivity, learning rule and reduction kind, in float32 and float64. Checks that each compiles
and that its PTX holds no fused multiply-add (the arithmetic must round as NumPy's does), and
that a run kernel compiled with a launch bound carries it.

tests/test_cuda_backend.py runs it in a fresh process without NUMBA_ENABLE_CUDASIM. numba-cuda
asks the (absent) device for its compute capability when a kernel calls a device function; a
stand-in answers for an H200 (9.0). Prints one line per compiled function; exit status 1 on a
failure. Arguments: the dtypes (default float32 float64; the launch bound is checked with
float32).
"""

import sys
import types

import numba
import numpy as np

from pysnn.cuda_support import numba_cuda

cuda = numba_cuda()
import numba.cuda.dispatcher  # noqa: E402  (after the shim)

numba.cuda.dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))

import pysnn  # noqa: E402
from pysnn import Dense, Learning, Network, Sparse, Trace, kernel_math_jit, registry  # noqa: E402
from pysnn.experiments.scaling import input_rates, scaling_network  # noqa: E402
from pysnn.kernel_source import bind_kernel, import_generated  # noqa: E402
from pysnn.lowering import resolve  # noqa: E402
from pysnn_cuda.codegen import Scratch, generate  # noqa: E402
from pysnn_numpy.backend import NumpyBackend  # noqa: E402

CC = (9, 0)


def plugin_kernels(dtype: str) -> int:
    failures = 0
    for kind in ("neuron", "synapse", "encoder", "reduction", "learning_rule"):
        for name in registry.names(kind):
            for kernel in registry.load(kind, name).kernels.values():
                bound = bind_kernel(kernel.function, np.dtype(dtype), "cuda")
                arg_types = {"real": getattr(numba, dtype), "bool": numba.boolean, "uint64": numba.uint64}
                failures += compiled(f"{kind} {name} {kernel.name} {dtype}", bound, tuple(arg_types[t] for t in kernel.arg_types))
    return failures


def report(label: str, ptx: str) -> int:
    fused = ptx.count("fma.rn")
    print(f"{label}: " + (f"FUSED ({fused} fma)" if fused else "ok"))
    return int(fused > 0)


def compiled(label: str, function, signature) -> int:
    """Compile a device function to PTX and ``report`` it (a failure to compile counts too)."""
    try:
        ptx, _ = cuda.compile_ptx(function, signature, device=True, cc=CC)
    except Exception as exc:
        print(f"{label}: FAILED {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        return 1
    return report(label, ptx)


def networks():
    """(label, network, run arguments) covering the generator's paths."""
    rng = np.random.default_rng(0)
    net = Network()
    net.add_input("x", 6, encoder="poisson")
    net.add_input("c", 3, encoder="current")
    net.add_population("a", 5, model="adaptive_lif")
    net.add_population("b", 4, model="lif_cond")
    net.add_population("z", 4, model="izhikevich")
    net.add_population("e", 5, model="adex")
    net.connect("x", "a", Dense(rng.uniform(0, 5, (6, 5))), synapse="exponential", params={"tau": 5.0})
    net.connect("c", "a", Dense(rng.uniform(0, 5, (3, 5))), delay=0)
    net.connect("a", "b", Sparse.from_dense(rng.uniform(0, 1, (5, 4)), rng.random((5, 4)) < 0.5), synapse="exp_conductance", port="exc")
    net.connect("x", "z", Dense(rng.uniform(0, 9, (6, 4))), delay=0)
    net.connect("a", "e", pysnn.OneToOne(rng.uniform(0, 9, 5)), delay=0)
    for pop in ("a", "b", "z", "e"):
        net.monitor(pop, "spike_counts", "spikes")
    net.monitor("a", "v", "theta", every=2)
    inputs = {"x": rng.uniform(0, 200, (2, 6)), "c": rng.uniform(0, 1, (2, 3))}
    yield "models", net, {"inputs": inputs, "steps": 3}
    for rule, reduction, kind, deferred in [
        ("postpre", "sum", "dense", False),
        ("triplet", "median", "sparse", True),
        ("mstdp_et", "mean", "dense", True),
        ("voltage_gated", "max", "sparse", False),
    ]:
        weights = rng.uniform(0, 5, (6, 4))
        traces = {"x": Trace(20.0, additive=True), "slow": Trace(100.0, additive=True)}
        net = Network()
        net.add_input("x", 6, encoder="spikes", traces=traces)
        net.add_population("y", 4, model="lif", traces=traces, one_spike=rule == "postpre")
        conn = Dense(weights) if kind == "dense" else Sparse.from_dense(weights, weights > 1)
        params = {"nu": 0.1} if rule.startswith("mstdp") else {}
        net.connect("x", "y", conn, learning=Learning(rule, params, reduction, wmin=0.0, wmax=9.0, weight_decay=0.01))
        net.monitor("y", "spike_counts")
        run = {"inputs": {"x": rng.random((3, 2, 6)) < 0.5}, "deferred": deferred}
        if rule.startswith("mstdp"):
            run["reward"] = rng.uniform(-1, 1, 2)
        yield f"{rule} {reduction} {kind}{' deferred' if deferred else ''}", net, run


def captured_run(sim, run: dict):
    """The state and RunArgs of ``sim.run(**run)`` (the NumPy backend's run is not called)."""
    seen = {}
    original = NumpyBackend.run
    NumpyBackend.run = lambda self, state, args: seen.update(state=state, args=args)
    try:
        sim.run(**run)
    finally:
        NumpyBackend.run = original
    return seen["state"], seen["args"]


def run_kernel_ptx(sim, run: dict, launch_bound: int | None = None) -> list[tuple[str, str]]:
    """(name, PTX) of the numba-cuda run kernels that ``sim.run(**run)`` launches (``sim`` on
    the NumPy backend: the run is captured, not run), compiled for ``launch_bound`` threads
    per block at most (None: no bound)."""
    state, args = captured_run(sim, run)
    coupled = args.learning and sim.plan.learns
    reward_ndim = 0 if args.reward is None else args.reward.ndim
    timed = frozenset(n for n, d in args.inputs.items() if d.ndim == 3)
    generated = generate(sim.plan, timed, reward_ndim, coupled and args.deferred, launch_bound=launch_bound)
    module = import_generated(generated.source, "pysnn_cuda_run", "cuda")  # runs the decorators
    signature = []
    for spec in generated.args:
        if isinstance(spec.ref, Scratch):
            element = sim.plan.dtype if spec.ref.dtype == "real" else np.dtype(spec.ref.dtype)
            signature.append(numba.types.Array(numba.from_dtype(element), len(spec.ref.dims), "C"))
        else:
            signature.append(numba.typeof(resolve(spec.ref, sim.plan, state, args)))
    kernels = [getattr(module, k) for k in (("run_independent", "run_coupled") if coupled else ("run_independent",))]
    return [  # compiled with the options of the generated decorator
        (k.py_func.__name__, cuda.compile_ptx(k.py_func, tuple(signature), cc=CC, launch_bounds=k.targetoptions.get("launch_bounds"))[0])
        for k in kernels
    ]


def run_kernels(dtype: str) -> int:
    failures = 0
    for label, net, run in networks():
        for kernel, ptx in run_kernel_ptx(net.compile(backend="numpy", dtype=dtype), run):
            failures += report(f"{label} {kernel} {dtype}", ptx)
    return failures


def launch_bound() -> int:
    """A run kernel compiled for blocks of at most 1024 threads says so to the assembler."""
    sim = scaling_network(10).compile(backend="numpy")
    (kernel, ptx), = run_kernel_ptx(sim, {"steps": 3, "inputs": {"x": input_rates(2)}}, launch_bound=1024)
    label = f"scaling {kernel} launch bound 1024"
    if ".maxntid 1024" not in ptx:
        print(f"{label}: MISSING")
        return 1
    return report(label, ptx)


def main(dtypes: list[str]) -> int:
    kernel_math_jit.register_cuda()
    failures = 0
    for dtype in dtypes:
        failures += plugin_kernels(dtype) + run_kernels(dtype)
    if "float32" in dtypes:
        failures += launch_bound()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["float32", "float64"]))
