"""The Numba CPU backend: each run is one call of a compiled, parallel multi-step loop."""

from __future__ import annotations

from types import ModuleType

import numba
import numpy as np

from pysnn.backend import Backend, RunArgs, StateKey
from pysnn.errors import PluginError
from pysnn.kernel_source import import_generated
from pysnn.plan import Plan
from pysnn_numba.codegen import Arg, generate


SERIAL_LEARNING_WORK = 2**18
"""A run that learns with batch size x learned synapses below this uses one thread: its steps
are too short for their parallel loops to pay for the threads' synchronisation (measured on 2
cores with 100 inputs: 1000 targets, batch 1, 20.7 ms on 1 thread against 23.4 ms on 2, and
batch 4, 54 against 49 ms; 100 targets, batch 16, 17 against 26 ms)."""


class NumbaCPUBackend(Backend):
    """Default backend: generated Numba code, parallel over the batch, no Python per step.

    Threads: Numba's (``NUMBA_NUM_THREADS`` or ``numba.set_num_threads``), except that a run
    that learns little per step uses one (``SERIAL_LEARNING_WORK``). Compiled code is
    cached on disk (see ``pysnn.kernel_source.cache_dir``), once per network structure.
    """

    name = "numba-cpu"

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._compiled: dict[tuple[frozenset[str], int], tuple[ModuleType, list[Arg]]] = {}
        self._learned_synapses = sum(p.arrays["weights"].size for p in plan.projections if p.learning is not None)

    def run(self, state: dict[StateKey, np.ndarray], args: RunArgs) -> None:
        timed = frozenset(name for name, data in args.inputs.items() if data.ndim == 3)
        module, arg_specs = self.compiled(timed, 0 if args.reward is None else args.reward.ndim)
        coupled = args.learning and self.plan.learns
        function = module.run_coupled if coupled else module.run_independent
        values = [self._value(spec.ref, state, args) for spec in arg_specs]
        threads = numba.get_num_threads()
        if coupled and args.sample_ids.size * self._learned_synapses < SERIAL_LEARNING_WORK:
            numba.set_num_threads(1)
        try:
            function(*values)
        except Exception as exc:
            cause = exc.__cause__ or exc.__context__ or exc
            raise PluginError(
                f"a kernel raised {type(cause).__name__}: {cause} in compiled code; the run was discarded"
            ) from exc
        finally:
            numba.set_num_threads(threads)

    def compiled(self, timed_inputs: frozenset[str], reward_ndim: int = 0) -> tuple[ModuleType, list[Arg]]:
        """The generated module for inputs given per step in ``timed_inputs`` and a reward of
        ``reward_ndim`` dimensions (memoised)."""
        key = (timed_inputs, reward_ndim)
        if key not in self._compiled:
            generated = generate(self.plan, timed_inputs, reward_ndim)
            self._compiled[key] = (import_generated(generated.source, "pysnn_run", "numba"), generated.args)
        return self._compiled[key]

    def _value(self, ref: tuple, state: dict[StateKey, np.ndarray], args: RunArgs):
        plan, kind = self.plan, ref[0]
        if kind == "steps":
            return np.int64(args.steps)
        if kind == "step0":
            return np.int64(args.step0)
        if kind == "sample_ids":
            return args.sample_ids
        if kind == "dt":
            return plan.dtype.type(plan.dt)
        if kind == "deferred":
            return args.deferred
        if kind == "reward":
            return args.reward
        if kind == "state":
            return state[ref[1]]
        if kind == "value":
            (owner, index), name = ref[1], ref[2]
            if owner == "population":
                bound = plan.populations[index].plugin
            elif owner == "projection":
                bound = plan.projections[index].synapse
            else:
                bound = plan.projections[index].learning.rule
            value = bound.values[name]
            return value[()] if value.ndim == 0 else value
        if kind == "learning":
            return getattr(plan.projections[ref[1]].learning, ref[2])[()]
        if kind == "trace_decay":
            return plan.populations[ref[1]].trace_decay[()]
        if kind == "static":
            return plan.projections[ref[1]].arrays[ref[2]]
        if kind == "input":
            return args.inputs[ref[1]]
        if kind == "stream":
            return plan.populations[ref[1]].stream
        if kind == "record":
            return args.records[plan.monitors[ref[1]]]
        raise AssertionError(f"unknown argument reference {ref!r}")
