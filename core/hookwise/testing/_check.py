"""``assert_plugin_valid``: check an installed plugin as hookwise loads it."""

from __future__ import annotations

import inspect
import os
import re
import tempfile
import textwrap
import traceback
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hookwise.callback import Callback
from hookwise.discovery import InstalledPlugin, normalize_name
from hookwise.errors import HookwiseError
from hookwise.plugins import CALLBACK_PARAMS, accepted_params, split_instance
from hookwise.testing._fit import _add_plugins, run_fit
from hookwise.testing._manager import IsolatedPluginManager
from hookwise.testing._state_checks import first_difference, weights_only_problem


class PluginCheckFailed(AssertionError):
    """:func:`assert_plugin_valid` found problems; the message lists each with its fix."""

    def __init__(self, name: str, problems: Sequence[str]) -> None:
        listing = "\n".join(
            f"  {i}. {textwrap.indent(p, '     ').lstrip()}" for i, p in enumerate(problems, 1)
        )
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"assert_plugin_valid({name!r}) found {count}:\n{listing}")
        self.name = name
        self.problems = list(problems)


@dataclass
class PluginReport:
    """What :func:`assert_plugin_valid` checked, for further assertions or printing.

    :param name: the plugin's name.
    :param target: what it points at (``package.module:Object``).
    :param distribution: the installed distribution declaring it (``None`` for an import path).
    :param version: that distribution's version.
    :param registered: the names its objects were registered under.
    :param hooks: the hooks each registered object implements.
    :param params: the parameters it accepts (``**kwargs`` not included).
    :param state: each registered object's ``state_dict()`` after a one-epoch fit.
    """

    name: str
    target: str
    distribution: str | None
    version: str | None
    registered: list[str] = field(default_factory=list)
    hooks: dict[str, list[str]] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


_PARAM_PATTERNS = (
    r":param(?:\s+[^:\n]+?)?\s+{name}\s*:",  # reST / Sphinx: ":param name:", ":param int name:"
    r"^\s*\*{{0,2}}{name}\*{{0,2}}\s*(?:\([^)\n]*\))?\s*:",  # Google "name (int): ..." / "name:"
    r"^\s*{name}\s*:\s*\S",  # numpy "name : int"
    r"^\s*\|\s*`{{0,2}}{name}`{{0,2}}\s*\|",  # Markdown table row "| `name` | ..."
    r"^\s*[-*]\s+`{{1,2}}{name}`{{1,2}}",  # bullet "- ``name``: ..."
)


def _documented(name: str, doc: str) -> bool:
    escaped = re.escape(name)
    return any(
        re.search(pattern.format(name=escaped), doc, flags=re.MULTILINE)
        for pattern in _PARAM_PATTERNS
    )


def _target_docs(target: Any) -> tuple[str, str]:
    """The docstring a user reads for ``target`` and a description of where it comes from."""
    if inspect.isclass(target):
        parts = [target.__dict__.get("__doc__") or ""]
        init = target.__dict__.get("__init__")
        if init is not None and getattr(init, "__doc__", None):
            parts.append(inspect.cleandoc(init.__doc__))
        return "\n".join(p for p in parts if p), f"class {target.__qualname__}"
    if isinstance(target, types.ModuleType):
        return target.__doc__ or "", f"module {target.__name__}"
    if inspect.isfunction(target) or inspect.ismethod(target):
        return inspect.cleandoc(target.__doc__ or ""), f"factory {target.__qualname__}"
    return type(target).__doc__ or "", f"object of class {type(target).__qualname__}"


def _format_exception(exc: BaseException) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    notes = getattr(exc, "__notes__", None) or []
    text = "".join(lines).strip()
    extra = [str(n) for n in notes if str(n) not in text]
    return "\n".join([text, *extra])


def assert_plugin_valid(
    name: str,
    /,
    *,
    with_plugins: Iterable[Any] = (),
    tmp_path: str | os.PathLike[str] | None = None,
    **params: Any,
) -> PluginReport:
    """Check an installed plugin by name, as a user's ``hookwise`` would load it.

    ::

        def test_plugin_is_valid(assert_plugin_valid):
            report = assert_plugin_valid("early_stopping", monitor="val/loss", patience=2)
            assert "on_validation_end" in report.hooks["early_stopping"]

    Checks, in order, and reports every problem found with its fix:

    1. the name is a ``hookwise.plugins`` entry point of exactly one installed distribution, and
       the entry point imports (an import path ``package.module:Object`` skips this step);
    2. the plugin has a docstring, and every parameter it accepts is documented there (the
       class docstring or ``__init__``'s, a factory's docstring), as ``:param name:``, a Google
       or numpy ``name:`` line, or a Markdown table row; a ``:param`` for a parameter it does
       not accept is reported too. The ``Callback`` parameters (``epoch_based``,
       ``train_connector``, ``test_connector``) are documented by the base class;
    3. it is enabled with ``params`` exactly as the trainer enables it: every hook
       implementation matches a hook specification (no misspelled hook or argument, no method
       named like a hook that is not one), and it implements at least one hook;
    4. its ``state_dict()`` after a one-epoch :func:`run_fit` (with ``with_plugins`` enabled
       first, e.g. the evaluator whose metric it monitors) holds only what
       ``torch.load(weights_only=True)`` accepts, is stored in the trainer's checkpoint, and
       comes back unchanged through ``load_state_dict`` into a freshly built instance; and a
       fit resumed from that checkpoint runs to its end.

    :param name: the plugin's name (``"early_stopping"``; ``"evaluator@coco"`` checks a second
        instance) or an import path.
    :param with_plugins: plugins to enable before it, as in :func:`run_fit`.
    :param tmp_path: where the fits write (default: a temporary folder, removed afterwards).
    :param params: the plugin's parameters.
    :returns: a :class:`PluginReport`.
    :raises PluginCheckFailed: (an ``AssertionError``) listing every problem.
    """
    if tmp_path is not None:
        return _check_plugin(name, list(with_plugins), Path(tmp_path), params)
    with tempfile.TemporaryDirectory(prefix="hookwise-plugin-check-") as folder:
        return _check_plugin(name, list(with_plugins), Path(folder), params)


