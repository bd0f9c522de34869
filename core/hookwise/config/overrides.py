"""Any setting from the command line: ``KEY=VALUE`` overrides of the resolved config.

``hookwise fit run.toml optimizer.lr=0.01 trainer.epochs=3`` (or ``--set optimizer.lr=0.01``)
sets one key of the config by its dotted path, after every other layer:

- ``trainer.KEY``: a ``[trainer]`` setting, by its config key (``epochs``) or its ``Trainer``
  name (``num_epochs``), checked by its definition in :mod:`hookwise.settings`;
- ``model.KEY``, ``data.KEY``, ``optimizer.KEY``, ``scheduler.KEY``, ``loss.KEY``: a key of a
  job table, inline tables and lists included (``data.train.batch_size``, ``loss.0.weight``
  for ``[[loss]]``); a key of a ``target`` table must be a parameter its callable accepts, and
  the value must fit the parameter's annotation (or the type of the value it replaces);
- ``plugins.NAME.KEY``: a plugin parameter, as ``-p NAME:KEY=VALUE``; ``plugins.NAME=false``
  blocks the plugin, as ``-p no:NAME``.

Values are read as in ``-p``: TOML literals when they parse as one (``3``, ``0.5``, ``true``,
``"text"``, ``[1, 2]``), else strings. The resolved ``config.toml`` of the run holds the
result, so a resume or ``hookwise fit --dry-run`` shows what was set.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from hookwise import settings
from hookwise.config.checks import JOB_SECTIONS, check_config, check_trainer, closest_hint
from hookwise.config.specs import PluginBlock, PluginOption, PluginSpec, parse_value
from hookwise.errors import ConfigError

_KEY = re.compile(r"[A-Za-z_][\w.@:-]*\Z")
SECTIONS: tuple[str, ...] = ("trainer", *JOB_SECTIONS, "plugins")
#: ``[data]`` keys that only reach loaders built from a Dataset.
_DATASET_KEYS = ("batch_size", "num_workers")
#: ``[loss]`` keys that hookwise reads itself (the term's connector, weight and name).
_LOSS_KEYS = ("connector", "weight", "name")


def is_override(text: str) -> bool:
    """Whether ``text`` reads as ``KEY=VALUE`` with a (dotted) name as KEY, not a path or a
    flag; :func:`parse_override` then says whether the KEY is one."""
    key, sep, _ = text.partition("=")
    return bool(sep) and bool(_KEY.match(key))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"optimizer.lr=0.01"`` -> ``(["optimizer", "lr"], 0.01)``.

    :raises ConfigError: naming the text and the form it should have.
    """
    key, sep, raw = text.partition("=")
    parts = key.strip().split(".")
    if not sep or len(parts) < 2 or not all(parts) or parts[0] not in SECTIONS:
        raise ConfigError(
            f"override {text!r} must be KEY=VALUE with a dotted KEY that starts with one of "
            f"{', '.join(SECTIONS)} (e.g. optimizer.lr=0.01, trainer.epochs=3, "
            f"plugins.checkpoint.keep_last=2)"
        )
    return parts, parse_value(raw)


def trainer_override(parts: list[str], value: Any, text: str) -> tuple[str, Any]:
    """The ``[trainer]`` key and value that ``trainer.KEY=VALUE`` sets, checked."""
    name = parts[1]
    setting = settings.by_config_key(name)
    if setting is None:
        known = settings.get(name) if name in {s.name for s in settings.all_settings()} else None
        setting = known if known is not None and known.config_key else None
    if len(parts) != 2 or setting is None or setting.config_key is None:
        keys = settings.config_keys()
        raise ConfigError(
            f"override {text!r}: [trainer] has no key {'.'.join(parts[1:])!r}."
            f"{closest_hint(name, keys)} It has: {', '.join(keys)}"
        )
    check_trainer({setting.config_key: value}, f"override {text!r}")
    return setting.config_key, value


def plugin_override(parts: list[str], value: Any, text: str) -> PluginOption:
    """The ``-p`` option that ``plugins.NAME.KEY=VALUE`` (or ``plugins.NAME=false``) means.

    NAME may hold dots (``plugins.mypkg.hooks:Obj.every=2``): the parameter is the last part
    (block a dotted name with ``-p no:NAME``).
    """
    if len(parts) == 2:
        name = parts[1]
        if value is False:
            return PluginBlock(name, "command line")
        raise ConfigError(
            f"override {text!r}: give a parameter (plugins.{name}.KEY=VALUE) or false to "
            f"block the plugin (plugins.{name}=false)"
        )
    name, key = ".".join(parts[1:-1]), parts[-1]
    return PluginSpec(name, {key: value}, "command line")


def _describe(parts: Sequence[str]) -> str:
    return ".".join(parts)


