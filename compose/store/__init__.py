"""The model store: versions, releases, lifecycle and verification."""
