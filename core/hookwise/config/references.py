"""References between config values: ``T_max = "${trainer.epochs}"``.

A job value that is exactly ``"${KEY}"`` takes the resolved value of ``KEY``, a dotted path:
``trainer.epochs`` (a ``[trainer]`` setting, its default when no layer sets it) or a key of
the job (``data.train.batch_size``). References are replaced after every layer, command-line
overrides included, so ``hookwise fit --epochs 3`` also shortens a cosine schedule whose
``T_max`` is ``"${trainer.epochs}"``. The run's ``config.toml`` keeps the reference, so a
resumed run follows its own settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hookwise import settings
from hookwise.errors import ConfigError

_REFERENCE = re.compile(r"\$\{([A-Za-z_][\w.-]*)\}\Z")


def _trainer_value(key: str, trainer: Mapping[str, Any], where: str) -> Any:
    if key in trainer:
        return trainer[key]
    setting = settings.by_config_key(key)
    if setting is None:
        raise ConfigError(
            f"{where}: [trainer] has no key {key!r}; it has: {', '.join(settings.config_keys())}"
        )
    return setting.default


def _lookup(path: str, job: Mapping[str, Any], trainer: Mapping[str, Any], where: str) -> Any:
    parts = path.split(".")
    if parts[0] == "trainer" and len(parts) == 2:
        return _trainer_value(parts[1], trainer, where)
    value: Any = job
    for part in parts:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            raise ConfigError(
                f"{where}: ${{{path}}} names nothing in the config (a [trainer] key such as "
                f"${{trainer.epochs}}, or a job key such as ${{data.train.batch_size}})"
            )
    if isinstance(value, str) and _REFERENCE.match(value):
        raise ConfigError(f"{where}: ${{{path}}} is itself a reference; name the value")
    return value


def resolve_references(job: Mapping[str, Any], trainer: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``job`` with every ``"${KEY}"`` value replaced by the value it names.

    :raises ConfigError: naming the key holding a reference to nothing.
    """

    def visit(value: Any, where: str) -> Any:
        if isinstance(value, str):
            match = _REFERENCE.match(value)
            return _lookup(match.group(1), job, trainer, where) if match else value
        if isinstance(value, Mapping):
            return {k: visit(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [visit(v, f"{where}.{i}") for i, v in enumerate(value)]
        return value

    return {key: visit(value, key) for key, value in job.items()}


def has_references(job: Mapping[str, Any]) -> bool:
    """Whether any value of ``job`` is a ``"${KEY}"`` reference."""

    def visit(value: Any) -> bool:
        if isinstance(value, str):
            return bool(_REFERENCE.match(value))
        if isinstance(value, Mapping):
            return any(visit(v) for v in value.values())
        if isinstance(value, list):
            return any(visit(v) for v in value)
        return False

    return visit(job)


__all__ = ["has_references", "resolve_references"]
