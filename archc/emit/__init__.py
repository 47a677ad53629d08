"""Emitters: one module per target, each a table keyed by op (see docs/architecture.md)."""
