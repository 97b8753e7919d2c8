"""Checks that every installed plugin's kernels compile for every installed backend.

``pysnn plugins --check`` runs this: a plugin that imports and validates (``registry.report``)
may still fail to compile for a backend (a construct Numba cannot type, a result that leaves the
simulation dtype). Each backend checks a kernel with its own ``Backend.check_kernel``, for each
simulation dtype, exactly as it does when a network using the plugin is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysnn import registry
from pysnn.errors import PluginError
from pysnn.kernel_source import bind_kernel
from pysnn.plan import DTYPES
from pysnn.registry import Entry


@dataclass(frozen=True)
class PluginReport:
    """One installed plugin: its load error, or per backend None (compiles) or the error."""

    entry: Entry
    load_error: str | None
    backends: dict[str, str | None]

    @property
    def ok(self) -> bool:
        return self.load_error is None and all(error is None for error in self.backends.values())


def check_installed() -> tuple[list[str], list[PluginReport]]:
    """The backends that load, and a report for every installed model plugin."""
    backends = {}
    for entry, error in registry.report():
        if entry.kind == "backend" and error is None:
            backends[entry.name] = registry.load("backend", entry.name)
    reports = []
    for entry, error in registry.report():
        if entry.kind == "backend":
            continue
        compiled = {}
        if error is None:
            spec = registry.load(entry.kind, entry.name)
            compiled = {name: _compile_error(backend, spec) for name, backend in backends.items()}
        reports.append(PluginReport(entry, error, compiled))
    return list(backends), reports


def _compile_error(backend: type, spec) -> str | None:
    try:
        for dtype in map(np.dtype, DTYPES):
            for kernel in spec.kernels.values():
                backend.check_kernel(kernel, bind_kernel(kernel.function, dtype), dtype, spec.label)
    except PluginError as exc:
        return str(exc)
    return None