def _step(container: Any, part: str, path: list[str], text: str) -> Any:
    if isinstance(container, list):
        if not part.isdigit() or int(part) >= len(container):
            raise ConfigError(
                f"override {text!r}: {_describe(path)} is a list of {len(container)}; give an "
                f"index from 0 to {len(container) - 1}"
            )
        return container[int(part)]
    if not isinstance(container, dict):
        raise ConfigError(f"override {text!r}: {_describe(path)} is {container!r}, not a table")
    if part not in container:
        keys = list(container)
        raise ConfigError(
            f"override {text!r}: {_describe(path)} has no key {part!r}."
            f"{closest_hint(part, keys)} It has: {', '.join(map(str, keys)) or 'nothing'}"
        )
    return container[part]


def _check_parameter(table: Mapping[str, Any], key: str, value: Any, text: str) -> None:
    """A key of a ``target`` table must be a parameter of its callable; its value must fit."""
    from hookwise.paramcheck import annotations_of, matches
    from hookwise.plugins import accepted_params
    from hookwise.targets import resolve

    target = resolve(table["target"], where=f"override {text!r}")
    names, any_keyword = accepted_params(target)
    if key not in names and not any_keyword and key != "target":
        raise ConfigError(
            f"override {text!r}: {table['target']!r} takes no parameter {key!r}."
            f"{closest_hint(key, names)} It takes: {', '.join(names) or 'no parameters'}"
        )
    annotation = annotations_of(target).get(key)
    if annotation is not None and matches(value, annotation[0]) is False:
        raise ConfigError(
            f"override {text!r}: {key} must be {annotation[1]}, got {value!r} "
            f"({type(value).__name__})"
        )


def _check_like(old: Any, value: Any, text: str) -> Any:
    """``value`` where it can replace ``old`` (an int for a float becomes a float)."""
    if isinstance(old, bool) or isinstance(value, bool):
        same = isinstance(old, bool) and isinstance(value, bool)
    elif isinstance(old, float) and isinstance(value, int):
        return float(value)
    else:
        numbers = (int, float)
        same = type(old) is type(value) or (isinstance(old, numbers) and isinstance(value, numbers))
    if not same:
        raise ConfigError(
            f"override {text!r}: the value there is {type(old).__name__} ({old!r} in the "
            f"config), got {value!r} ({type(value).__name__})"
        )
    return value


def _check_dataset_key(data: Mapping[str, Any], key: str, text: str) -> None:
    """``data.batch_size`` reaches only loaders built from a Dataset: refuse it where a loader
    factory takes the key itself (it would change nothing), naming the keys that would."""
    from hookwise.plugins import accepted_params
    from hookwise.targets import resolve

    own: list[str] = []
    for split in ("train", "val", "test"):
        entries = data.get(split)
        for index, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("target"), str):
                continue
            where = split if not isinstance(entries, list) else f"{split}.{index}"
            if key in entry or key in accepted_params(resolve(entry["target"]))[0]:
                own.append(f"data.{where}.{key}")
    if own:
        raise ConfigError(
            f"override {text!r}: [data] {key} applies only to loaders built from a Dataset, "
            f"and these loader factories take their own {key}: set "
            f"{', '.join(o + '=...' for o in own)}"
        )


def set_job_key(job: dict[str, Any], parts: list[str], value: Any, text: str) -> None:
    """Set ``parts`` (``["optimizer", "lr"]``) in ``job`` (changed in place), checked."""
    section = parts[0]
    if job.get(section) is None:
        if parts[1:] != ["target"]:
            raise ConfigError(
                f"override {text!r}: the config has no [{section}]; name its callable first "
                f"({section}.target=package.module:callable)"
            )
        job[section] = {}
    if section == "data" and len(parts) == 2 and parts[1] in _DATASET_KEYS:
        _check_dataset_key(job[section], parts[1], text)
    container: Any = job
    for index, part in enumerate(parts[:-1]):
        container = _step(container, part, parts[:index] or ["the config"], text)
    key = parts[-1]
    if isinstance(container, list):
        _step(container, key, parts[:-1], text)
        container[int(key)] = value
        return
    if not isinstance(container, dict):
        raise ConfigError(f"override {text!r}: {_describe(parts[:-1])} is not a table")
    loss_key = section == "loss" and key in _LOSS_KEYS  # LossModule's, not the loss's
    if isinstance(container.get("target"), str) and section != "data" and not loss_key:
        _check_parameter(container, key, value, text)
    old = container.get(key)
    if old is not None and key != "target" and not (isinstance(old, str) and "${" in old):
        value = _check_like(old, value, text)
    container[key] = value


def apply_job_overrides(
    job: Mapping[str, Any], overrides: Sequence[tuple[list[str], Any, str]]
) -> dict[str, Any]:
    """A copy of ``job`` with the job overrides set, checked like a config file."""
    result = copy.deepcopy(dict(job))
    for parts, value, text in overrides:
        set_job_key(result, parts, value, text)
    check_config({k: v for k, v in result.items() if v is not None}, "command-line overrides")
    return result


__all__ = [
    "SECTIONS",
    "apply_job_overrides",
    "is_override",
    "parse_override",
    "plugin_override",
    "set_job_key",
    "trainer_override",
]
