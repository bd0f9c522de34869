"""The layers of a run's configuration: defaults < config < environment < command line.

:func:`resolve_config` applies them in that order (later wins, key by key) and returns a
:class:`RunConfig`: the job, the ``[trainer]`` settings and a :class:`PluginPlan` (the plugins
to enable, in order, and the ones to block). See :mod:`hookwise.config` for the rules.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hookwise import environment
from hookwise.config import toml
from hookwise.config.checks import JOB_SECTIONS, check_config, check_trainer, plugins_files
from hookwise.config.overrides import (
    apply_job_overrides,
    parse_override,
    plugin_override,
    trainer_override,
)
from hookwise.config.references import has_references, resolve_references
from hookwise.config.specs import (
    PluginBlock,
    PluginOption,
    PluginSpec,
    parse_plugin_options,
    plugin_key,
    plugin_options_from_config,
    plugin_specs_from_env,
)
from hookwise.discovery import normalize_name
from hookwise.errors import ConfigError
from hookwise.plugins.files import rebase


@dataclass
class PluginPlan:
    """The plugins a run enables, in order, and the ones it blocks.

    :param specs: the plugins to enable, in enable order.
    :param blocked: the blocks, by normalized name.
    :param defaults: the normalized names of the default plugins.
    """

    specs: list[PluginSpec]
    blocked: dict[str, PluginBlock] = field(default_factory=dict)
    defaults: frozenset[str] = frozenset()

    def is_default(self, spec: PluginSpec) -> bool:
        """Whether ``spec`` is one of the default plugins (possibly with changed params)."""
        return spec.key in self.defaults


def resolve_plugins(
    defaults: Sequence[PluginSpec], layers: Sequence[Sequence[PluginOption]]
) -> PluginPlan:
    """Apply the layers to the defaults (later wins); named plugins first, defaults last."""
    default_keys = [spec.key for spec in defaults]
    entries: dict[str, PluginSpec] = {}
    blocked: dict[str, PluginBlock] = {}
    for option in [*defaults, *(o for layer in layers for o in layer)]:
        if isinstance(option, PluginBlock):
            for key in [k for k, s in entries.items() if _blocks(option, s)]:
                del entries[key]
            blocked[option.base_key] = option
            continue
        blocked.pop(option.base_key, None)
        previous = entries.get(option.key)
        if previous is None:
            entries[option.key] = PluginSpec(option.name, dict(option.params), option.source)
        else:
            merged = {**previous.params, **option.params}
            source = previous.source if not option.params else option.source
            entries[option.key] = PluginSpec(previous.name, merged, source)
    named = [spec for key, spec in entries.items() if key not in default_keys]
    kept_defaults = [entries[key] for key in default_keys if key in entries]
    return PluginPlan(named + kept_defaults, blocked, frozenset(default_keys))


def _blocks(block: PluginBlock, spec: PluginSpec) -> bool:
    """Whether ``block`` removes ``spec``: the same name, or (for a file) the same file."""
    from hookwise.plugins.files import covers, is_file_spec

    if is_file_spec(block.name):
        return covers(block.name.partition("@")[0], spec.name.partition("@")[0])
    return spec.base_key == block.base_key


def _rebased(options: list[PluginOption], folder: str | None) -> list[PluginOption]:
    """A config's file plugins, relative to the current folder rather than the config's."""
    from hookwise.plugins.files import rebase

    if folder is None:
        return options
    out: list[PluginOption] = []
    for option in options:
        name = rebase(option.name, folder)
        if isinstance(option, PluginBlock):
            out.append(PluginBlock(name, option.source))
        else:
            out.append(PluginSpec(name, option.params, option.source))
    return out


def combine_allowed(*lists: Sequence[str] | None) -> list[str] | None:
    """The names every given allow-list allows (``None`` lists allow everything)."""
    given = [list(names) for names in lists if names is not None]
    if not given:
        return None
    result = given[0]
    for other in given[1:]:
        keys = {plugin_key(n) for n in other}
        result = [n for n in result if plugin_key(n) in keys]
    return result


@dataclass
class RunConfig:
    """A resolved config: the job, the trainer settings and the plugin plan.

    :param job: the ``model``, ``data``, ``optimizer``, ``scheduler`` and ``loss`` tables.
    :param trainer: the ``[trainer]`` settings.
    :param plugins: the plugins to enable and to block.
    :param allowed_plugins: the allow-list (``None``: any plugin may load).
    :param source: the config file read, or the embedded default.
    :param default_names: the names of every default plugin, loaded or not.
    """

    job: dict[str, Any]
    trainer: dict[str, Any]
    plugins: PluginPlan
    allowed_plugins: list[str] | None = None
    source: str = "<default>"
    default_names: tuple[str, ...] = ()
    #: The job as written, ``"${trainer.epochs}"`` references kept (what ``config.toml``
    #: records); ``None``: the same as :attr:`job`.
    job_written: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The config as a TOML-ready mapping that reproduces this run when read back.

        Plugins the run blocks, and default plugins it did not load (autoload off, not in
        the allow-list), are written as ``NAME = false``. File plugins are written with
        absolute paths, so the config reads back the same from any folder.
        """
        from hookwise.plugins.files import absolute

        out: dict[str, Any] = {}
        if self.allowed_plugins is not None:
            out["allowed_plugins"] = [absolute(a) for a in self.allowed_plugins]
        job = self.job if self.job_written is None else self.job_written
        out.update({k: v for k, v in job.items() if v is not None})
        out["trainer"] = dict(self.trainer)
        plugins: dict[str, Any] = {
            absolute(spec.name): dict(spec.params) for spec in self.plugins.specs
        }
        for block in self.plugins.blocked.values():
            plugins[absolute(block.name)] = False
        enabled = {spec.base_key for spec in self.plugins.specs}
        for name in self.default_names:
            if plugin_key(name) not in enabled and plugin_key(name) not in self.plugins.blocked:
                plugins[name] = False  # a default this run did not load
        out["plugins"] = plugins
        return out

    def to_toml(self) -> str:
        """The config as TOML text (:meth:`to_dict`, written by
        :func:`~hookwise.config.dump_config`)."""
        return toml.dump_config(self.to_dict())


