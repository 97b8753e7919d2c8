"""The kernel language (pysnn.kernel_lint), returns checked by name, and Numba errors located in the
plugin's own source.

A kernel that uses anything beyond the kernel language is rejected when its plugin loads, with the
plugin's file and line and a fix; each rejected line below carries the marker comment ``# here``.
"""

import inspect
import math
import re
import sys

import numba
import numpy as np
import pytest

import pysnn
import pysnn.kernel_math as kmath
from pysnn import Network, NeuronModel, OneToOne, PluginError, SynapseModel, per_sample, registry
from pysnn import kernel_math as km
from pysnn.kernel_math import exp as kernel_exp
from pysnn.kernel_check import check_kernel, jitted
from pysnn.kernel_source import LINES, bind_kernel, bound_source, original_line

np_ = np  # noqa: F841  (a second name for NumPy: the lint resolves aliases)
HALF = 0.5
STEPS = np.float32(2.0)
TABLE = [1.0, 2.0]


def helper(x):
    return x


def marked_line(cls: type) -> int:
    """The line of ``cls``'s file that carries the marker ``# here``."""
    lines, first = inspect.getsourcelines(cls)
    return first + next(k for k, line in enumerate(lines) if line.rstrip().endswith("# here"))


def spec(cls: type):
    return registry.spec_for("synapse" if issubclass(cls, SynapseModel) else "neuron", cls)


# --- the kernel language: what is accepted ------------------------------------------------------


