"""The paper's experiments, as library code the CLI and the benchmarks share."""
