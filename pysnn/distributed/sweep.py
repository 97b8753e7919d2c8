"""Parameter sweeps as Dask tasks: each point a full simulation or training run, the results a
table, the finished points kept on disk so that a restarted sweep does not redo them."""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pysnn.errors import ConfigError, shown
from pysnn.distributed.cluster import require_dask
from pysnn.distributed.sharded import RETRIES, check_retries
from pysnn.distributed.tasks import reraise, run_call

Points = Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]]
"""A grid (parameter -> values: every combination, in order) or a list of parameter sets."""


def grid_points(points: Points) -> list[dict[str, Any]]:
    """The parameter sets of ``points``: a grid's cartesian product (the last parameter varying
    fastest), or the list's dicts; each must be JSON data (it names the point on disk)."""
    if isinstance(points, Mapping):
        names = list(points)
        if any(isinstance(values, (str, bytes)) or not isinstance(values, Iterable) for values in points.values()):
            raise ConfigError(f"a grid maps each parameter to a list of values, got {shown(dict(points))}")
        expanded = [dict(zip(names, values)) for values in itertools.product(*(list(points[n]) for n in names))]
    else:
        listed = list(points) if isinstance(points, Iterable) and not isinstance(points, (str, bytes)) else [points]
        if not all(isinstance(point, Mapping) for point in listed):
            raise ConfigError(f"points must be a grid (dict of lists) or a list of dicts of parameters, got {shown(points)}")
        expanded = [dict(point) for point in listed]
    for point in expanded:
        _key(point)
    if not expanded:
        raise ConfigError("points must hold at least one parameter set, got none")
    return expanded


def sweep(
    points: Points,
    run_point: Callable[..., Mapping[str, Any]],
    client: Any = None,
    out: str | os.PathLike | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    retries: int = RETRIES,
) -> list[dict[str, Any]]:
    """``run_point(**params)`` for every parameter set of ``points`` (``grid_points``), as Dask
    tasks on ``client`` (None: one after another in this process); the records (each point's
    parameters, then its results), in the order of ``points``.

    ``run_point`` returns a dict of results (JSON data) and must be picklable (a module-level
    function or a ``functools.partial`` of one). With ``out`` (``.csv``, else JSON), each finished
    point is appended to the journal ``<out>.jsonl`` as it comes, and the table is written to
    ``out`` at the end; a sweep restarted with the same ``out`` reads the journal and runs only
    the points not in it (a point is its parameters, as canonical JSON). A pysnn error in a point
    stops the sweep with that error; the points finished before are kept.
    """
    points = grid_points(points)
    retries = check_retries(retries)
    journal = None if out is None else Path(f"{out}.jsonl")
    done = _read_journal(journal)
    todo = [point for point in points if _key(point) not in done]
    for point, results in _results(todo, run_point, client, retries):
        record = _record(point, results)
        done[_key(point)] = record
        if journal is not None:
            with journal.open("a") as f:
                f.write(json.dumps({"point": point, "record": record}) + "\n")
        if progress is not None:
            progress(1)
    records = [done[_key(point)] for point in points]
    if out is not None:
        write_table(Path(out), records)
    return records


def write_table(path: Path, records: list[dict[str, Any]]) -> None:
    """``records`` as CSV (a ``.csv`` path: the columns of every record, in order of appearance)
    or else a JSON list."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        columns = list(dict.fromkeys(column for record in records for column in record))
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(records)
    else:
        path.write_text(json.dumps(records, indent=1) + "\n")


def _results(points: list[dict], run_point: Callable, client: Any, retries: int):
    """(point, results) of each point as it finishes."""
    if client is None:
        for point in points:
            yield point, reraise(run_call(run_point, point))
        return
    distributed = require_dask()
    futures = {client.submit(run_call, run_point, point, retries=retries, pure=False): point for point in points}
    try:
        for future in distributed.as_completed(futures):
            yield futures[future], reraise(future.result())
    finally:
        client.cancel(list(futures))


def _record(point: dict[str, Any], results: Any) -> dict[str, Any]:
    if not isinstance(results, Mapping):
        raise ConfigError(f"run_point must return a dict of results, got {shown(results)} for point {_key(point)}")
    clash = sorted(set(point) & set(results))
    if clash:
        raise ConfigError(f"run_point's results {clash} have the names of parameters; rename them (point {_key(point)})")
    return {**point, **results}


def _key(point: Mapping[str, Any]) -> str:
    """A point's parameters as canonical JSON (sorted keys): its name in the journal."""
    try:
        return json.dumps(dict(point), sort_keys=True)
    except TypeError as exc:
        raise ConfigError(f"a point's parameters must be JSON data (numbers, strings, lists), got {shown(point)}") from exc


def _read_journal(journal: Path | None) -> dict[str, dict[str, Any]]:
    """The finished points of a journal (point key -> record); a last line cut short by an
    interruption is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if journal is None or not journal.exists():
        return done
    for line in journal.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[_key(entry["point"])] = entry["record"]
    return done