def _check_plugin(
    name: str, with_plugins: list[Any], folder: Path, params: dict[str, Any]
) -> PluginReport:
    base, _ = split_instance(name)
    pm = IsolatedPluginManager(entry_points=True)
    problems: list[str] = []
    report, target = _check_entry_point(name, base, pm, problems)
    _check_docs(target, report, problems)
    registered = _check_hooks(name, params, pm, report, problems)
    if problems:
        raise PluginCheckFailed(name, problems)
    _check_state(name, params, with_plugins, folder / "plugin-check", registered, report, problems)
    return report


def _check_entry_point(
    name: str, base: str, pm: IsolatedPluginManager, problems: list[str]
) -> tuple[PluginReport, Any]:
    """1. The entry point: found and loaded; return the report begun and the loaded target."""
    info: InstalledPlugin | None = None
    if ":" in base:
        target_text = base
    else:
        try:
            info = pm.find(base)
        except HookwiseError as exc:
            problems.append(str(exc))
            raise PluginCheckFailed(name, problems) from None
        target_text = info.target
        if normalize_name(info.name) != normalize_name(base):  # pragma: no cover - find() folds
            problems.append(f"entry point {info.name!r} does not match {base!r}")
    report = PluginReport(
        name, target_text, info.distribution if info else None, info.version if info else None
    )
    try:
        target, _, _ = pm.load_target(base)
    except HookwiseError as exc:
        cause = exc.__cause__
        trace = (
            "\n" + "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
            if cause is not None
            else ""
        )
        problems.append(f"{exc}{trace}")
        raise PluginCheckFailed(name, problems) from None
    return report, target


def _check_docs(target: Any, report: PluginReport, problems: list[str]) -> None:
    """2. Documentation: a docstring that documents every parameter, and no other."""
    target_text = report.target
    doc, where = _target_docs(target)
    accepted: list[str] = []
    if inspect.isclass(target) or inspect.isfunction(target) or inspect.ismethod(target):
        accepted, _ = accepted_params(target)
        accepted = [p for p in accepted if p not in CALLBACK_PARAMS]
    report.params = accepted
    if not doc.strip():
        problems.append(
            f"{where} ({target_text}) has no docstring. Say what the plugin does, and document "
            f"each parameter (':param name: ...'): it is the plugin's reference."
        )
        return
    undocumented = [p for p in accepted if not _documented(p, doc)]
    if undocumented:
        example = undocumented[0]
        problems.append(
            f"{where} ({target_text}) accepts parameter(s) {undocumented} that its docstring "
            f"does not document. Add a line for each, e.g. ':param {example}: what it does "
            f"and its default.'"
        )
    if inspect.isclass(target) or inspect.isfunction(target):
        stale = [
            p
            for p in re.findall(r":param(?:\s+[^:\n]+?)?\s+(\w+)\s*:", doc)
            if p not in accepted and p not in CALLBACK_PARAMS
        ]
        if stale and not accepted_params(target)[1]:
            problems.append(
                f"{where} ({target_text}) documents parameter(s) {stale} that it does not "
                f"accept; remove or rename them in the docstring."
            )


