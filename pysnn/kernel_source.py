"""Binds kernel functions to a simulation dtype and a target, as importable source files.

NumPy treats a Python number mixed with a float32 array as float32 ("weak" scalars), Numba types
every float literal as float64. Left alone, ``0.04 * v`` would round differently on the two
backends. So before any backend runs a kernel, pysnn rewrites its source once per dtype:

- numeric literals become constants of the simulation dtype (what NumPy does with Python numbers
  and float32 arrays anyway), except integer arguments of ``range()``;
- module-level numbers the kernel reads are written into the file by value (so that a changed
  value changes the file, and Numba's cache, which freezes globals, with it); Python numbers take
  the simulation dtype as literals do, NumPy scalars keep theirs;
- ``x ** n`` with an integer literal 1 <= n <= 8 becomes ``x * x * ...`` (what both compute
  for squares, and the only form they agree on for higher powers); any other power becomes
  ``kernel_math.power(x, y)``;
- ``x op= y`` becomes ``x = x op y``: on NumPy arrays the augmented form would update the array
  in place, changing the caller's array (an argument, state) where Numba's scalars cannot.

For the CUDA target (``target="cuda"``) the kernel's ``+ - * /`` on values then become calls of ``pysnn.kernel_rounding``'s explicitly rounded operations, which
NVVM cannot fuse into multiply-adds; ``range()`` arguments stay as they are.

The rewritten function is written to a file named by the hash of its content (so Numba can cache
what is compiled from it; a file found with other content is damaged and rewritten) and imported;
every backend runs that same function object. The file also maps each of the function's lines to
its line in the original function (``LINES``, offsets from its first line, so that the content
does not depend on where the function sits in its file): errors name the plugin's own file and
line (``original_line``).
"""

from __future__ import annotations

import ast
import atexit
import copy
import hashlib
import importlib.metadata
import importlib.util
import inspect
import math
import os
import shutil
import sys
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from types import FunctionType, ModuleType

import numpy as np

from pysnn import __version__
from pysnn.errors import ConfigError, PluginError
from pysnn.plugin import function_ast

LITERAL = "__pysnn_literal__"
POWER = "__pysnn_power__"
LINES = "__pysnn_lines__"
MAX_UNROLLED_POWER = 8
TARGETS = ("cpu", "cuda")
ROUNDED = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}  # operator -> kernel_rounding function


def _rounded_name(function: str) -> str:
    """The name a CUDA-bound kernel calls ``kernel_rounding.<function>`` by."""
    return f"__pysnn_{function}__"


CACHE_ENV = "PYSNN_CACHE_DIR"


class CacheWarning(UserWarning):
    """The on-disk cache could not be used as it was: a damaged entry was dropped and rebuilt, or
    the cache folder is not writable and a temporary one is used instead. Nothing is wrong with
    the results; the warning says why this process compiles again."""


RUNTIME_MODULES = ("kernel_math", "kernel_math_jit", "kernel_rounding", "kernel_check", "rng")
"""The pysnn modules that compiled kernels depend on besides their own source: the kernel math,
its compiled forms, the rounded arithmetic, the compile options and the random numbers."""


