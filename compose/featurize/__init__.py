"""Featurizers: batch transforms and their row paths."""
