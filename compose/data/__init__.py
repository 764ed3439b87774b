"""Data: reading files, the cell grammar, typed inputs and targets, flat tag columns."""
