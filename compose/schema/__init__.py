"""The schema: pydantic models of the YAML, its checks and line-aware loading."""
