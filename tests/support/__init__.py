"""Helpers shared by the repository's tests (importable as ``support`` from any test)."""
