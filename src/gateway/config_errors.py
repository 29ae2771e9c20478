"""The config error every loader raises: it names the key at fault and what was wrong.

Its own module so the config loaders split across modules (`config`, `config_pbuckets`) share it
without importing each other in a circle.
"""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"config error at {key}: {problem}")
        self.key = key
        self.problem = problem
