"""Discovery of plugins through entry points.

pysnn's own models, encoders, reductions and backends are registered exactly like a third
party's: under the entry-point groups of ``GROUPS`` in a distribution's metadata. The installed
entry points are scanned once per process; a plugin is imported and validated the first time it is
looked up, so one broken plugin never prevents the others from loading.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pysnn.errors import PluginError
from pysnn.plugin import PluginSpec, inspect_plugin

if sys.version_info >= (3, 10):
    from importlib.metadata import EntryPoint, entry_points
else:  # pragma: no cover
    from importlib_metadata import EntryPoint, entry_points

GROUPS = {
    "neuron": "pysnn.neurons",
    "synapse": "pysnn.synapses",
    "encoder": "pysnn.encoders",
    "reduction": "pysnn.reductions",
    "learning_rule": "pysnn.learning_rules",
    "backend": "pysnn.backends",
}
"""Plugin kind -> entry-point group."""


@dataclass(frozen=True)
class Entry:
    """One installed entry point of a plugin group."""

    kind: str
    name: str
    value: str
    package: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.kind} plugin '{self.name}' (entry point '{self.value}' of package '{self.package}')"


@lru_cache(maxsize=None)
def _scan() -> dict[str, dict[str, list[tuple[Entry, EntryPoint]]]]:
    found: dict[str, dict[str, list[tuple[Entry, EntryPoint]]]] = {kind: {} for kind in GROUPS}
    for kind, group in GROUPS.items():
        for ep in entry_points(group=group):
            dist = getattr(ep, "dist", None)
            package = dist.name if dist is not None else "<unknown>"
            version = dist.version if dist is not None else ""
            entry = Entry(kind, ep.name, ep.value, package, version)
            found[kind].setdefault(ep.name, []).append((entry, ep))
    return found


def entries(kind: str) -> list[Entry]:
    """The installed plugins of a kind ("neuron", "synapse", ...), without importing them."""
    _check_kind(kind)
    return [entry for versions in _scan()[kind].values() for entry, _ in versions]


def names(kind: str) -> list[str]:
    """Sorted names of the installed plugins of a kind."""
    return sorted({e.name for e in entries(kind)})


def load(kind: str, name: str) -> Any:
    """The class registered as ``name`` in ``kind``'s group: imported, validated, memoised.

    Model plugins come back as a validated ``PluginSpec``; backends as their class.
    """
    _check_kind(kind)
    if not isinstance(name, str):
        raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
    return _load(kind, name)


@lru_cache(maxsize=None)
def _load(kind: str, name: str) -> Any:
    candidates = _scan()[kind].get(name)
    if not candidates:
        raise PluginError(
            f"no {kind} plugin named {name!r} is installed; installed {kind} plugins: "
            f"{', '.join(names(kind)) or 'none'} (install the package that provides it)"
        )
    if len({entry.package for entry, _ in candidates}) > 1:
        packages = ", ".join(sorted({entry.package for entry, _ in candidates}))
        raise PluginError(f"{kind} plugin name {name!r} is registered by several packages: {packages}")
    entry, ep = candidates[0]
    try:
        obj = ep.load()
    except Exception as exc:
        raise PluginError(f"{entry.label} failed to import: {type(exc).__name__}: {exc}") from exc
    if kind == "backend":
        return obj
    return inspect_plugin(obj, entry.label)


def spec_for(kind: str, model: Any) -> PluginSpec:
    """The spec of a model given by registered name or directly as a plugin class."""
    if isinstance(model, str):
        return load(kind, model)
    return _spec_of_class(model)


@lru_cache(maxsize=None)
def _spec_of_class(cls: Any) -> PluginSpec:
    name = getattr(cls, "__qualname__", repr(cls))
    return inspect_plugin(cls, f"plugin class {getattr(cls, '__module__', '?')}.{name}")


def report(*kinds: str) -> list[tuple[Entry, str | None]]:
    """Every installed plugin (of ``kinds``, default all) with ``None`` if it loads and
    validates, else the error message."""
    rows = []
    for kind in kinds or GROUPS:
        for entry in entries(kind):
            try:
                _load(kind, entry.name)
                rows.append((entry, None))
            except PluginError as exc:
                rows.append((entry, str(exc)))
    return rows


def _check_kind(kind: str) -> None:
    if kind not in GROUPS:
        raise ValueError(f"unknown plugin kind {kind!r}; expected one of {sorted(GROUPS)}")


def clear_cache() -> None:
    """Forget scanned entry points and loaded plugins (after installing a package in-process)."""
    _scan.cache_clear()
    _load.cache_clear()
    _spec_of_class.cache_clear()
