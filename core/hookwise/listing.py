"""What ``hookwise plugins`` shows: installed plugins from metadata, and optionally their hooks.

Listing reads entry-point metadata only (:func:`hookwise.discovery.installed_plugins`): it
imports no plugin and not torch, so a broken or slow plugin costs nothing here. Inspecting
(``--inspect``) imports each plugin that is not blocked and reports the hooks it implements;
one that fails to import, or declares an implementation of a hook that does not exist, is shown
as broken with its error, and the others still list.
"""

from __future__ import annotations

import textwrap
import types
import typing
from typing import TYPE_CHECKING, Any

from hookwise import bundled, environment
from hookwise.bundled import install_command
from hookwise.environment import ALLOWED_ENV, DISABLE_AUTOLOAD_ENV, PLUGINS_ENV
from hookwise.plugins.discovery import installed_plugins, normalize_name

if TYPE_CHECKING:
    from hookwise.config import RunConfig


class PluginRow:
    """One line of the listing.

    A plain class, not a dataclass: listing must not import ``dataclasses`` (which imports
    ``inspect``), so that ``hookwise plugins`` costs little more than the metadata scan.
    """

    def __init__(
        self,
        name: str,
        distribution: str | None,
        version: str | None,
        target: str | None,
        *,
        default: bool = False,
        enabled_by_env: bool = False,
        blocked: str | None = None,
        installed: bool = True,
        entry_point: Any = None,
    ) -> None:
        self.name, self.distribution, self.version, self.target = (
            name,
            distribution,
            version,
            target,
        )
        self.default = default
        self.enabled_by_env = enabled_by_env
        self.blocked = blocked
        self.installed = installed
        self.entry_point = entry_point
        self.hooks: list[str] | None = None  # filled in by --inspect
        self.error: str | None = None
        self.notes: list[str] = []
        self.path: str | None = None  # a local plugin file's
        self.source: str | None = None  # where the local plugin file was named

    def __repr__(self) -> str:
        return f"PluginRow({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"

    @property
    def status(self) -> str:
        """A short status: default, enabled by the environment, blocked, not installed."""
        parts = []
        if not self.installed:
            return f"default, NOT INSTALLED ({install_command(self.name)})"
        if self.path is not None:
            parts.append("local file" if self.blocked else f"local file, enabled by {self.source}")
        if self.default:
            off = environment.autoload_disabled()
            parts.append(f"default (off: {DISABLE_AUTOLOAD_ENV})" if off else "default")
        if self.enabled_by_env:
            parts.append(f"enabled by {PLUGINS_ENV}")
        if self.blocked:
            parts.append(f"blocked ({self.blocked})")
        if self.error:
            parts.append("BROKEN")
        return ", ".join(parts) or "-"

    def as_dict(self, inspected: bool) -> dict[str, Any]:
        """The row as JSON-ready data."""
        data: dict[str, Any] = {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "target": self.target,
            "installed": self.installed,
            "default": self.default,
            "enabled_by_env": self.enabled_by_env,
            "blocked": self.blocked is not None,
            "blocked_reason": self.blocked,
            "path": self.path,
        }
        if inspected:
            data["hooks"] = self.hooks
            data["broken"] = self.error is not None
            data["error"] = self.error
            data["notes"] = list(self.notes)
        return data


def _environment_keys() -> tuple[set[str], set[str]]:
    """The normalized names ``HOOKWISE_PLUGINS`` blocks and enables (parsed only when set,
    so that a plain listing never imports the config machinery)."""
    if environment.plugins_text() is None:
        return set(), set()
    from hookwise.config.specs import PluginBlock, plugin_specs_from_env

    options = plugin_specs_from_env()
    blocks = {o.base_key for o in options if isinstance(o, PluginBlock)}
    return blocks, {o.base_key for o in options if not isinstance(o, PluginBlock)}


