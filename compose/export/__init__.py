"""Exports of a release: ONNX graphs and a runner that gives the same merged results."""
