"""Checkpoints: a simulation's state, its step counter and the caller's progress in one file.

``save_checkpoint(path, sim, progress)`` writes one, ``load_checkpoint(path, sim)`` restores it
and returns ``progress``. Training interrupted and resumed from a checkpoint ends bit-identical to
an uninterrupted run. Random numbers are counter-based (``pysnn.rng``: a draw is a function of
the seed, the population, the sample id, the step and the neuron), so a simulation's position in
its random streams is its seed and step counter, which are saved, and the sample ids its caller
passes to ``run``, which belong in ``progress`` (the index into the data, a permutation's seed).

Format, version 1: an uncompressed NumPy ``.npz`` (a zip of ``.npy`` files), read with
``allow_pickle=False``, holding

- ``meta``: JSON text (its UTF-8 bytes, a uint8 array): ``format`` ("pysnn-checkpoint"), ``version``,
  ``pysnn_version``, the network's ``structure`` and ``structure_hash`` (``Network.structure``),
  ``dtype``, ``seed``, ``backend`` (for information only), ``step``, ``batch_size`` (null: no batch
  allocated, shared state only), ``state`` (per array: ``array``, ``kind``, ``owner``,
  ``variable``) and ``progress`` (per entry: ``name`` and its ``value``, or its ``array``);
- ``state_<i>``: every state array: weights, shared neuron variables (``theta``), and, when a
  batch is allocated, the per-sample state (potentials, outputs, traces, synapse and rule state);
- ``progress_<i>``: the progress entries that are arrays.
"""

from __future__ import annotations

import contextlib
import json
import os
import zipfile
import zlib
from typing import Any, Mapping, Union

import numpy as np

from pysnn import __version__
from pysnn.errors import CheckpointError, ConfigError, shown
from pysnn.network import structure_digest
from pysnn.simulation import Simulation
from pysnn.state_keys import NeuronKey, OutputKey, RuleKey, StateKey, SynapseKey, TraceKey, WeightsKey

FORMAT = "pysnn-checkpoint"
VERSION = 1
"""The format version this module writes and reads."""
META = "meta"
"""The name of the metadata entry."""
KINDS: dict[str, type[StateKey]] = {
    "neuron": NeuronKey,
    "output": OutputKey,
    "trace": TraceKey,
    "synapse": SynapseKey,
    "weights": WeightsKey,
    "rule": RuleKey,
}
"""The ``kind`` of a state array in ``meta`` -> its key type."""
_KIND_NAMES = {key_type: name for name, key_type in KINDS.items()}
_FIELDS = {
    "structure_hash": str,
    "dtype": str,
    "seed": int,
    "step": int,
    "batch_size": (int, type(None)),
    "state": list,
    "progress": list,
}
"""The metadata fields that ``load_checkpoint`` reads, besides format and version -> their JSON types."""
_ZIP_MAGIC = b"PK\x03\x04"
"""The first bytes of a zip file (an .npz)."""
_NPY_MAGIC = b"\x93NUM"
"""The first bytes of an .npy file, as many as of ``_ZIP_MAGIC``."""
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)
"""What NumPy and zipfile raise for a file that is not a readable .npz."""

Progress = Mapping[str, Union[int, float, str, np.ndarray]]


def save_checkpoint(path: str | os.PathLike, sim: Simulation, progress: Progress | None = None) -> None:
    """Write ``sim``'s state, step counter and batch size, and ``progress``, to ``path`` (.npz).

    ``progress`` is the caller's position (epoch, index in the data, permutation seed, ...):
    ints, floats, strings or NumPy arrays (numbers or strings, e.g. label-assignment tables),
    returned as given by ``load_checkpoint``. The file is written atomically (to
    ``path.<pid>.partial``, synced, then renamed): ``path`` holds the old file or the whole new
    one. Invalid arguments raise ``ConfigError`` and write nothing.
    """
    path = _path(path)
    _check_simulation(sim)
    entries, arrays = _progress_entries(progress)
    state = sim._snapshot()
    listing = []
    for i, key in enumerate(sorted(state, key=lambda k: (_KIND_NAMES[type(k)], k.owner, k.variable))):
        arrays[f"state_{i}"] = state[key]
        listing.append({"array": f"state_{i}", "kind": _KIND_NAMES[type(key)], "owner": key.owner, "variable": key.variable})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "pysnn_version": __version__,
        "structure_hash": structure_digest(sim._structure),
        "structure": sim._structure,
        "dtype": sim.dtype.name,
        "seed": sim.plan.seed,
        "backend": sim.backend,
        "step": sim.step,
        "batch_size": sim.batch_size,
        "state": listing,
        "progress": entries,
    }
    arrays[META] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    _write_atomically(path, arrays)