class LanguageTour(NeuronModel):
    """Everything a kernel may use, in one model."""

    params = {"thresh": 1.0}
    state = {"v": per_sample(0.0), "w": per_sample(0.0)}

    @staticmethod
    def update(v, w, i_in, thresh, dt):
        """A docstring is fine."""
        for _ in range(2):
            v = v + HALF * dt * (i_in - v) / STEPS
        v += -w % 3.0 + (+w // 2.0) - 2**-1
        w, v = abs(w - i_in) ** 2 * 0.1, v * 1
        spiked = (v >= thresh) & ~(w > 10.0) | (v != v) ^ False
        v = kmath.where(spiked, 0.0, kernel_exp(pysnn.kernel_math.minimum(v, 0.0)) - 1.0 + v)
        return v, km.clip(w, 0.0, 5.0), spiked


def test_every_construct_of_the_kernel_language_runs_identically_on_both_backends():
    results = []
    for backend in ("numpy", "numba-cpu"):
        net = Network()
        net.add_input("x", 6, encoder="current")
        net.add_population("y", 6, model=LanguageTour)
        net.connect("x", "y", OneToOne(1.0))
        net.monitor("y", "v")
        net.monitor("y", "w")
        out = net.compile(backend=backend).run(30, {"x": np.linspace(-3.0, 3.0, 12).reshape(2, 6)})
        results.append((out.state("y", "v"), out.state("y", "w")))
    assert all(a.tobytes() == b.tobytes() for a, b in zip(*results))
    assert np.isfinite(results[0][0]).all() and results[0][1].std() > 0


LIMIT = 0.7  # float32(0.7) < 0.7: compared as float64, float32(0.7) >= LIMIT would be False


def reaches_limit(v):
    return v >= LIMIT


def test_module_level_numbers_are_bound_by_value_like_literals(monkeypatch):
    f32 = np.dtype(np.float32)
    assert "LIMIT = __pysnn_literal__(0.7)" in bound_source(reaches_limit, f32).splitlines()
    bound = bind_kernel(reaches_limit, f32)
    v = np.float32(0.7)
    kernel = jitted(bound)  # called from compiled code only
    assert bound(np.array([v]))[0] and numba.njit(lambda x: kernel(x))(v)  # NumPy and Numba compare in float32
    # the value is part of the source: a changed constant gives another file (Numba's cache freezes globals)
    monkeypatch.setattr(sys.modules[__name__], "LIMIT", 0.25)
    assert "LIMIT = __pysnn_literal__(0.25)" in bound_source(reaches_limit, f32).splitlines()


def test_installed_plugins_use_only_the_kernel_language():
    problems = [error for _, error in registry.report() if error]
    assert problems == []


# --- the kernel language: what is rejected ------------------------------------------------------


class UsesIf(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v + i_in
        if v > 1.0:  # here
            v = 0.0
        return v, v > 1.0


class UsesWhile(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        while v > 1.0:  # here
            v = v - 1.0
        return v, v > 1.0


class UsesConditionalExpression(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = 0.0 if v > 1.0 else v + i_in  # here
        return v, v > 1.0


class UsesAnd(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, (v > 1.0) and (i_in > 0.0)  # here


class UsesOr(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, (v > 1.0) or (i_in > 0.0)  # here


class UsesNot(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, not v < 1.0  # here


class UsesChainedComparison(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, 0.0 < v < 1.0  # here


class UsesNumpyExp(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, dt):
        v = v * np.exp(-dt)  # here
        return v, v > 1.0


class UsesNumpyAlias(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = np_.minimum(v, i_in)  # here
        return v, v > 1.0


class UsesMath(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = math.sqrt(v)  # here
        return v, v > 1.0


class UsesBuiltinMax(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = max(v, i_in)  # here
        return v, v > 1.0


class UsesRound(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = round(v)  # here
        return v, v > 1.0


class UsesNumpyAbs(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = np.abs(v)  # here
        return v, v > 1.0


class UsesNumpyTanh(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = np.tanh(v)  # here
        return v, v > 1.0


class UsesOwnFunction(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = helper(v)  # here
        return v, v > 1.0


class UsesPrivateKernelMath(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = km.exp_reduced(v, 0.0)  # here
        return v, v > 1.0


class UsesKeywordArgument(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = km.where(v > 1.0, if_true=0.0, if_false=v)  # here
        return v, v > 1.0


class UsesAttribute(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v * math.pi  # here
        return v, v > 1.0


class UsesSubscript(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v + i_in[0]  # here
        return v, v > 1.0


class UsesString(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v + "mV", v > 1.0  # here


class UsesList(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v * TABLE  # here
        return v, v > 1.0


class UsesUndefinedName(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v * GAIN  # noqa: F821  # here
        return v, v > 1.0


class UsesComprehension(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = km.where(v > 1.0, [v for _ in range(2)], v)  # here
        return v, v > 1.0


class UsesShift(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v << 1  # here
        return v, v > 1.0


class UsesIs(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        return v, v is i_in  # here


class UsesLoopVariable(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        for k in range(3):  # here
            v = v + k
        return v, v > 1.0


class UsesParameterRange(NeuronModel):
    params = {"n": 3.0}
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in, n):
        for _ in range(n):  # here
            v = v + i_in
        return v, v > 1.0


class UsesGlobal(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        global HALF  # here
        return v, v > 1.0


class UsesTry(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        try:  # here
            v = v / i_in
        except ZeroDivisionError:
            v = 0.0
        return v, v > 1.0


class UsesWith(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        with np.errstate(all="ignore"):  # here
            v = v / i_in
        return v, v > 1.0


class UsesAssert(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        assert v == v  # here
        return v, v > 1.0


class UsesImport(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        import math as m  # here

        return v * m.e, v > 1.0


class UsesAnnotation(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(
        v: float,  # here
        i_in,
    ):
        return v, v > 1.0


class MultiLineStatement(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v + i_in
        v = km.where(
            v > 1.0,
            np.exp(v),  # here
            v,
        )
        return v, v > 1.0


@pytest.mark.parametrize(
    "cls, message",
    [
        (UsesIf, r"an `if` statement is not allowed in a kernel: .*km\.where\(cond, a, b\)"),
        (UsesWhile, r"a `while` loop is not allowed in a kernel: .*for _ in range\(n\)"),
        (UsesConditionalExpression, r"a conditional expression \(a if c else b\) is not allowed .*use km\.where\(c, a, b\)"),
        (UsesAnd, r"`and` is not allowed in a kernel: .*use & or \|"),
        (UsesOr, r"`or` is not allowed in a kernel: .*use & or \|"),
        (UsesNot, r"`not` is not allowed in a kernel: .*use ~"),
        (UsesChainedComparison, r"the chained comparison `0.0 < v < 1.0` is not allowed .*\(a < b\) & \(b < c\)"),
        (UsesNumpyExp, r"np\.exp\(\.\.\.\) is not allowed in a kernel: NumPy's exp .*compiled backends; use km\.exp$"),
        (UsesNumpyAlias, r"np_\.minimum\(\.\.\.\) is not allowed in a kernel: NumPy's minimum .*; use km\.minimum$"),
        (UsesMath, r"math\.sqrt\(\.\.\.\) is not allowed in a kernel: .*NumPy backend's arrays; use km\.sqrt$"),
        (UsesBuiltinMax, r"max\(\.\.\.\) is not allowed in a kernel: max\(\) does not work element-wise .*; use km\.maximum$"),
        (UsesRound, r"round\(\.\.\.\) is not allowed in a kernel: round\(\) is not one of the builtins a kernel may call \(abs\)$"),
        (UsesNumpyAbs, r"np\.abs\(\.\.\.\) is not allowed in a kernel: .*; use abs\(\)$"),
        (UsesNumpyTanh, r"np\.tanh\(\.\.\.\) is not allowed in a kernel: NumPy's tanh is not guaranteed to round like the compiled backends$"),
        (UsesOwnFunction, r"helper\(\.\.\.\) is not allowed in a kernel: a kernel calls only pysnn\.kernel_math functions and abs\(\)$"),
        (UsesPrivateKernelMath, r"km\.exp_reduced\(\.\.\.\) is not allowed in a kernel: a kernel calls only pysnn\.kernel_math"),
        (UsesKeywordArgument, r"`km\.where\(.*\)` is not allowed in a kernel: pass the arguments .* by position"),
        (UsesAttribute, r"`math\.pi` is not allowed in a kernel: .*module-level constant"),
        (UsesSubscript, r"`i_in\[0\]` is not allowed in a kernel: a kernel computes on scalars"),
        (UsesString, r"the literal 'mV' is not allowed in a kernel: a kernel computes on numbers and bools only"),
        (UsesList, r"'TABLE' \(a list\) is not allowed in a kernel: the only module-level names a kernel reads are numbers"),
        (UsesUndefinedName, r"the name 'GAIN' is not allowed in a kernel: it is neither an argument, a local nor defined"),
        (UsesComprehension, r"`\[v for _ in range\(2\)\]` is not allowed in a kernel: a kernel computes with arithmetic"),
        (UsesShift, r"the operator << is not allowed in a kernel"),
        (UsesIs, r"`is` is not allowed in a kernel: a kernel compares with == != < <= > >="),
        (UsesLoopVariable, r"`for k in range\(3\)` is not allowed in a kernel: the only loop is `for _ in range\(n\)`"),
        (UsesParameterRange, r"`for _ in range\(n\)` is not allowed in a kernel: .*integer literal n"),
        (UsesGlobal, r"`global HALF` is not allowed in a kernel: a kernel body is assignments"),
        (UsesTry, r"`try:` is not allowed in a kernel: a kernel body is assignments"),
        (UsesWith, r"`with np\.errstate\(all='ignore'\):` is not allowed in a kernel"),
        (UsesAssert, r"`assert v == v` is not allowed in a kernel"),
        (UsesImport, r"`import math as m` is not allowed in a kernel"),
        (UsesAnnotation, r"the annotation of 'v' is not allowed in a kernel"),
        (MultiLineStatement, r"np\.exp\(\.\.\.\) is not allowed in a kernel"),
    ],
)
def test_kernels_outside_the_kernel_language_are_rejected_at_their_line(cls, message):
    where = re.escape(f"update() at {__file__}:{marked_line(cls)}: ")
    with pytest.raises(PluginError, match=f"^plugin class {__name__}\\.{cls.__name__}: {where}{message}"):
        spec(cls)


# --- returns are checked by name ------------------------------------------------------------------


class SwapsState(NeuronModel):
    state = {"v": per_sample(), "refrac_count": per_sample()}

    @staticmethod
    def update(v, refrac_count, i_in):
        spiked = v > 1.0
        return refrac_count, v, spiked  # here


class ReturnsSpikedFirst(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        spiked = v > 1.0
        return spiked, v  # here


class CurrentFirst(SynapseModel):
    state = {"i": per_sample()}

    @staticmethod
    def update(i, i_in):
        current = i
        return current, i + i_in  # here


@pytest.mark.parametrize(
    "cls, message",
    [
        (SwapsState, "`return (refrac_count, v, spiked)` returns 'refrac_count' in the place of 'v'; update() returns (v, refrac_count, spiked) in this order"),
        (ReturnsSpikedFirst, "`return (spiked, v)` returns 'spiked' in the place of 'v'; update() returns (v, spiked) in this order"),
        (CurrentFirst, "`return (current, i + i_in)` returns 'current' in the place of 'i'; update() returns (i, current) in this order"),
    ],
)
def test_returned_names_out_of_their_declared_place_are_rejected(cls, message):
    where = f"update() at {__file__}:{marked_line(cls)}: "
    with pytest.raises(PluginError, match=f"^plugin class {__name__}\\.{cls.__name__}: {re.escape(where + message)}$"):
        spec(cls)


class ReturnsInOrder(NeuronModel):
    """Other names are fine anywhere; a name also at its own place may be repeated (``i, i``)."""

    state = {"v": per_sample(), "w": per_sample()}

    @staticmethod
    def update(v, w, i_in):
        new_w = v
        new_v = w + i_in
        spiked = new_v > 1.0
        return new_v, new_w, spiked


class StateIsCurrent(SynapseModel):
    state = {"i": per_sample()}

    @staticmethod
    def update(i, i_in):
        i = i * 0.5 + i_in
        return i, i


def test_returns_of_other_names_and_repeated_names_are_accepted():
    assert spec(ReturnsInOrder).kernels["update"].outputs == ("v", "w", "spiked")
    assert spec(StateIsCurrent).kernels["update"].outputs == ("i", "current")


# --- Numba errors name the plugin's own file and line ----------------------------------------------


class DoesNotTypeInALoop(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = v + i_in

        for _ in range(2):
            v = v * 0.5
            v = km.exp(v, i_in)  # here
        return v, v > 1.0


class InvertsANumber(NeuronModel):
    state = {"v": per_sample()}

    @staticmethod
    def update(v, i_in):
        v = (
            v
            + ~i_in  # here
        )
        return v, v > 1.0


@pytest.mark.parametrize("cls", [DoesNotTypeInALoop, InvertsANumber])
def test_numba_typing_errors_name_the_plugins_file_and_line(cls):
    # a statement over several lines is reported at its first line
    line = marked_line(cls) - (2 if cls is InvertsANumber else 0)
    kernel = spec(cls).kernels["update"]
    f32 = np.dtype(np.float32)
    where = re.escape(f"label: update() does not compile with Numba for float32 at {__file__}:{line}: ")
    with pytest.raises(PluginError, match=where):
        check_kernel(kernel, bind_kernel(kernel.function, f32), f32, "label")


class Twin:
    @staticmethod
    def update(v, i_in):
        v = v + i_in
        return v, v > 1.0


class OtherTwin:
    @staticmethod
    def update(v, i_in):
        v = v + i_in
        return v, v > 1.0


def test_bound_source_depends_on_the_function_not_on_its_place_in_the_file():
    f32 = np.dtype(np.float32)
    first, second = (bound_source(c.update, f32).splitlines() for c in (Twin, OtherTwin))
    assert first[0] != second[0]  # the comment names the function
    assert first[1:] == second[1:]  # the rest, line map included, is the same
    bound = bind_kernel(OtherTwin.update, f32)
    generated = bound_source(OtherTwin.update, f32).splitlines()
    start = inspect.getsourcelines(OtherTwin.update)[1]  # the decorator's line
    assert {original_line(OtherTwin.update, bound, k) for k in bound.__globals__[LINES]} == {start + 1, start + 2, start + 3}
    assert original_line(OtherTwin.update, bound, generated.index("    v = v + i_in") + 1) == start + 2