def _job(given: Mapping[str, Any], base: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The job tables: the config's own when it has ``[model]``, else the defaults' changed
    section by section."""
    if "model" not in given:
        return {s: given.get(s, base.get(s)) for s in JOB_SECTIONS}
    missing = [s for s in ("data", "optimizer", "loss") if s not in given]
    if missing:
        raise ConfigError(
            f"{source}: a config with [model] defines the whole job, and has no "
            f"{', '.join(f'[{m}]' for m in missing)}. Add "
            f"{'it' if len(missing) == 1 else 'them'} (see `hookwise fit --dry-run` for "
            f"the default config)"
        )
    return {s: given.get(s) for s in JOB_SECTIONS}


def _plan(
    given: Mapping[str, Any],
    all_defaults: list[PluginSpec],
    env: Mapping[str, str],
    source: str,
    plugin_args: Sequence[str],
    plugin_overrides: Sequence[PluginOption] = (),
) -> tuple[PluginPlan, list[str] | None]:
    """The plugin plan and the allow-list; a default outside the allow-list is left out (not
    an error: the error is for a plugin the user named)."""
    default_plugins = [] if environment.autoload_disabled(env) else all_defaults
    folder = os.path.dirname(os.path.abspath(source)) if os.path.isfile(source) else None
    local: list[PluginOption] = [
        PluginSpec(path, {}, f"{source} plugins_file") for path in plugins_files(given, source)
    ]
    layers = [
        _rebased([*local, *plugin_options_from_config(given.get("plugins", {}), source)], folder),
        plugin_specs_from_env(env),
        [*parse_plugin_options(plugin_args, source="-p"), *plugin_overrides],
    ]
    plan = resolve_plugins(default_plugins, layers)
    config_allowed = given.get("allowed_plugins")
    if config_allowed is not None and folder is not None:
        config_allowed = [rebase(a, folder) for a in config_allowed]
    allowed = combine_allowed(config_allowed, environment.allowed_plugins(env))
    if allowed is not None:
        keys = {normalize_name(a.partition("@")[0]) for a in allowed}
        plan.specs = [
            s
            for s in plan.specs
            if not (plan.is_default(s) and normalize_name(s.name.partition("@")[0]) not in keys)
        ]
    return plan, allowed


def resolve_config(
    config: Mapping[str, Any] | None = None,
    *,
    source: str = "<default>",
    plugin_args: Sequence[str] = (),
    trainer_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    use_environment: bool = False,
    defaults: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> RunConfig:
    """Resolve defaults, a config, the environment and command-line options (in that order).

    :param config: a parsed config (``None``: the defaults alone).
    :param source: where ``config`` came from, for error messages.
    :param plugin_args: ``-p`` values, in order.
    :param trainer_overrides: ``[trainer]`` keys set on the command line (``epochs`` ...).
    :param environ: the environment to read (default ``os.environ``), when
        ``use_environment``.
    :param use_environment: read ``HOOKWISE_PLUGINS``, ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD`` and
        ``HOOKWISE_ALLOWED_PLUGINS`` (the command line does; the Python API only when asked).
    :param defaults: the defaults layer (default: :func:`~hookwise.config.default_config`).
    :param overrides: ``KEY=VALUE`` texts (``optimizer.lr=0.01``), applied last (see
        :mod:`hookwise.config.overrides`).
    :raises ConfigError: naming the file, table and key that is wrong.
    """
    base = dict(toml.default_config() if defaults is None else defaults)
    check_config(base, "<defaults>")
    given = dict(config or {})
    check_config(given, source)
    env: Mapping[str, str] = {}
    if use_environment:
        env = os.environ if environ is None else environ
    job = _job(given, base, source)
    trainer = {**base.get("trainer", {}), **given.get("trainer", {})}
    flags = {k: v for k, v in (trainer_overrides or {}).items() if v is not None}
    if flags:
        check_trainer(flags, "command line")
    trainer.update(flags)
    job, plugin_overrides = _apply_overrides(job, trainer, overrides)
    all_defaults = [
        PluginSpec(o.name, o.params, "the default config")
        for o in plugin_options_from_config(base.get("plugins", {}), "<defaults>")
        if isinstance(o, PluginSpec)
    ]
    plan, allowed = _plan(given, all_defaults, env, source, plugin_args, plugin_overrides)
    _unranked_without_evaluator(plan, base.get("plugins", {}))
    names = tuple(spec.name for spec in all_defaults)
    if not has_references(job):
        return RunConfig(job, trainer, plan, allowed, source, names)
    resolved = resolve_references(job, trainer)
    return RunConfig(resolved, trainer, plan, allowed, source, names, job_written=job)


#: A default plugin's parameters that rank by a metric the default evaluator logs.
_RANKING = ("monitor", "mode")


def _unranked_without_evaluator(plan: PluginPlan, defaults: Mapping[str, Any]) -> None:
    """The default checkpoint ranks by the default evaluator's accuracy (DESIGN decision 28):
    when no evaluator runs (``-p no:evaluator``), that ranking, left as the defaults set it, is
    dropped, so the run keeps its last checkpoints instead of failing at the first validation
    for a metric nothing logs."""
    if any(spec.base_key == "evaluator" for spec in plan.specs):
        return
    for index, spec in enumerate(plan.specs):
        own = defaults.get(spec.name)
        if not plan.is_default(spec) or not isinstance(own, Mapping) or "monitor" not in own:
            continue
        if spec.params.get("monitor") != own["monitor"]:
            continue  # a monitor the user chose stays, and is checked
        params = {k: v for k, v in spec.params.items() if not (k in _RANKING and v == own.get(k))}
        plan.specs[index] = PluginSpec(spec.name, params, spec.source)


def _apply_overrides(
    job: dict[str, Any], trainer: dict[str, Any], texts: Sequence[str]
) -> tuple[dict[str, Any], list[PluginOption]]:
    """Apply ``KEY=VALUE`` overrides: ``trainer`` is changed in place; return the job with
    its overrides set and the plugin options they mean."""
    job_overrides: list[tuple[list[str], Any, str]] = []
    plugin_options: list[PluginOption] = []
    for text in texts:
        parts, value = parse_override(text)
        if parts[0] == "trainer":
            key, checked = trainer_override(parts, value, text)
            trainer[key] = checked
        elif parts[0] == "plugins":
            plugin_options.append(plugin_override(parts, value, text))
        else:
            job_overrides.append((parts, value, text))
    if job_overrides:
        job = apply_job_overrides(job, job_overrides)
    return job, plugin_options


__all__ = ["PluginPlan", "RunConfig", "combine_allowed", "resolve_config", "resolve_plugins"]