@lru_cache(maxsize=None)
def runtime_digest() -> str:
    """Hash of what compiled code depends on besides its own source, which is all Numba's cache
    tracks: pysnn's and Numba's versions and the sources of ``RUNTIME_MODULES``. Every generated
    file names it, so that a change of any of them makes new files, compiled afresh."""
    parts = [__version__, importlib.metadata.version("numba")]
    for name in RUNTIME_MODULES:
        parts.append(Path(importlib.util.find_spec(f"pysnn.{name}").origin).read_text())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cache_dir() -> Path:
    """Folder for generated sources and Numba's cache: ``$PYSNN_CACHE_DIR`` or ~/.cache/pysnn
    (``$XDG_CACHE_HOME/pysnn``), one subfolder per pysnn version.

    If that folder cannot be created or written (read-only, under a file), a private temporary
    folder is used instead for the rest of the process, with one ``CacheWarning``: simulations
    still compile (generated sources must be real files for Numba), they are only not cached.
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        path = Path(root)
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        path = base / "pysnn"
    return _usable(path / __version__)


@lru_cache(maxsize=None)
def _usable(path: Path) -> Path:
    """``path``, created, if this process can write into it; else a temporary folder (once per
    path). The fallback is private to the process (``mkdtemp``: a predictable shared folder would
    let another user plant code, or pickles Numba loads, in it) and removed when it exits."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
        return path
    except OSError as exc:
        fallback = Path(tempfile.mkdtemp(prefix="pysnn-cache-"))
        atexit.register(shutil.rmtree, fallback, ignore_errors=True)
        warnings.warn(
            CacheWarning(
                f"pysnn cannot write its cache folder {path} ({exc.strerror or exc}); compiling into the "
                f"temporary folder {fallback} instead, so nothing is cached for the next process. "
                f"Set {CACHE_ENV} to a writable folder to cache compiled code"
            )
        )
        return fallback


class _BindLiterals(ast.NodeTransformer):
    def __init__(self) -> None:
        self.parents: list[ast.AST] = []

    def visit(self, node: ast.AST) -> ast.AST:
        self.parents.append(node)
        try:
            return super().visit(node)
        finally:
            self.parents.pop()

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if isinstance(node.op, ast.Pow):
            exponent = node.right
            if _int_literal(exponent) and 1 <= exponent.value <= MAX_UNROLLED_POWER:
                base = self.visit(node.left)
                product: ast.expr = base
                for _ in range(exponent.value - 1):
                    product = ast.BinOp(left=product, op=ast.Mult(), right=copy.deepcopy(base))
                return product
            call = ast.Call(func=ast.Name(POWER, ast.Load()), args=[node.left, node.right], keywords=[])
            return self.visit(call)
        return self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        """``x op= y`` as ``x = x op y``: a new value, as for Numba's scalars (on NumPy arrays the
        augmented form would change the caller's array, e.g. another argument bound to it)."""
        current = ast.Name(node.target.id, ast.Load())  # the kernel language allows only local names here
        value = self.visit(ast.copy_location(ast.BinOp(left=current, op=node.op, right=node.value), node))
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, float) or (_int_literal(node) and not self._in_range_call()):
            return ast.Call(func=ast.Name(LITERAL, ast.Load()), args=[node], keywords=[])
        return node

    def _in_range_call(self) -> bool:
        return any(_range_call(p) for p in self.parents)