def list_rows() -> list[PluginRow]:
    """Every installed plugin, with its status from the environment, then the default plugins
    that are not installed; imports nothing.

    A plugin is blocked by ``no:NAME`` in ``HOOKWISE_PLUGINS`` or by being outside
    ``HOOKWISE_ALLOWED_PLUGINS``.
    """
    defaults = {normalize_name(n): n for n in bundled.DEFAULT_PLUGINS}
    env_blocks, env_enabled = _environment_keys()
    allowed = environment.allowed_plugins()
    allowed_keys = None if allowed is None else {normalize_name(a) for a in allowed}
    rows: list[PluginRow] = []
    for plugin in installed_plugins():
        key = plugin.key
        blocked = None
        if key in env_blocks:
            blocked = f"no:{plugin.name} in {PLUGINS_ENV}"
        elif allowed_keys is not None and key not in allowed_keys:
            blocked = f"not in {ALLOWED_ENV}"
        row = PluginRow(
            plugin.name,
            plugin.distribution,
            plugin.version,
            plugin.target,
            default=key in defaults,
            enabled_by_env=key in env_enabled and blocked is None,
            blocked=blocked,
            entry_point=plugin.entry_point,
        )
        rows.append(row)
    present = {normalize_name(r.name) for r in rows}
    for key, name in defaults.items():
        if key not in present:
            rows.append(PluginRow(name, None, None, None, default=True, installed=False))
    return rows


def local_rows(config: RunConfig) -> list[PluginRow]:
    """A row per file plugin a resolved config names (enabled or blocked), with its path;
    imports nothing (:func:`inspect_rows` imports them)."""
    from hookwise.plugins.files import absolute, canonical, split_file_spec

    named: list[tuple[str, str, str | None]] = [
        (s.name, s.source, None) for s in config.plugins.specs
    ]
    for block in config.plugins.blocked.values():
        named.append((block.name, block.source, f"no:{block.name} in {block.source}"))
    rows: list[PluginRow] = []
    for name, source, blocked in named:
        found = split_file_spec(name)
        if found is not None:
            path = absolute(found[0])
            row = PluginRow(canonical(name), None, None, absolute(name), blocked=blocked)
            row.path, row.source = path, source
            rows.append(row)
    return rows


def visible(rows: list[PluginRow], show_all: bool) -> list[PluginRow]:
    """The rows a listing shows: without ``show_all``, installed plugins that are not blocked."""
    return [r for r in rows if show_all or (r.installed and r.blocked is None)]


def implemented_hooks(target: Any) -> tuple[list[str] | None, list[str], list[str]]:
    """``(hooks, errors, notes)`` for an entry point's target, without building it.

    ``hooks`` is ``None`` when it cannot be known before the plugin is built (a factory).
    ``errors`` name hook implementations of hooks that do not exist.
    """
    import inspect

    from hookwise import hookspecs
    from hookwise.callback import Callback

    marker = f"{hookspecs.PROJECT_NAME}_impl"
    names = set(hookspecs.HOOK_NAMES)
    hooks: list[str] = []
    errors: list[str] = []
    notes: list[str] = []
    if inspect.isfunction(target):
        returned = _return_class(target)
        if returned is None:
            notes.append("a factory: its hooks are known once it is built")
            return None, errors, notes
        target = returned
    cls = target if inspect.isclass(target) else type(target)
    is_callback = isinstance(cls, type) and issubclass(cls, Callback)
    scope = target if isinstance(target, types.ModuleType) else cls
    for attr in sorted(dir(scope)):
        if attr.startswith("__"):
            continue
        value = getattr(target if isinstance(target, types.ModuleType) else cls, attr, None)
        options = getattr(value, marker, None)
        if isinstance(options, dict):
            hook = options.get("specname") or attr
            if hook in names:
                hooks.append(hook)
            else:
                errors.append(f"@hookimpl {attr!r}: there is no hook named {hook!r}")
        elif is_callback and attr in names:
            if getattr(cls, attr) is not getattr(Callback, attr):
                hooks.append(attr)
        elif is_callback and attr.startswith("on_") and callable(value):
            notes.append(f"method {attr!r} is not a hook and is never called")
    order = {h: i for i, h in enumerate(hookspecs.HOOK_NAMES)}
    return sorted(set(hooks), key=order.__getitem__), errors, notes


