"""The small commands (schema, new, stats)."""