def load_checkpoint(path: str | os.PathLike, sim: Simulation) -> dict[str, Any]:
    """Restore ``sim`` from the checkpoint at ``path``: every state array, the batch size and the
    step counter; return the saved ``progress``.

    ``sim`` must be compiled from a network of the same structure (``Network.structure_hash``;
    values such as weights may differ: they are replaced), with the same dtype and seed, on any
    backend. Everything is checked before anything changes: a file that is missing, truncated,
    damaged, not a pysnn checkpoint, of another format version, or that does not fit ``sim``
    (structure, dtype, seed, any array's shape or dtype, non-finite values where ``sim`` checks
    them) raises ``CheckpointError`` (a ``ConfigError``) naming the file and the problem, and
    ``sim`` is unchanged.
    """
    path = _path(path)
    _check_simulation(sim)
    where = f"checkpoint {path}"
    arrays = _read(path, where)
    meta = _metadata(arrays, where)
    _check_origin(meta, sim, where)
    state = {KINDS[e["kind"]](e["owner"], e["variable"]): arrays[e["array"]] for e in meta["state"]}
    try:
        sim._restore(state, meta["batch_size"], meta["step"])
    except ConfigError as exc:
        raise CheckpointError(f"{where} does not fit this simulation: {exc}") from exc
    return _progress(arrays, meta)


def read_progress(path: str | os.PathLike) -> dict[str, Any]:
    """The ``progress`` saved in the checkpoint at ``path``, without a simulation (e.g. to
    rebuild the network it was saved from); the file is checked as ``load_checkpoint`` checks it
    (``CheckpointError``)."""
    path = _path(path)
    where = f"checkpoint {path}"
    arrays = _read(path, where)
    return _progress(arrays, _metadata(arrays, where))


def _path(path: Any) -> str:
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise ConfigError(f"path must be a file name (str or pathlib.Path), got {shown(path)}")
    return os.fspath(path)


def _check_simulation(sim: Any) -> None:
    if not isinstance(sim, Simulation):
        raise ConfigError(f"sim must be a pysnn.Simulation (made by Network.compile), got {shown(sim)}")


