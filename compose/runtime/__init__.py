"""The runtime: a loaded release executed on a batch or a row, and merged results."""
