"""Scale-out on Dask (the ``dask`` extra: ``pip install 'pysnn-minibatch[dask]'``).

- ``cluster(workers, scheduler)``: a Client of a LocalCluster on this machine or of a scheduler.
- ``run_sharded(network, inputs, steps, batch_size=, client=)``: a run over many samples split
  into batches run as tasks, gathered bit-identical to one process (learning off).
- ``map_batches``: the same for any per-batch function (e.g. the conversion's readout).
- ``sweep(points, run_point, client, out=)``: parameter sets as tasks, the results a table,
  resumable.
"""

from pysnn.distributed.cluster import cluster, require_dask
from pysnn.distributed.sharded import map_batches, run_records, run_sharded
from pysnn.distributed.sweep import grid_points, sweep, write_table
from pysnn.distributed.tasks import Model

__all__ = [
    "Model", "cluster", "grid_points", "map_batches", "require_dask", "run_records", "run_sharded", "sweep", "write_table",
]
