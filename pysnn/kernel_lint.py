"""The kernel language: what a kernel function's body may contain, checked when a plugin loads.

Every backend runs a kernel unchanged: NumPy on whole arrays, Numba compiled per element. Only
constructs that mean the same thing, with the same rounding, in both places are allowed:

- arithmetic ``+ - * / // % **`` (and unary ``-``, ``+``), comparisons ``== != < <= > >=`` (not
  chained), and ``& | ^ ~`` on bools;
- assignments, augmented assignments and tuple unpacking to local names; ``return``; loops
  ``for _ in range(n)`` with an integer literal ``n`` (sub-steps); a docstring;
- numeric and bool literals, the kernel's arguments and locals, module-level numbers;
- calls of public ``pysnn.kernel_math`` functions (under any import name), arguments by position,
  and of the builtins in ``ALLOWED_BUILTINS``; a constant draw index of ``uniform`` is an integer
  in [0, 256).

Value-dependent control flow (``if``, ``while``, ``a if c else b``, ``and``, ``or``, ``not``) is
written with ``km.where`` and ``& | ~``: Python branches need one truth value, which an array has
not. See docs/design.md, "Kernel language".
"""

from __future__ import annotations

import ast
import builtins
from types import FunctionType, ModuleType
from typing import NoReturn

import numpy as np

from pysnn import kernel_math
from pysnn.errors import PluginError

ALLOWED_BUILTINS = (abs,)
"""Builtins a kernel may call: ``abs`` is exact and keeps the dtype on NumPy arrays and Numba
scalars alike. ``min``/``max`` (not element-wise on arrays), ``round``/``int``/``float``/``bool``
(Python scalars only; ``round`` gives an integer under Numba) and ``pow`` (not rewritten like
``**``) are not."""

_REPLACEMENTS = {name: name for name in kernel_math.__all__} | {"min": "minimum", "max": "maximum", "pow": "power"}
"""Function name -> the kernel_math function to use instead."""

