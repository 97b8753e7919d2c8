"""Data sets as NumPy arrays, ready for the encoders: MNIST (``load_mnist``).

Files live under ``data_root()``: the ``root`` argument, else ``$PYSNN_DATA``, else
``~/.cache/pysnn/data``. ``fetch_mnist`` downloads what is missing (``pysnn data fetch``),
``verify_mnist`` checks checksums (``pysnn data verify``).
"""

from pysnn.datasets.idx import read_idx
from pysnn.datasets.mnist import MIRRORS, fetch_mnist, load_mnist, mnist_dir, verify_mnist
from pysnn.datasets.paths import DATA_ENV, data_root

__all__ = ["DATA_ENV", "MIRRORS", "data_root", "fetch_mnist", "load_mnist", "mnist_dir", "read_idx", "verify_mnist"]
