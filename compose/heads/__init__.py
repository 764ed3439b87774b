"""Heads: estimators, fitted heads, fused linear heads and decisions."""
