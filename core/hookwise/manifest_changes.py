"""What changed between two run manifests (:mod:`hookwise.manifest`): one line per change.

Resuming compares the checkpoint's manifest with the new run's and warns once, naming every
change (:class:`~hookwise.errors.ManifestChangedWarning`); a change is an error only where
the saved state cannot be loaded (DESIGN decision 27), and then the error lists the changes.

Compared: the versions (hookwise, hooks, trainer API, torch, Python), the plugins (added,
removed, another distribution or version, another target, each parameter), the relative call
order of the plugins both runs have, per hook, and the config (``hookwise fit``) or the
trainer settings (the Python API), key by key. Not compared, because a resume is expected to
change them or they do not change what is computed: the plugin table of the config (the
plugins are compared instead) and the settings in :data:`NOT_COMPARED` (the run's length, its
start, signals, profiling, timeouts, threads, the sanity pass that a resume skips), unless
another config value refers to one (``T_max = "${trainer.epochs}"``). A seed is compared only
when both runs set one; a resumed run keeps the checkpoint's seed. A change of an optimizer's
or a scheduler's parameter is marked as not used: a resume restores their saved state.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hookwise.errors import ManifestChangedWarning

logger = logging.getLogger("hookwise")

#: Settings (by name) that a resume may change without a report.
NOT_COMPARED = frozenset(
    {
        "num_epochs",
        "num_steps",
        "epoch",
        "global_step",
        "num_sanity_val_steps",
        "profile_hooks",
        "handle_signals",
        "dist_timeout",
        "dist_stall_timeout",
        "dist_stop_check_interval",
        "overwrite",
        "resume_on_restart",
        "num_threads",
        "checkpoint_format",  # a resume reads either format
    }
)

_VERSION_LABELS = {
    "hookwise": "hookwise",
    "hooks": "the hook specifications' version",
    "trainer_api": "the trainer API's version",
    "torch": "torch",
    "python": "Python",
}


def show(value: Any) -> str:
    """``value`` as the config writes it (a TOML literal), ``None`` as ``none``."""
    from hookwise.config import format_value
    from hookwise.errors import ConfigError

    if value is None:
        return "none"
    try:
        return format_value(value)
    except ConfigError:
        return repr(value)


def _not_compared_config_keys() -> set[str]:
    from hookwise import settings

    keys = set()
    for setting in settings.all_settings():
        if setting.name in NOT_COMPARED and setting.config_key is not None:
            keys.add(f"trainer.{setting.config_key}")
    return keys


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted.key, value)`` for every leaf of nested mappings."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _key_changes(label: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``label key: a -> b`` for every key whose value differs (added and removed too)."""
    before, after = dict(flatten(old)), dict(flatten(new))
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        if key not in after:
            changes.append(f"{label} {key} removed (was {show(before[key])})")
        elif key not in before:
            changes.append(f"{label} {key} added: {show(after[key])}")
        elif before[key] != after[key]:
            changes.append(f"{label} {key}: {show(before[key])} -> {show(after[key])}")
    return changes


def _version_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes = []
    for key, label in _VERSION_LABELS.items():
        if key in old and key in new and old[key] != new[key]:
            changes.append(f"{label} {old[key]} -> {new[key]}")
    return changes


def _released(entry: Mapping[str, Any]) -> str:
    if entry.get("distribution") is None:
        return str(entry.get("target"))
    return f"{entry['distribution']} {entry.get('version') or '(version unknown)'}"


def _origin(entry: Mapping[str, Any]) -> str:
    if entry.get("distribution") is None:
        return str(entry.get("target"))
    return f"{_released(entry)} ({entry.get('target')})"


