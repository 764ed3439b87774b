"""Evaluation: metrics over labelled rows, calibration, the monolithic baseline, the HTML report."""
