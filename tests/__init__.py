"""PCache test suite."""
