"""Scale-out on Dask (the ``dask`` extra: ``pip install 'pysnn-minibatch[dask]'``).

- ``cluster(workers, scheduler)``: a Client of a LocalCluster on this machine or of a scheduler.
- ``run_sharded(network, inputs, steps, batch_size=, client=)``: a run over many samples split
  into batches run as tasks, gathered bit-identical to one process (learning off).
- ``map_batches``: the same for any per-batch function (e.g. the conversion's readout).
- ``ShardedLearning(client, model, parts=)``: a deferred learning run whose batch is split over
  the workers; its terms combined on the client give one process's records and shared state.
- ``sweep(points, run_point, client, out=)``: parameter sets as tasks, the results a table,
  resumable.
"""

from pysnn.distributed.cluster import cluster, require_dask
from pysnn.distributed.data_parallel import ShardedLearning
from pysnn.distributed.sharded import map_batches, run_records, run_sharded
from pysnn.distributed.sweep import grid_points, sweep, write_table
from pysnn.distributed.tasks import Model

__all__ = [
    "Model", "ShardedLearning", "cluster", "grid_points", "map_batches", "require_dask", "run_records", "run_sharded",
    "sweep", "write_table",
]
