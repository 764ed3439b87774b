"""Annotation quality: an audit of given labels and a queue of rows to label next."""
