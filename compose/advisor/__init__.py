"""The schema advisor: from a flat tag column to proposed groups."""
