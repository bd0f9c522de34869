"""The text ``hookwise show`` prints of a run or a checkpoint (:mod:`hookwise.cli.show`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookwise.manifest_changes import show as literal

_VERSION_LABELS = (
    ("hookwise", "hookwise"),
    ("python", "Python"),
    ("torch", "torch"),
    ("hooks", "hooks"),
    ("trainer_api", "trainer API"),
)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    try:
        return f"{float(text):.4f}"
    except ValueError:
        return text


def _rows(values: Mapping[str, Any], *, indent: str = "  ") -> list[str]:
    if not values:
        return [f"{indent}(none)"]
    width = max(len(str(key)) for key in values)
    return [f"{indent}{key:<{width}}  {_number(values[key])}" for key in sorted(values)]


def versions_line(versions: Mapping[str, Any]) -> str:
    """``hookwise 0.1.0, Python 3.11.9, torch 2.5.1, hooks 1, trainer API 1``."""
    parts = [f"{label} {versions[key]}" for key, label in _VERSION_LABELS if key in versions]
    return ", ".join(parts) or "(not recorded)"


def plugin_lines(plugins: list[Mapping[str, Any]]) -> list[str]:
    """One line per plugin, in enabled order: name, where it comes from, its parameters."""
    if not plugins:
        return ["  (none)"]
    width = max(len(str(p["name"])) for p in plugins)
    sources = [_source(plugin) for plugin in plugins]
    source_width = max(len(source) for source in sources)
    lines = []
    for index, (plugin, source) in enumerate(zip(plugins, sources, strict=True), 1):
        params = plugin.get("params") or {}
        given = ", ".join(f"{key}={literal(value)}" for key, value in params.items())
        line = f"  {index}. {plugin['name']:<{width}}  {source:<{source_width}}  {given}"
        lines.append(line.rstrip())
    return lines


def _source(plugin: Mapping[str, Any]) -> str:
    if plugin.get("distribution"):
        return f"{plugin['distribution']} {plugin.get('version') or '?'}"
    return str(plugin.get("target"))


def _table(title: str, values: Mapping[str, Any] | None) -> list[str]:
    """A config or the settings, one ``dotted.key = value`` line each (the override syntax:
    ``hookwise fit CONFIG optimizer.lr=0.01``)."""
    from hookwise.manifest_changes import flatten

    if values is None:
        return []
    lines = [f"  {key} = {literal(value)}" for key, value in flatten(values)]
    return [title, *(lines or ["  (none)"])]


def manifest_lines(manifest: Mapping[str, Any] | None, versions: Any = None) -> list[str]:
    """The manifest's lines (versions, seed, plugins, order per hook, config or settings)."""
    if manifest is None:
        lines = ["Manifest: none (written by a hookwise release that recorded no run manifest)"]
        if isinstance(versions, Mapping):
            lines.append(f"Versions: {versions_line(versions)}")
        return lines
    lines = [
        f"Versions: {versions_line(manifest.get('versions') or {})}",
        f"Seed: {manifest.get('seed')}",
        "Plugins, in enabled order:",
        *plugin_lines(list(manifest.get("plugins") or [])),
        "Call order per hook:",
    ]
    order = manifest.get("hook_order") or {}
    lines += [f"  {hook}: {', '.join(names)}" for hook, names in order.items()] or ["  (none)"]
    config = manifest.get("config")
    if isinstance(config, Mapping):  # its plugins are listed above
        config = {key: value for key, value in config.items() if key != "plugins"}
    lines += _table("Config (the plugins' table left out):", config)
    lines += _table("Settings:", manifest.get("settings"))
    return lines


def _csv_lines(summary: Mapping[str, Any] | None) -> list[str]:
    if summary is None:
        return []
    last = summary.get("last") or {}
    lines = [f"{summary['file']} ({summary['rows']} rows), the last value of each column:"]
    if not last:
        return [*lines, "  (none)"]
    width = max(len(key) for key in last)
    for key, entry in last.items():
        lines.append(
            f"  {key:<{width}}  {_cell(entry['value'])}  (epoch {entry['epoch']}, step "
            f"{entry['step']})"
        )
    return lines


def render(found: Mapping[str, Any]) -> str:
    """The text of a :func:`hookwise.cli.show.report`."""
    if found["kind"] == "run":
        head = [
            f"Run folder {found['path']}: hookwise {found.get('command')}, {found.get('status')}"
        ]
        if found.get("updated"):
            head[0] += f" (updated {found['updated']})"
        if found.get("resumed_from"):
            head.append(f"Resumed from: {found['resumed_from']}")
        tail = ["Final metrics (run.json):", *_rows(found.get("metrics") or {})]
        tail += _csv_lines(found.get("metrics_csv"))
        if found.get("checkpoints"):
            tail.append(f"Checkpoints: {', '.join(found['checkpoints'])}")
        return "\n".join([*head, *manifest_lines(found.get("manifest")), *tail])
    done = " (epoch complete)" if found.get("epoch_complete") else ""
    head = [
        f"Checkpoint {found['path']}: epoch {found['epoch']}, step {found['global_step']}{done}"
    ]
    if found.get("run_folder"):
        head.append(f"Run folder: {found['run_folder']}")
    body = manifest_lines(found.get("manifest"), found.get("versions"))
    if found.get("manifest") is None:
        body.append(f"Seed: {found.get('seed')}")
    tail = ["Metrics at the checkpoint:", *_rows(found.get("metrics") or {})]
    return "\n".join([*head, *body, *tail])


__all__ = ["manifest_lines", "plugin_lines", "render", "versions_line"]