def _return_class(function: Any) -> type | None:
    import inspect

    try:
        returned = typing.get_type_hints(function).get("return")
    except Exception:
        return None
    return returned if inspect.isclass(returned) else None


def inspect_rows(rows: list[PluginRow]) -> int:
    """Import every installed, unblocked plugin and fill in its hooks; return how many broke."""
    broken = 0
    for row in rows:
        if not row.installed or (row.entry_point is None and row.path is None):
            continue
        if row.blocked:
            row.notes.append("blocked: not imported")
            continue
        try:
            target = _load_local(row) if row.path is not None else row.entry_point.load()
        except BaseException as exc:  # a plugin's import may raise anything, even SystemExit
            if isinstance(exc, KeyboardInterrupt):
                raise
            row.error = f"import failed: {type(exc).__name__}: {exc}"
            broken += 1
            continue
        hooks, errors, notes = implemented_hooks(target)
        row.hooks, row.notes = hooks, row.notes + notes
        if errors:
            row.error = "; ".join(errors)
            broken += 1
    return broken


def _load_local(row: PluginRow) -> Any:
    """What a local row names: the file's object, or for a project plugins file its module,
    with a note per plugin the file would enable and its hooks."""
    from hookwise import hookspecs
    from hookwise.plugins import files

    found = files.split_file_spec(row.name)
    assert found is not None
    module = files.load_module(found[0])
    if found[1] is not None:
        return files.load_object(module, found[0], found[1])
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    for name, plugin in files.project_plugins(module, row.name, marker):
        hooks, _, _ = implemented_hooks(plugin)
        row.notes.append(f"plugin {name}: {', '.join(hooks or []) or '(no hook)'}")
    return module


def render_table(rows: list[PluginRow], *, inspect: bool, hidden: int = 0) -> str:
    """The listing as a text table (with hooks and errors under each row when inspected).

    :param hidden: how many rows were left out (said in a last line).
    """
    if not rows:
        lines = ["No hookwise plugins to show."]
    else:
        header = ("NAME", "DISTRIBUTION", "VERSION", "TARGET", "STATUS")
        table = [
            (r.name, r.distribution or "-", r.version or "-", r.target or "-", r.status)
            for r in rows
        ]
        widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(4)]
        lines = []
        for index, cells in enumerate([header, *table]):
            text = "  ".join(f"{cells[i]:<{widths[i]}}" for i in range(4)) + "  " + cells[4]
            lines.append(text.rstrip())
            if inspect and index > 0:
                row = rows[index - 1]
                if row.error:
                    lines.append(f"    broken: {row.error}")
                elif row.hooks is not None:
                    hooks = ", ".join(row.hooks) or "(none)"
                    lines += textwrap.wrap(
                        hooks, 96, initial_indent="    hooks: ", subsequent_indent=" " * 11
                    )
                lines += [f"    note: {note}" for note in row.notes]
    if hidden:
        lines.append(
            f"({hidden} more: blocked plugins or default plugins that are not installed; "
            f"--all shows them)"
        )
    if not inspect and rows:
        lines.append("(`hookwise plugins --inspect` imports them and shows their hooks)")
    env_plugins = environment.plugins_text()
    if env_plugins is not None:
        lines.append(f"{PLUGINS_ENV}={env_plugins}")
    return "\n".join(lines)


__all__ = [
    "PluginRow",
    "implemented_hooks",
    "inspect_rows",
    "list_rows",
    "local_rows",
    "render_table",
    "visible",
]
