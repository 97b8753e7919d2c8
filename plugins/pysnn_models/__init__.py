"""pysnn's standard model library: neuron and synapse models, encoders and reductions.

Each class is registered in pysnn's ``pyproject.toml`` under a ``pysnn.*`` entry-point group,
exactly as a third-party package registers its own.
"""