_BINARY_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr, ast.BitXor)
_COMPARISONS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_SYMBOLS = {ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_BODY = "a kernel body is assignments to local names, `for _ in range(n)` loops and `return`"
_EXPRESSION = (
    "a kernel computes with arithmetic, comparisons, & | ^ ~, numbers, its arguments and locals, "
    "module-level numbers and kernel_math calls"
)
_MISSING = object()
_NUMBERS = (bool, int, float, np.bool_, np.integer, np.floating)
"""The module-level values a kernel may read."""


def check_kernel_body(func: FunctionType, definition: ast.FunctionDef, kernel: str) -> None:
    """Raise ``PluginError`` at the first construct of ``definition`` (the parsed source of
    ``func``, kernel ``kernel``) outside the kernel language, naming its file and line and a fix."""
    _Lint(func, kernel).function(definition)


class _Lint:
    def __init__(self, func: FunctionType, kernel: str) -> None:
        self.func = func
        self.kernel = kernel
        self.locals = set(func.__code__.co_varnames)
        # how the kernel's module names kernel_math, for the fixes we suggest
        aliases = [name for name, value in func.__globals__.items() if value is kernel_math]
        self.km = "km" if "km" in aliases else next(iter(aliases), None)

    def fail(self, node: ast.AST, what: str, why: str) -> NoReturn:
        code = self.func.__code__
        raise PluginError(
            f"{self.kernel}() at {code.co_filename}:{code.co_firstlineno + node.lineno - 1}: "
            f"{what} is not allowed in a kernel: {why}"
        )

    def function(self, node: ast.FunctionDef) -> None:
        for arg in node.args.posonlyargs + node.args.args:
            if arg.annotation is not None:
                self.fail(arg, f"the annotation of {arg.arg!r}", "kernel arguments take the types pysnn gives them")
        if node.returns is not None:
            self.fail(node.returns, "a return annotation", "kernels return the types pysnn declares for them")
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body = body[1:]  # the docstring
        for statement in body:
            self.statement(statement)

    # -- statements ---------------------------------------------------------------------------

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.target(target)
            unpacking = isinstance(node.value, ast.Tuple) and all(isinstance(t, ast.Tuple) for t in node.targets)
            for value in node.value.elts if unpacking else [node.value]:
                self.expression(value)
        elif isinstance(node, ast.AugAssign):
            self.target(node.target)
            self.operator(node, node.op)
            self.expression(node.value)
        elif isinstance(node, ast.Return):
            if node.value is None:
                self.fail(node, "`return` without a value", f"return the outputs of {self.kernel}()")
            for value in node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]:
                self.expression(value)
        elif isinstance(node, ast.For):
            self.loop(node)
        elif isinstance(node, ast.If):
            self.fail(
                node,
                "an `if` statement",
                "a branch on a value does not work on the NumPy backend's arrays; compute both values and "
                "pick with km.where(cond, a, b)",
            )
        elif isinstance(node, ast.While):
            self.fail(
                node,
                "a `while` loop",
                "its number of iterations would depend on values; loop a fixed number of times with "
                "`for _ in range(n)` and freeze finished elements with km.where(cond, a, b)",
            )
        else:
            self.fail(node, f"`{ast.unparse(node).splitlines()[0]}`", _BODY)

    def loop(self, node: ast.For) -> None:
        it = node.iter
        fixed = (
            isinstance(node.target, ast.Name)
            and node.target.id == "_"
            and isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and len(it.args) == 1
            and not it.keywords
            and isinstance(it.args[0], ast.Constant)
            and type(it.args[0].value) is int
        )
        if not fixed or node.orelse:
            self.fail(
                node,
                f"`for {ast.unparse(node.target)} in {ast.unparse(it)}`" + (" with `else`" if node.orelse else ""),
                "the only loop is `for _ in range(n)` with an integer literal n (a fixed number of sub-steps)",
            )
        for statement in node.body:
            self.statement(statement)

    def target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Tuple):
            for element in node.elts:
                self.target(element)
        elif not isinstance(node, ast.Name):
            self.fail(node, f"assigning to `{ast.unparse(node)}`", "a kernel assigns only to local names")

    # -- expressions --------------------------------------------------------------------------

    def expression(self, node: ast.expr) -> None:
        if isinstance(node, ast.BinOp):
            self.operator(node, node.op)
            self.expression(node.left)
            self.expression(node.right)
        elif isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.fail(node, "`not`", "it does not work on the NumPy backend's arrays; use ~ on a bool")
            self.expression(node.operand)
        elif isinstance(node, ast.Compare):
            self.comparison(node)
        elif isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            self.fail(
                node,
                f"`{word}`",
                "it does not work on the NumPy backend's arrays; use & or | on bools, with parentheses "
                "around comparisons: (a < b) & (c < d)",
            )
        elif isinstance(node, ast.IfExp):
            self.fail(node, "a conditional expression (a if c else b)", "use km.where(c, a, b)")
        elif isinstance(node, ast.Constant):
            if type(node.value) not in (int, float, bool):
                self.fail(node, f"the literal {node.value!r}", "a kernel computes on numbers and bools only")
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Attribute):
            self.fail(
                node,
                f"`{ast.unparse(node)}`",
                "a kernel reads attributes only to call kernel_math functions; bind a value to a "
                "module-level constant",
            )
        elif isinstance(node, ast.Subscript):
            self.fail(node, f"`{ast.unparse(node)}`", "a kernel computes on scalars, which have no elements")
        else:
            self.fail(node, f"`{ast.unparse(node)}`", _EXPRESSION)

    def operator(self, node: ast.AST, op: ast.operator) -> None:
        if not isinstance(op, _BINARY_OPS):
            self.fail(node, f"the operator {_SYMBOLS[type(op)]}", "a kernel uses + - * / // % ** and & | ^")

    def comparison(self, node: ast.Compare) -> None:
        if len(node.ops) > 1:
            self.fail(
                node,
                f"the chained comparison `{ast.unparse(node)}`",
                "it means `and`, which does not work on arrays; write (a < b) & (b < c)",
            )
        if not isinstance(node.ops[0], _COMPARISONS):
            self.fail(node, f"`{_SYMBOLS[type(node.ops[0])]}`", "a kernel compares with == != < <= > >=")
        self.expression(node.left)
        self.expression(node.comparators[0])

    def name(self, node: ast.Name) -> None:
        if node.id in self.locals:
            return
        value = self.resolve(node)
        if value is _MISSING:
            self.fail(node, f"the name {node.id!r}", "it is neither an argument, a local nor defined in the plugin's module")
        if isinstance(value, _NUMBERS):
            return
        self.fail(
            node,
            f"{node.id!r} (a {type(value).__name__})",
            "the only module-level names a kernel reads are numbers (and kernel_math functions it calls)",
        )

    def call(self, node: ast.Call) -> None:
        target = self.resolve(node.func)
        name = getattr(target, "__name__", None)
        allowed = (name in kernel_math.__all__ and getattr(kernel_math, name) is target) or any(
            target is function for function in ALLOWED_BUILTINS
        )
        if not allowed:
            self.fail(node, f"{ast.unparse(node.func)}(...)", self.call_fix(node.func, target))
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            self.fail(node, f"`{ast.unparse(node)}`", "pass the arguments of kernel functions by position")
        for arg in node.args:
            self.expression(arg)
        if target is kernel_math.uniform and len(node.args) == 2:
            self.draw_index(node.args[1])

    def draw_index(self, node: ast.expr) -> None:
        """A constant index of ``km.uniform`` must be an integer in [0, DRAWS): any other would
        give NaN at every step (``kernel_math.uniform``); a computed one is checked when drawn."""
        index = self.constant(node)
        if index is not _MISSING and not (0 <= index < kernel_math.DRAWS and float(index).is_integer()):
            written = ast.unparse(node)
            self.fail(
                node,
                f"the draw index {written}" + ("" if written == repr(index) else f" (= {index!r})"),
                f"{self.km or 'km'}.uniform(rng, i) takes an integer 0 <= i < {kernel_math.DRAWS}: each element has "
                f"{kernel_math.DRAWS} independent draws per step (i >= {kernel_math.DRAWS} would be another element's)",
            )

    def constant(self, node: ast.expr) -> object:
        """The value of a number literal, a signed one or a module-level number; else ``_MISSING``."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            value = self.constant(node.operand)
            return value if value is _MISSING or isinstance(node.op, ast.UAdd) else -value
        if isinstance(node, ast.Constant):
            return node.value
        value = self.resolve(node) if isinstance(node, ast.Name) else _MISSING
        return value if isinstance(value, _NUMBERS) else _MISSING

    def call_fix(self, node: ast.expr, target: object) -> str:
        called = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
        if isinstance(node, ast.Attribute):
            module = getattr(self.resolve(node.value), "__name__", "")
        else:
            module = "" if target is _MISSING else getattr(target, "__module__", None) or ""
        if module.split(".")[0] == "numpy":
            why = f"NumPy's {called} is not guaranteed to round like the compiled backends"
        elif module == "math":
            why = f"math.{called} does not work on the NumPy backend's arrays"
        elif module == "builtins" and called in ("min", "max"):
            why = f"{called}() does not work element-wise on arrays"
        elif module == "builtins":
            why = f"{called}() is not one of the builtins a kernel may call (abs)"
        else:
            why = "a kernel calls only pysnn.kernel_math functions and abs()"
        if called in ("abs", "absolute", "fabs"):
            return f"{why}; use abs()"
        if called in _REPLACEMENTS:
            return f"{why}; use {self.km or 'km'}.{_REPLACEMENTS[called]}" + (
                "" if self.km else " (from pysnn import kernel_math as km)"
            )
        return why

    def resolve(self, node: ast.expr) -> object:
        """What a (dotted) name refers to in the kernel's module; ``_MISSING`` for locals, unknown
        names and anything but module attributes."""
        if isinstance(node, ast.Name):
            if node.id in self.locals:
                return _MISSING
            return self.func.__globals__.get(node.id, getattr(builtins, node.id, _MISSING))
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if isinstance(base, ModuleType):
                return getattr(base, node.attr, _MISSING)
        return _MISSING