def _check_hooks(
    name: str,
    params: dict[str, Any],
    pm: IsolatedPluginManager,
    report: PluginReport,
    problems: list[str],
) -> list[str]:
    """3. Hooks: enabled without a misspelled hook, each object implementing one; return the
    registered names."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            registered = pm.enable(name, **params)
        except HookwiseError as exc:
            problems.append(_format_exception(exc))
            raise PluginCheckFailed(name, problems) from None
    for warning in caught:
        text = str(warning.message)
        if "is not a hookwise hook" in text:
            problems.append(f"{text}. Rename the method or make it private (_name).")
    try:
        pm.check_pending()
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    report.registered = registered
    for plugin_name in registered:
        plugin = pm.get_plugin(plugin_name)
        hooks = sorted(c.name for c in pm.get_hookcallers(plugin) or [])
        report.hooks[plugin_name] = hooks
        if not hooks:
            problems.append(
                f"plugin {plugin_name!r} ({report.target}) implements no hook, so the trainer "
                f"never calls it. Override a Callback method (on_train_batch_end, ...) or mark "
                f"functions with @hookimpl; `hookwise hooks` lists them."
            )
    return registered


def _check_state(
    name: str,
    params: dict[str, Any],
    with_plugins: list[Any],
    run_dir: Path,
    registered: list[str],
    report: PluginReport,
    problems: list[str],
) -> None:
    """4. State: weights_only, stored in the checkpoint, restored, resumable."""
    entry = (name, params)
    try:
        first = run_fit([*with_plugins, entry], epochs=1, test=False, tmp_path=run_dir)
    except Exception as exc:
        problems.append(
            f"plugin {name!r} failed in a one-epoch run_fit (enabled with {params!r}"
            f"{f', after {with_plugins!r}' if with_plugins else ''}):\n"
            f"{_format_exception(exc)}\nIf it needs another plugin (an evaluator's metric, "
            f"...), pass it as with_plugins=[...]."
        )
        raise PluginCheckFailed(name, problems) from None
    states = _plugin_states(first.pm, registered, problems)
    report.state = states
    if problems:
        raise PluginCheckFailed(name, problems)
    if not states:
        return
    checkpoint = run_dir / "plugin-check.ckpt"
    _check_round_trip(name, params, with_plugins, first, checkpoint, states, problems)
    try:
        run_fit(
            [*with_plugins, entry], epochs=2, test=False, tmp_path=run_dir, resume_from=checkpoint
        )
    except Exception as exc:
        problems.append(
            f"plugin {name!r}: a fit resumed from a checkpoint holding its state failed:\n"
            f"{_format_exception(exc)}"
        )
        raise PluginCheckFailed(name, problems) from None


def _plugin_states(pm: Any, registered: list[str], problems: list[str]) -> dict[str, Any]:
    """The states of the registered plugins that have one, checked as a checkpoint holds them."""
    states: dict[str, Any] = {}
    for plugin_name in registered:
        plugin = pm.get_plugin(plugin_name)
        if plugin is None or not callable(getattr(plugin, "state_dict", None)):
            continue
        if isinstance(plugin, types.ModuleType):
            continue
        state = plugin.state_dict()
        if not isinstance(state, Mapping):
            problems.append(
                f"plugin {plugin_name!r}: state_dict() returned {type(state).__name__}; it must "
                f"return a dict of tensors and plain values"
            )
            continue
        states[plugin_name] = state
        problem = weights_only_problem(state, plugin_name)
        if problem:
            problems.append(problem)
        inherits_load = isinstance(plugin, Callback) and (
            type(plugin).load_state_dict is Callback.load_state_dict
            and type(plugin).state_dict is not Callback.state_dict
        )
        if inherits_load or not callable(getattr(plugin, "load_state_dict", None)):
            problems.append(
                f"plugin {plugin_name!r} has state_dict() but no load_state_dict(state) of its "
                f"own; add one that restores what state_dict() returns, so that resuming "
                f"restores its state"
            )
    return states


def _check_round_trip(
    name: str,
    params: dict[str, Any],
    with_plugins: list[Any],
    first: Any,
    checkpoint: Path,
    states: dict[str, Any],
    problems: list[str],
) -> None:
    """The states saved in a checkpoint and loaded by fresh instances come back unchanged."""
    from hookwise.checkpointing import load_checkpoint

    try:
        first.trainer.save_checkpoint(checkpoint)
        data = load_checkpoint(checkpoint)
        saved = data["plugins"]
    except Exception as exc:
        problems.append(f"the checkpoint with the plugin's state failed: {_format_exception(exc)}")
        raise PluginCheckFailed(name, problems) from None
    fresh = IsolatedPluginManager(entry_points=True)
    try:
        _add_plugins(fresh, with_plugins)
        fresh.enable(name, **params)
        fresh.load_state_dict(saved, data.get("plugin_state_versions"))
    except Exception as exc:
        problems.append(
            f"plugin {name!r}: a fresh instance could not load the saved state: "
            f"{_format_exception(exc)}"
        )
        raise PluginCheckFailed(name, problems) from None
    for plugin_name, state in states.items():
        if plugin_name not in saved:
            problems.append(
                f"plugin {plugin_name!r}: its state is missing from the trainer's checkpoint"
            )
            continue
        plugin = fresh.get_plugin(plugin_name)
        restored = plugin.state_dict() if plugin is not None else None
        difference = first_difference(state, restored)
        if difference:
            problems.append(
                f"plugin {plugin_name!r}: after a checkpoint round trip, load_state_dict() "
                f"followed by state_dict() differs from what was saved: {difference}. "
                f"load_state_dict must restore everything state_dict returns."
            )
    if problems:
        raise PluginCheckFailed(name, problems)