def _progress(arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The progress entries of a checked checkpoint: name -> value or array."""
    return {e["name"]: arrays[e["array"]] if "array" in e else e["value"] for e in meta["progress"]}


def _progress_entries(progress: Any) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """``progress`` as ``meta`` entries (scalars by value, arrays by name) and its arrays."""
    progress = {} if progress is None else progress
    if not isinstance(progress, Mapping):
        raise ConfigError(f"progress must be a dict of name -> int, float, str or array, got {shown(progress)}")
    entries, arrays = [], {}
    for name, value in progress.items():
        if not isinstance(name, str):
            raise ConfigError(f"progress keys must be strings, got {shown(name)}")
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(value, np.ndarray) and not value.dtype.hasobject:
            array = f"progress_{len(arrays)}"
            arrays[array] = value
            entries.append({"name": name, "array": array})
        elif isinstance(value, (int, float, str)):
            entries.append({"name": name, "value": value})
        else:
            raise ConfigError(
                f"progress[{name!r}] must be an int, float, str or a NumPy array of numbers or strings, got "
                f"{shown(value)}; a checkpoint holds no Python objects (it would need pickle)"
            )
    return entries, arrays


def _write_atomically(path: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an .npz at ``path``: to a partial file, synced, then renamed over it."""
    partial = f"{path}.{os.getpid()}.partial"
    try:
        with open(partial, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial)


def _read(path: str, where: str) -> dict[str, np.ndarray]:
    """Every entry of the .npz file at ``path``, read into memory."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(_ZIP_MAGIC))
    except FileNotFoundError as exc:
        raise CheckpointError(f"{where} does not exist") from exc
    except OSError as exc:
        raise CheckpointError(f"{where} cannot be read ({exc})") from exc
    if head != _ZIP_MAGIC:
        what = "is empty" if not head else "holds one array (.npy)" if head == _NPY_MAGIC else "is not a .npz (zip) file"
        raise CheckpointError(f"{where} is not a pysnn checkpoint: it {what}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except _READ_ERRORS as exc:
        raise CheckpointError(f"{where} is truncated or damaged: it is not a readable .npz file ({exc})") from exc
    arrays = {}
    with loaded:
        for name in loaded.files:
            try:
                arrays[name] = loaded[name]
            except _READ_ERRORS as exc:
                raise CheckpointError(
                    f"{where} is damaged or not a pysnn checkpoint: its entry {name!r} cannot be read ({exc})"
                ) from exc
    return arrays


def _metadata(arrays: Mapping[str, np.ndarray], where: str) -> dict[str, Any]:
    """The ``meta`` entry, checked: format, version, and the fields ``load_checkpoint`` reads."""
    text, meta = arrays.get(META), None
    if text is not None and text.dtype == np.uint8 and text.ndim == 1:
        with contextlib.suppress(ValueError):  # not UTF-8, or not JSON
            meta = json.loads(text.tobytes())
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{where} is not a pysnn checkpoint: it has no {META!r} entry of format {FORMAT!r} "
            f"(its entries: {', '.join(sorted(arrays)[:8]) or 'none'})"
        )
    version = meta.get("version")
    if version != VERSION:
        newer = isinstance(version, int) and version > VERSION
        raise CheckpointError(
            f"{where} has format version {shown(version)}"
            f"{' (written by a newer pysnn: load it with that version)' if newer else ''}; this pysnn reads version {VERSION}"
        )
    for name, types in _FIELDS.items():
        if not isinstance(meta.get(name), types) or isinstance(meta.get(name), bool):
            raise CheckpointError(f"{where} is damaged: its metadata's {name!r} is {shown(meta.get(name))}")
    for entry in meta["state"]:
        names = isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("owner", "variable", "array"))
        if not (names and entry.get("kind") in KINDS):
            raise CheckpointError(f"{where} is damaged: its metadata lists a state array as {shown(entry)}")
        if entry["array"] not in arrays:
            raise CheckpointError(
                f"{where} is incomplete: the array of {entry['owner']}.{entry['variable']} ({entry['array']!r}) is missing"
            )
    for entry in meta["progress"]:
        valid = isinstance(entry, dict) and isinstance(entry.get("name"), str)
        if not (valid and (entry.get("array") in arrays or isinstance(entry.get("value"), (int, float, str)))):
            raise CheckpointError(f"{where} is damaged or incomplete: its progress entry {shown(entry)} has no value")
    return meta


def _check_origin(meta: Mapping[str, Any], sim: Simulation, where: str) -> None:
    """Raise unless ``meta`` was saved from a simulation of ``sim``'s structure, dtype and seed."""
    saved, current = meta["structure_hash"], structure_digest(sim._structure)
    if saved != current:
        difference = _difference(meta.get("structure"), sim._structure)
        raise CheckpointError(
            f"{where} was saved from a different network (structure hash {saved} != {current})"
            f"{': ' + difference if difference else ''}; load it into a network built the way the saved one was"
        )
    if meta["dtype"] != sim.dtype.name:
        raise CheckpointError(
            f"{where} was saved from a {meta['dtype']} simulation, this one is {sim.dtype.name}; "
            f"compile(dtype={meta['dtype']!r}) to load it"
        )
    if meta["seed"] != sim.plan.seed:
        raise CheckpointError(
            f"{where} was saved with seed {meta['seed']}, this simulation has seed {sim.plan.seed}; "
            f"compile(seed={meta['seed']}) to continue its random streams"
        )


def _difference(saved: Any, current: Mapping[str, list]) -> str:
    """The first difference between a saved ``Network.structure()`` and ``current``, in words
    ("" where none is found, e.g. metadata written otherwise)."""
    if not isinstance(saved, dict):
        return ""
    for part in ("populations", "projections"):
        old, new = saved.get(part), current[part]
        if not isinstance(old, list):
            return ""
        if len(old) != len(new):
            return f"{len(old)} {part} saved, {len(new)} here"
        for a, b in zip(old, new):
            if isinstance(a, dict) and a != b:
                fields = [f"{k} {a.get(k)!r} saved, {v!r} here" for k, v in b.items() if a.get(k) != v]
                return f"{part[:-1]} {b['name']!r}: {'; '.join(fields) or 'its description'}"
    return ""