def _plugin_changes(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    where = f"plugin {name!r}"
    changes = []
    if old.get("distribution") != new.get("distribution") or old.get("target") != new.get("target"):
        changes.append(f"{where} is now {_origin(new)}, was {_origin(old)}")
    elif old.get("version") != new.get("version"):
        changes.append(
            f"{where}: {new.get('distribution')} {old.get('version')} -> {new.get('version')}"
        )
    before, after = old.get("params") or {}, new.get("params") or {}
    for key in [*before, *(k for k in after if k not in before)]:
        if key not in after:
            changes.append(f"{where}: parameter {key} no longer set (was {show(before[key])})")
        elif key not in before:
            changes.append(f"{where}: parameter {key} set to {show(after[key])} (was unset)")
        elif before[key] != after[key]:
            changes.append(f"{where}: parameter {key} {show(before[key])} -> {show(after[key])}")
    return changes


def _plugins_changes(old: list[Mapping[str, Any]], new: list[Mapping[str, Any]]) -> list[str]:
    before = {entry["name"]: entry for entry in old}
    after = {entry["name"]: entry for entry in new}
    changes = []
    for name, entry in before.items():
        if name not in after:
            lost = "; its saved state is not loaded" if entry.get("state") else ""
            changes.append(f"plugin {name!r} removed ({_released(entry)}{lost})")
    for name, entry in after.items():
        if name not in before:
            fresh = "; it has no saved state and starts fresh" if entry.get("state") else ""
            changes.append(f"plugin {name!r} added ({_released(entry)}{fresh})")
        else:
            changes += _plugin_changes(name, before[name], entry)
    return changes


def _order_changes(old: Mapping[str, list[str]], new: Mapping[str, list[str]]) -> list[str]:
    changes = []
    for hook in [*old, *(h for h in new if h not in old)]:
        was, now = list(old.get(hook, [])), list(new.get(hook, []))
        both = set(was) & set(now)
        was_common = [n for n in was if n in both]
        now_common = [n for n in now if n in both]
        if was_common != now_common:
            changes.append(
                f"hook {hook} calls {', '.join(now_common)} in this order, was "
                f"{', '.join(was_common)}"
            )
    return changes


def _without(mapping: Mapping[str, Any], keys: set[str]) -> dict[str, Any]:
    return {k: v for k, v in flatten(mapping) if k not in keys and k.split(".")[0] != "plugins"}


def _setup_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The config's (or, without configs, the settings') changes."""
    old_config, new_config = old.get("config"), new.get("config")
    if old_config is not None and new_config is not None:
        return _config_changes(old_config, new_config)
    old_settings, new_settings = old.get("settings"), new.get("settings")
    if old_settings is not None and new_settings is not None:
        skip = set(NOT_COMPARED)
        if new_settings.get("seed") is None or old_settings.get("seed") is None:
            skip.add("seed")
        before = {k: v for k, v in old_settings.items() if k not in skip}
        after = {k: v for k, v in new_settings.items() if k not in skip}
        changes = _key_changes("setting", before, after)
        return [_seed_note(c) if c.startswith("setting seed") else c for c in changes]
    return []  # one run recorded a config, the other its settings: nothing to compare


def _followers(key: str, flat: Mapping[str, Any]) -> list[str]:
    """The config keys whose value refers to ``key`` (``T_max = "${trainer.epochs}"``)."""
    return [k for k, v in flat.items() if isinstance(v, str) and "${" + key + "}" in v]


def _config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    flat = dict(flatten(new))
    # A length setting is compared when the job refers to it: the value that follows it
    # (a schedule's horizon) changes, but the resumed scheduler keeps its saved one.
    skip = {key for key in _not_compared_config_keys() if not _followers(key, flat)}
    seeds = [config.get("trainer", {}).get("seed") for config in (old, new)]
    if any(seed is None or seed is False for seed in seeds):  # drawn: nothing to compare
        skip.add("trainer.seed")
    changes = _key_changes("config", _without(old, skip), _without(new, skip))
    return [_config_note(change, flat) for change in changes]


def _config_note(change: str, flat: Mapping[str, Any]) -> str:
    """``change`` with what it means for the resumed run, where that is not obvious."""
    key = change.split(" ")[1].rstrip(":")
    if key == "trainer.seed":
        return _seed_note(change)
    section, _, name = key.partition(".")
    if section in ("optimizer", "scheduler") and name != "target":
        return (
            f"{change} (not used: the resumed run restores the checkpoint's {section} state, "
            f"its hyperparameters included)"
        )
    followers = _followers(key, flat)
    if followers:
        return (
            f"{change} ({', '.join(followers)} follows it, but the resumed run restores the "
            f"checkpoint's scheduler state)"
        )
    return change


def _seed_note(change: str) -> str:
    return f"{change} (a resumed run keeps the checkpoint's seed and RNG state)"


def manifest_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One human-readable line per difference between manifest ``old`` (the checkpoint's) and
    ``new`` (this run's); empty when nothing compared differs."""
    return [
        *_version_changes(old.get("versions") or {}, new.get("versions") or {}),
        *_plugins_changes(list(old.get("plugins") or []), list(new.get("plugins") or [])),
        *_order_changes(old.get("hook_order") or {}, new.get("hook_order") or {}),
        *_setup_changes(old, new),
    ]


def manifest_changes_of(data: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str] | None:
    """What changed since the checkpoint ``data`` was written (``None``: it has no manifest)."""
    saved = data.get("manifest")
    return None if saved is None else manifest_changes(saved, manifest)


def changes_text(file: Path, changes: list[str], *, error: bool = False) -> str:
    """The changes since ``file`` was written, one a line."""
    count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
    lead = (
        f"the run differs from the one that wrote {str(file)!r} ({count})"
        if error
        else f"resuming from {str(file)!r}, a run that differs from this one ({count}); "
        f"it continues, and its results may differ from those of a run never stopped"
    )
    return lead + ":\n" + "\n".join(f"  - {change}" for change in changes)


def report_changes(file: Path, changes: list[str] | None) -> None:
    """One :class:`~hookwise.ManifestChangedWarning` naming every change; a line saying the
    checkpoint has no manifest (written by an older hookwise) when it has none."""
    if changes is None:
        logger.info(
            "checkpoint %s has no run manifest (an older hookwise wrote it): what "
            "changed since cannot be checked",
            file,
        )
    elif changes:
        warnings.warn(changes_text(file, changes), ManifestChangedWarning, stacklevel=6)


__all__ = [
    "NOT_COMPARED",
    "changes_text",
    "flatten",
    "manifest_changes",
    "manifest_changes_of",
    "report_changes",
    "show",
]