class _RoundedArithmetic(ast.NodeTransformer):
    """``a + b``, ``a - b``, ``a * b``, ``a / b`` as calls of ``kernel_rounding``'s functions
    (``ROUNDED``), except in ``range()`` arguments (augmented assignments are plain ones by now)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        return node if _range_call(node) else self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if type(node.op) not in ROUNDED:
            return node
        return ast.copy_location(_rounded_call(node.op, node.left, node.right), node)



def _rounded_call(op: ast.operator, left: ast.expr, right: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(_rounded_name(ROUNDED[type(op)]), ast.Load()), args=[left, right], keywords=[])


def _range_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"


def _int_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def bound_source(func: FunctionType, dtype: np.dtype, target: str = "cpu") -> str:
    """The module source of ``func`` rewritten for ``dtype`` and ``target`` (see the module docstring)."""
    _check_target(target)
    tree = function_ast(func)
    tree.decorator_list = []
    tree = _BindLiterals().visit(tree)
    if target == "cuda":
        tree = _RoundedArithmetic().visit(tree)
    tree = ast.fix_missing_locations(tree)
    header = f"# Generated by pysnn {__version__} (runtime {runtime_digest()}) from {func.__module__}.{func.__qualname__} for {dtype.name}"
    lines = [
        header + ("." if target == "cpu" else f", target {target}."),
        "import numpy",
        "from pysnn.kernel_math import power as " + POWER,
    ]
    if target == "cuda":
        lines += [f"from pysnn.kernel_rounding import {name} as {_rounded_name(name)}" for name in ROUNDED.values()]
    lines.append(f"{LITERAL} = numpy.{dtype.name}")
    for name, value in sorted(inspect.getclosurevars(func).globals.items()):
        if isinstance(value, ModuleType):
            lines.append(f"import {value.__name__} as {name}")
        elif isinstance(value, (bool, np.bool_)):
            lines.append(f"{name} = {bool(value)!r}")
        elif isinstance(value, np.generic):  # before float: numpy.float64 is a float
            lines.append(f"{name} = numpy.{type(value).__name__}({_number(value.item())})")
        elif isinstance(value, (int, float)):
            lines.append(f"{name} = {LITERAL}({_number(value)})")
        else:
            lines.append(f"from {func.__module__} import {name}")
    lines += ["", ""]
    function = ast.unparse(tree)
    generated = ast.parse(function).body[0]
    origin = {  # line of this module -> line of the original source (decorators included)
        len(lines) + new.lineno: old.lineno
        for old, new in zip(ast.walk(tree), ast.walk(generated))
        if isinstance(old, ast.stmt)
    }
    lines += [function, "", "", f"{LINES} = {origin!r}", ""]
    return "\n".join(lines)


def _number(value: float) -> str:
    """Python source for the number ``value``, exactly (infinities and NaN included)."""
    return repr(value) if math.isfinite(value) else f"float('{value}')"


def original_line(func: FunctionType, bound: FunctionType, line: int) -> int | None:
    """The line of ``func``'s file that line ``line`` of its bound form's file comes from."""
    offset = bound.__globals__[LINES].get(line)
    return None if offset is None else func.__code__.co_firstlineno + offset - 1


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise ConfigError(f"kernel target must be one of {', '.join(map(repr, TARGETS))}, got {target!r}")


_bound: dict[tuple[FunctionType, str, str], FunctionType] = {}


def bind_kernel(func: FunctionType, dtype: np.dtype, target: str = "cpu") -> FunctionType:
    """``func`` rewritten for ``dtype`` and ``target``, loaded from its content-addressed file
    (memoised). Every CPU backend runs the ``"cpu"`` form; ``"cuda"`` computes the same values with
    ``kernel_rounding``'s operations, which NVVM cannot fuse."""
    dtype = np.dtype(dtype)
    key = (func, dtype.name, target)
    if key not in _bound:
        _bound[key] = _load(bound_source(func, dtype, target), func.__name__, target)
    return _bound[key]


def _load(source: str, name: str, target: str) -> FunctionType:
    prefix = "pysnn_kernel" if target == "cpu" else f"pysnn_kernel_{target}"
    try:
        module = import_generated(source, f"{prefix}_{name}", "kernels")
    except Exception as exc:
        raise PluginError(f"rewritten kernel {name}() failed to load: {exc}") from exc
    return getattr(module, name)


def import_generated(source: str, prefix: str, folder: str) -> ModuleType:
    """Import ``source`` from ``cache_dir()/folder/<prefix>_<hash of source>.py``.

    A real file, so that Numba can cache what it compiles from it; imported once per process.
    The module runs ``source`` itself, compiled here: no bytecode file is read or written (a
    truncated ``.pyc`` would break every later import), and what runs is what was hashed.
    """
    name = f"{prefix}_{hashlib.sha256(source.encode()).hexdigest()[:20]}"
    if name not in sys.modules:
        path = write_once(cache_dir() / folder / f"{name}.py", source)
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path))
        sys.modules[name] = module
        try:
            exec(compile(source, str(path), "exec"), module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def write_once(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically unless the file already holds it.

    The files are content-addressed (their name is the hash of their text), so a file that holds
    anything else is damaged (truncated, overwritten): it is replaced, with a ``CacheWarning``.
    """
    data = text.encode()
    try:
        held = path.read_bytes()
    except FileNotFoundError:
        held = None
    if held != data:
        if held is not None:
            warnings.warn(CacheWarning(f"pysnn replaced the damaged generated source {path}"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path
