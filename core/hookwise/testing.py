"""The plugin-author toolkit: a pytest plugin that makes testing a hookwise plugin a few lines.

It is registered through the ``pytest11`` entry point of the ``hookwise`` distribution, so every
pytest run in an environment with hookwise installed has these fixtures (``pytest --fixtures``
lists them with their documentation):

``hookwise_pm``
    an isolated :class:`~hookwise.PluginManager` that loads nothing from entry points or
    environment variables unless the test asks (:class:`IsolatedPluginManager`).
``hook_recorder``
    records every hook call of the test's runs, in order, with its arguments and the plugin that
    answered (:class:`HookRecorder`), with assertion helpers.
``run_fit``
    one call that runs a real fit (and test) of a tiny model on tiny dict-shaped data and returns
    a :class:`FitResult`; also a plain function, :func:`run_fit`.
``assert_plugin_valid``
    checks an installed plugin by name: its entry point loads, its hooks match the specs, its
    parameters are documented, its state survives a checkpoint (:func:`assert_plugin_valid`).

A plugin's test can be this short::

    def test_my_plugin(run_fit, assert_plugin_valid):
        assert_plugin_valid("my_plugin", threshold=0.5)
        result = run_fit([("my_plugin", {"threshold": 0.5})], epochs=2)
        result.calls.assert_called("on_validation_end", times=2, plugin="my_plugin")
        assert (result.output_dir / "my_plugin.txt").exists()

Importing this module is light (pytest loads it in every run): torch is imported only when a fit
runs or a state is checked.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import re
import sys
import tempfile
import textwrap
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import importlib_metadata
import pytest

from hookwise.callback import Callback
from hookwise.discovery import ENTRY_POINT_GROUP, InstalledPlugin, normalize_name
from hookwise.errors import HookwiseError, PluginNotFoundError
from hookwise.hookspecs import HOOK_NAMES, hookimpl
from hookwise.plugins import (
    CALLBACK_PARAMS,
    PluginManager,
    _allowed_from_env,
    _closest,
    accepted_params,
    split_instance,
)

if TYPE_CHECKING:
    from torch import nn

    from hookwise._dispatch import ImplCall
    from hookwise.trainer import StopRequest, Trainer

__all__ = [
    "FitResult",
    "HookCall",
    "HookRecorder",
    "IsolatedPluginManager",
    "PluginCheckFailed",
    "PluginReport",
    "assert_plugin_valid",
    "run_fit",
    "write_plugin_distribution",
]


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_plugin_distribution(
    root: str | Path,
    name: str,
    *,
    entry_points: Mapping[str, str],
    files: Mapping[str, str],
    version: str = "0.1.0",
    dependencies: Iterable[str] = (),
    group: str = ENTRY_POINT_GROUP,
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write a pip-installable plugin distribution (a ``pyproject.toml`` and its sources).

    Useful to test discovery, name clashes or packaging with a real ``pip install``::

        project = write_plugin_distribution(
            tmp_path / "hello",
            "hookwise-hello",
            entry_points={"hello": "hookwise_hello:Hello"},
            files={"hookwise_hello/__init__.py": '''
                from hookwise import Callback
                class Hello(Callback):
                    def on_fit_start(self, trainer_state, model):
                        print("hello")
            '''},
        )
        # then: pip install --no-deps --no-build-isolation <project>

    :param root: the project folder to create (it must not exist or be empty).
    :param name: the distribution's name.
    :param entry_points: entry-point name -> ``"package.module:Object"`` in ``group``.
    :param files: path relative to the project's ``src/`` folder -> text (dedented). Top-level
        ``*.py`` files become modules, top-level folders packages.
    :param version: the distribution's version.
    :param dependencies: its requirements (``pip install --no-deps`` ignores them).
    :param group: the entry-point group (default ``hookwise.plugins``).
    :param scripts: console scripts, name -> ``"module:function"``.
    :returns: the project folder.
    :raises ValueError: ``root`` holds files already, ``files`` is empty or a path leaves ``src/``.
    """
    project = Path(root)
    if project.exists() and any(project.iterdir()):
        raise ValueError(f"write_plugin_distribution: {project} is not empty; give a new folder")
    if not files:
        raise ValueError(
            f"write_plugin_distribution({name!r}): files is empty; give at least the module "
            f"the entry points point at"
        )
    src = project / "src"
    packages: set[str] = set()
    modules: set[str] = set()
    for relative, text in files.items():
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(
                f"write_plugin_distribution({name!r}): file {relative!r} must be a relative "
                f"path inside src/"
            )
        if len(path.parts) == 1:
            if path.suffix == ".py":
                modules.add(path.stem)
        else:
            packages.add(path.parts[0])
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    for package in packages:
        init = src / package / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    requirements = ", ".join(_toml_string(d) for d in dependencies)
    points = "\n".join(f"{_toml_string(k)} = {_toml_string(v)}" for k, v in entry_points.items())
    commands = "\n".join(
        f"{_toml_string(k)} = {_toml_string(v)}" for k, v in (scripts or {}).items()
    )
    setuptools = ['package-dir = { "" = "src" }']
    if modules:
        setuptools.append("py-modules = [" + ", ".join(map(_toml_string, sorted(modules))) + "]")
    if packages:
        setuptools.append("packages = [" + ", ".join(map(_toml_string, sorted(packages))) + "]")
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f"[project]\nname = {_toml_string(name)}\nversion = {_toml_string(version)}\n"
        f"dependencies = [{requirements}]\n\n"
        f"[project.entry-points.{_toml_string(group)}]\n{points}\n\n"
        + (f"[project.scripts]\n{commands}\n\n" if commands else "")
        + "[tool.setuptools]\n"
        + "\n".join(setuptools)
        + "\n"
    )
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return project


# ------------------------------------------------------------------------------------------------
# An isolated plugin manager
# ------------------------------------------------------------------------------------------------


class IsolatedPluginManager(PluginManager):
    """A :class:`~hookwise.PluginManager` that sees nothing of the environment unless asked.

    By default it lists no installed plugin (entry points are not read) and ignores
    ``HOOKWISE_ALLOWED_PLUGINS``, so a test's result never depends on what happens to be
    installed or set in the shell. Plugins are enabled by import path
    (``pm.enable("mypkg.plugin:MyCallback", threshold=1)``), registered as objects
    (``pm.register(MyCallback())``), or given a fake entry point with :meth:`add_entry_point`.

    :param entry_points: read the installed ``hookwise.plugins`` entry points (as a normal
        manager does); :meth:`use_installed_plugins` switches it on later.
    :param environment: honour ``HOOKWISE_ALLOWED_PLUGINS`` (:meth:`use_environment`).
    :param allowed: an explicit allow-list (``None``: everything may load).
    """

    def __init__(
        self,
        *,
        entry_points: bool = False,
        environment: bool = False,
        allowed: Iterable[str] | None = None,
        group: str = ENTRY_POINT_GROUP,
    ) -> None:
        # An empty allow-list keeps the base class from reading the environment.
        super().__init__(group, allowed=allowed if allowed is not None else ())
        if allowed is None:
            self.allowed = _allowed_from_env() if environment else None
        self.reads_entry_points = entry_points
        self._fake_entry_points: list[InstalledPlugin] = []

    def use_installed_plugins(self, enabled: bool = True) -> IsolatedPluginManager:
        """Read the installed entry points from now on (or stop reading them); returns self."""
        self.reads_entry_points = enabled
        self._installed = None
        return self

    def use_environment(self) -> IsolatedPluginManager:
        """Honour ``HOOKWISE_ALLOWED_PLUGINS`` as a normal manager does; returns self."""
        self.allowed = _allowed_from_env()
        return self

    def add_entry_point(
        self,
        name: str,
        target: str,
        *,
        distribution: str = "hookwise-test-plugins",
        version: str = "0",
    ) -> InstalledPlugin:
        """Pretend an entry point ``name = "package.module:Object"`` is installed.

        ``pm.enable(name)`` then loads ``target`` exactly as it would load an installed
        plugin's entry point, with no ``pip install``::

            hookwise_pm.add_entry_point("my_plugin", "my_package.plugin:MyCallback")
            hookwise_pm.enable("my_plugin", threshold=2)
        """
        entry_point = importlib_metadata.EntryPoint(name=name, value=target, group=self.group)
        plugin = InstalledPlugin(name, target, distribution, version, entry_point)
        self._fake_entry_points.append(plugin)
        return plugin

    def installed(self, *, refresh: bool = False) -> list[InstalledPlugin]:
        """The fake entry points, plus the installed ones when :attr:`reads_entry_points`."""
        found = super().installed(refresh=refresh) if self.reads_entry_points else []
        found = found + self._fake_entry_points
        found.sort(key=lambda plugin: (plugin.key, plugin.distribution or ""))
        return found

    def find(self, name: str) -> InstalledPlugin:
        """As :meth:`hookwise.PluginManager.find`; the error says how to see installed plugins."""
        try:
            return super().find(name)
        except PluginNotFoundError as exc:
            if self.reads_entry_points:
                raise
            raise PluginNotFoundError(
                f"{exc} (This is an isolated plugin manager, hookwise_pm: it reads no installed "
                f"entry points. Call hookwise_pm.use_installed_plugins() to see them, "
                f"hookwise_pm.add_entry_point({name!r}, 'package.module:Object') to fake one, "
                f"or enable the plugin by import path.)"
            ) from None


# ------------------------------------------------------------------------------------------------
# Recording hook calls
# ------------------------------------------------------------------------------------------------


@dataclass
class HookCall:
    """One hook call as a plugin answered it.

    :param hook: the hook's name.
    :param plugin: the name of the plugin whose implementation ran, or ``None`` when no plugin
        implements the hook (the trainer still called it; the record keeps the arguments).
    :param kwargs: every argument of the hook call, by name (not copied: ``trainer_state`` is a
        fresh dict per call, so its values are those of the call; ``model`` is the live model).
    :param result: what the implementation returned.
    :param exception: what it raised, if it raised.
    :param invocation: the number of the hook call this record belongs to; the records of the
        plugins that answered one call share it.
    """

    hook: str
    plugin: str | None
    kwargs: dict[str, Any]
    result: Any = None
    exception: BaseException | None = None
    invocation: int = 0

    def value(self, arg: str) -> Any:
        """The argument ``arg``; a dotted name reads into it: ``"trainer_state.global_step"``."""
        name, _, rest = arg.partition(".")
        if name not in self.kwargs:
            raise KeyError(
                f"hook {self.hook!r} has no argument {name!r}; its arguments are "
                f"{sorted(self.kwargs)}"
            )
        value = self.kwargs[name]
        for part in rest.split(".") if rest else []:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif hasattr(value, part):
                value = getattr(value, part)
            else:
                keys = sorted(map(str, value)) if isinstance(value, Mapping) else None
                raise KeyError(
                    f"hook {self.hook!r}: {arg!r} has no {part!r}"
                    + (f"; there are {keys}" if keys is not None else "")
                )
        return value

    def __repr__(self) -> str:
        by = f" by {self.plugin!r}" if self.plugin else " (no plugin)"
        args = ", ".join(f"{k}={_short(v)}" for k, v in self.kwargs.items() if k not in _BULKY_ARGS)
        return f"<{self.hook}{by}: {args}>"


#: Arguments left out of a record's short form (they are large and the same every call).
_BULKY_ARGS = ("trainer_state", "model", "loss_module", "outputs", "batch", "optimizer")


def _short(value: Any, limit: int = 60) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor) and value.numel() > 4:
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _same(expected: Any, actual: Any) -> bool:
    """``expected == actual`` that also works for tensors (and ``pytest.approx``)."""
    torch = sys.modules.get("torch")
    if torch is not None and (
        isinstance(expected, torch.Tensor) or isinstance(actual, torch.Tensor)
    ):
        try:
            a = torch.as_tensor(expected)
            b = torch.as_tensor(actual)
        except (TypeError, ValueError, RuntimeError):
            return False
        if a.shape != b.shape:
            return False
        return bool(torch.equal(a.to(b.dtype), b)) if a.numel() else True
    try:
        return bool(expected == actual)
    except Exception:
        return False


class _Invocation:
    __slots__ = ("answered", "hook", "kwargs", "number", "placeholder")

    def __init__(self, hook: str, kwargs: dict[str, Any], number: int, placeholder: HookCall):
        self.hook = hook
        self.kwargs = kwargs
        self.number = number
        self.placeholder = placeholder
        self.answered = False


class _RecorderSpy:
    """Registered in each recorded manager: a ``wrapper=True, tryfirst=True`` implementation of
    every hook, so that every hook call is seen with all its arguments (and the trainer calls
    hooks no plugin implements, too)."""

    def __init__(self, recorder: HookRecorder, pm: PluginManager) -> None:
        for hook in pm.hook_names:
            caller = pm.caller(hook)
            argnames = tuple(caller.spec.argnames) if caller.spec is not None else ()
            setattr(self, hook, _make_spy_impl(hook, argnames, recorder._around))

    def __repr__(self) -> str:
        return "<hookwise.testing hook recorder>"


def _make_spy_impl(
    hook: str, argnames: tuple[str, ...], around: Callable[..., Any]
) -> Callable[..., Any]:
    # pluggy reads an implementation's argument names from its code object, so the function is
    # generated with the hook's exact parameters (as dataclasses generates __init__).
    args = ", ".join(argnames)
    mapping = "{" + ", ".join(f"{name!r}: {name}" for name in argnames) + "}"
    source = f"def {hook}({args}):\n    return (yield from around({hook!r}, {mapping}))\n"
    namespace: dict[str, Any] = {"around": around}
    exec(compile(source, f"<hookwise.testing recorder: {hook}>", "exec"), namespace)
    function: Callable[..., Any] = hookimpl(wrapper=True, tryfirst=True)(namespace[hook])
    return function


class HookRecorder:
    """Records every hook call of the plugin managers it is attached to.

    Each :class:`HookCall` in :attr:`calls` is one plugin answering one hook call, with every
    argument of the call and what the plugin returned or raised; a hook call that no plugin
    implements is recorded once with ``plugin=None``. When several plugins answer one call,
    their records share :attr:`HookCall.invocation`.

    The query and assertion helpers count *hook calls* (one per invocation) unless ``plugin``
    is given, in which case they count that plugin's answers::

        result = run_fit(["my_plugin"], epochs=2, batches=3)
        calls = result.calls
        calls.assert_called("on_train_batch_end", times=6, batch_idx=[0, 1, 2, 0, 1, 2])
        calls.assert_called("on_validation_end", times=2, plugin="my_plugin")
        calls.assert_order("on_test_epoch_end", "on_validation_end")
        assert calls.values("on_train_epoch_end", "trainer_state.current_epoch") == [0, 1]

    Attach it yourself with :meth:`attach` (``HookRecorder().attach(pm)``), or use the
    ``hook_recorder`` fixture (which records every manager created during the test) or
    :attr:`FitResult.calls`. ``on_exception`` is recorded when a plugin implements it (the
    trainer calls its implementations one by one). Recording forces every hook to be called
    (the trainer skips hooks nobody implements), so recorded runs are slower; timings belong
    in unrecorded runs.
    """

    def __init__(self) -> None:
        #: Every record, in call order.
        self.calls: list[HookCall] = []
        self._stack: list[_Invocation] = []
        self._count = 0
        self._attached: list[
            tuple[PluginManager, str, Callable[[ImplCall], Callable[..., Any]]]
        ] = []

    # -- attaching --------------------------------------------------------------------------------

    def attach(self, pm: PluginManager) -> HookRecorder:
        """Start recording ``pm``'s hook calls (plugins registered later included); returns self."""
        if any(attached is pm for attached, _, _ in self._attached):
            return self
        spy = _RecorderSpy(self, pm)
        name = "hookwise.testing.recorder"
        index = 1
        while pm.get_plugin(name) is not None or pm.is_blocked(name):
            index += 1
            name = f"hookwise.testing.recorder#{index}"
        pm.register(spy, name)
        wrapper = self._impl_wrapper
        pm.add_impl_wrapper(wrapper)
        self._attached.append((pm, name, wrapper))
        return self

    def detach(self, pm: PluginManager | None = None) -> None:
        """Stop recording ``pm`` (every attached manager when ``None``); the records stay."""
        keep = []
        for attached, name, wrapper in self._attached:
            if pm is None or attached is pm:
                if attached.get_plugin(name) is not None:
                    attached.unregister(name=name)
                with contextlib.suppress(ValueError):
                    attached.remove_impl_wrapper(wrapper)
            else:
                keep.append((attached, name, wrapper))
        self._attached = keep

    @property
    def managers(self) -> list[PluginManager]:
        """The plugin managers being recorded."""
        return [pm for pm, _, _ in self._attached]

    # -- recording --------------------------------------------------------------------------------

    def _open(self, hook: str, kwargs: dict[str, Any]) -> _Invocation:
        self._count += 1
        placeholder = HookCall(hook, None, kwargs, invocation=self._count)
        self.calls.append(placeholder)
        invocation = _Invocation(hook, kwargs, self._count, placeholder)
        self._stack.append(invocation)
        return invocation

    def _close(self, invocation: _Invocation) -> None:
        if self._stack and self._stack[-1] is invocation:
            self._stack.pop()
        elif invocation in self._stack:
            self._stack.remove(invocation)

    def _around(self, hook: str, kwargs: dict[str, Any]) -> Any:
        invocation = self._open(hook, kwargs)
        try:
            result = yield
        finally:
            self._close(invocation)
        return result

    def _answer(self, hook: str, plugin: str, kwargs: dict[str, Any]) -> HookCall:
        invocation = self._stack[-1] if self._stack and self._stack[-1].hook == hook else None
        if invocation is None:
            # Called outside the manager's hook call (the trainer runs on_exception's
            # implementations one by one): the record is its own invocation.
            self._count += 1
            record = HookCall(hook, plugin, kwargs, invocation=self._count)
            self.calls.append(record)
            return record
        if not invocation.answered:
            invocation.answered = True
            invocation.placeholder.plugin = plugin
            return invocation.placeholder
        record = HookCall(hook, plugin, invocation.kwargs, invocation=invocation.number)
        self.calls.append(record)
        return record

    def _impl_wrapper(self, call: ImplCall) -> Callable[..., Any]:
        function = call.function
        hook, plugin, argnames = call.hook, call.plugin_name, call.argnames
        answer = self._answer

        def recorded(*args: Any, **kwargs: Any) -> Any:
            arguments = dict(zip(argnames, args, strict=False))
            arguments.update(kwargs)
            record = answer(hook, plugin, arguments)
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                record.exception = exc
                raise
            record.result = result
            return result

        return recorded

    # -- queries ----------------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget the records (recording goes on)."""
        self.calls.clear()

    def __len__(self) -> int:
        return len(self.calls)

    def __iter__(self) -> Iterator[HookCall]:
        return iter(self.calls)

    def _select(self, hook: str | None, plugin: str | None) -> list[HookCall]:
        if hook is not None:
            _check_hook_name(hook)
        if plugin is not None:
            return [
                c for c in self.calls if c.plugin == plugin and (hook is None or c.hook == hook)
            ]
        seen: set[int] = set()
        selected = []
        for record in self.calls:
            if record.invocation in seen:
                continue
            seen.add(record.invocation)
            if hook is None or record.hook == hook:
                selected.append(record)
        return selected

    def hooks(self, plugin: str | None = None) -> list[str]:
        """Hook names in call order, one per call (or per answer of ``plugin``)."""
        return [c.hook for c in self._select(None, plugin)]

    def of(self, hook: str, plugin: str | None = None) -> list[HookCall]:
        """The calls of ``hook``: one record per call, or ``plugin``'s answers."""
        return self._select(hook, plugin)

    def values(self, hook: str, arg: str, plugin: str | None = None) -> list[Any]:
        """The value of argument ``arg`` in each call of ``hook`` (dotted names read into it)."""
        return [record.value(arg) for record in self._select(hook, plugin)]

    def results(self, hook: str, plugin: str | None = None) -> list[Any]:
        """What the plugins returned from ``hook`` (``plugin``'s results only, if given)."""
        _check_hook_name(hook)
        return [
            c.result
            for c in self.calls
            if c.hook == hook and c.plugin is not None and (plugin is None or c.plugin == plugin)
        ]

    def plugins(self, hook: str | None = None) -> list[str]:
        """The plugins that answered ``hook`` (any hook when ``None``), in first-answer order."""
        names: list[str] = []
        for record in self.calls:
            plugin = record.plugin
            if plugin is not None and (hook is None or record.hook == hook) and plugin not in names:
                names.append(plugin)
        return names

    # -- assertions -------------------------------------------------------------------------------

    def assert_called(
        self, hook: str, times: int | None = None, *, plugin: str | None = None, **args: Any
    ) -> list[HookCall]:
        """Assert that ``hook`` was called (``times`` times) with these arguments.

        An argument given as a list is the sequence of its values, one per call
        (``batch_idx=[0, 1, 2, 0, 1, 2]``); any other value must be its value in every call
        (``dataloader_idx=0``; wrap a list value as ``[[...]] * n``). Values compare with ``==``
        (``pytest.approx`` works; tensors compare element-wise). Dotted names read into an
        argument: ``**{"trainer_state.current_epoch": [0, 1]}``.

        :param plugin: count ``plugin``'s answers instead of hook calls.
        :returns: the matching records.
        :raises AssertionError: saying what was expected, what was recorded, and the hooks that
            were called.
        """
        records = self._select(hook, plugin)
        who = f" answered by plugin {plugin!r}" if plugin else ""
        if times is None and not records:
            raise AssertionError(f"hook {hook!r} was never called{who}. {self._overview(plugin)}")
        if times is not None and len(records) != times:
            raise AssertionError(
                f"hook {hook!r} was called {len(records)} times{who}, expected {times}. "
                f"{self._overview(plugin)}"
            )
        for arg, expected in args.items():
            actual = [record.value(arg) for record in records]
            if isinstance(expected, list):
                if len(expected) != len(actual) or not all(
                    _same(e, a) for e, a in zip(expected, actual, strict=True)
                ):
                    raise AssertionError(
                        f"hook {hook!r}{who}: argument {arg!r} was "
                        f"[{', '.join(map(_short, actual))}] over {len(actual)} calls, expected "
                        f"[{', '.join(map(_short, expected))}]"
                    )
            else:
                wrong = [(i, a) for i, a in enumerate(actual) if not _same(expected, a)]
                if wrong:
                    shown = ", ".join(f"call {i}: {_short(a)}" for i, a in wrong[:5])
                    raise AssertionError(
                        f"hook {hook!r}{who}: argument {arg!r} was expected to be "
                        f"{_short(expected)} in every call; {len(wrong)} of {len(actual)} "
                        f"differ ({shown})"
                    )
        return records

    def assert_not_called(self, hook: str, *, plugin: str | None = None) -> None:
        """Assert that ``hook`` was never called (never answered by ``plugin``)."""
        records = self._select(hook, plugin)
        if records:
            who = f" answered by plugin {plugin!r}" if plugin else ""
            first = records[0]
            raise AssertionError(
                f"hook {hook!r} was called {len(records)} times{who}, expected never; "
                f"first: {first!r}"
            )

    def assert_order(self, *hooks: str, plugin: str | None = None) -> None:
        """Assert that these hooks were called in this order (other calls may come between).

        ``assert_order("on_test_epoch_end", "on_validation_end")`` passes when a call of
        ``on_validation_end`` comes after a call of ``on_test_epoch_end``. To check a whole
        sequence exactly, compare :meth:`hooks` with a list.
        """
        if len(hooks) < 2:
            raise ValueError("assert_order needs at least two hook names")
        for hook in hooks:
            _check_hook_name(hook)
        sequence = self.hooks(plugin)
        position = 0
        for index, hook in enumerate(hooks):
            try:
                position = sequence.index(hook, position) + 1
            except ValueError:
                relevant = [h for h in sequence if h in hooks]
                if hook not in sequence:
                    problem = f"{hook!r} was never called"
                else:
                    problem = f"no call of {hook!r} came after {hooks[index - 1]!r}"
                raise AssertionError(
                    f"expected the hooks in the order {list(hooks)}, but {problem}. The calls of "
                    f"these hooks, in order: {_compress(relevant)}"
                ) from None

    def _overview(self, plugin: str | None) -> str:
        sequence = self.hooks(plugin)
        if not sequence:
            if plugin:
                return f"Nothing was recorded for plugin {plugin!r}; plugins that answered: " + (
                    f"{self.plugins()}" if self.plugins() else "none"
                )
            return "Nothing was recorded; is the recorder attached to the run's plugin manager?"
        counts: dict[str, int] = {}
        for hook in sequence:
            counts[hook] = counts.get(hook, 0) + 1
        listing = ", ".join(f"{hook} x{count}" for hook, count in counts.items())
        return f"Recorded calls per hook{f' (plugin {plugin!r})' if plugin else ''}: {listing}"

    def __repr__(self) -> str:
        return f"<HookRecorder: {len(self.calls)} records: {_compress(self.hooks())}>"


def _compress(sequence: Sequence[str], limit: int = 40) -> str:
    """``["a", "b", "b", "b"]`` -> ``"a, b x3"``, shortened to ``limit`` runs."""
    runs: list[list[Any]] = []
    for name in sequence:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    parts = [f"{name} x{count}" if count > 1 else name for name, count in runs]
    if len(parts) > limit:
        parts = [*parts[:limit], f"... ({len(parts) - limit} more)"]
    return "[" + ", ".join(parts) + "]"


def _check_hook_name(hook: str) -> None:
    if hook not in HOOK_NAMES:
        close = _closest(hook, HOOK_NAMES)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"there is no hook named {hook!r}.{hint} Hooks: {list(HOOK_NAMES)}")


# ------------------------------------------------------------------------------------------------
# run_fit: a real fit of a tiny model on tiny dict-shaped data
# ------------------------------------------------------------------------------------------------

#: The name ``run_fit``'s evaluation-loss plugin is registered under.
EVAL_LOSS_PLUGIN = "run_fit.eval_loss"


@dataclass
class FitResult:
    """What :func:`run_fit` returns.

    :param metrics: ``trainer.metrics`` after the fit and the test: the latest value of every
        logged key (``train/...``, ``val/...``, ``test/...``).
    :param test_metrics: what the standalone test returned (``test/...`` keys; empty when
        ``test=False``).
    :param fit_metrics: what ``Trainer.fit`` returned (the metrics before the test).
    :param calls: the :class:`HookRecorder` of this run (it stays attached: later calls through
        :attr:`trainer` are recorded too).
    :param output_dir: the trainer's output folder (where plugins write by default).
    :param model: the trained model.
    :param trainer: the :class:`~hookwise.Trainer`.
    """

    metrics: dict[str, float]
    test_metrics: dict[str, float]
    fit_metrics: dict[str, float]
    calls: HookRecorder
    output_dir: Path
    model: nn.Module
    trainer: Trainer

    @property
    def pm(self) -> PluginManager:
        """The run's plugin manager (``trainer.pm``)."""
        return self.trainer.pm

    @property
    def stop_request(self) -> StopRequest | None:
        """Who asked the trainer to stop and why (``None``: the run ended by its limits)."""
        return self.trainer.stop_request

    @property
    def checkpoints(self) -> list[Path]:
        """The ``*.ckpt`` files under :attr:`output_dir`, sorted by path."""
        return sorted(p for p in self.output_dir.rglob("*.ckpt") if p.is_file())


def _tiny_parts(
    seed: int, batches: int, batch_size: int, val_batches: int, lr: float
) -> dict[str, Any]:
    """The data, model, loss and optimizer of a tiny run (imports torch)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset

    from hookwise.connectors import DataConnector, LossConnector, data_key, pred_key
    from hookwise.loss import LossModule

    class TinyData(Dataset[dict[str, torch.Tensor]]):
        """``n`` samples ``{"inputs": float[4], "labels": long}``; label 1 when the sum is > 0."""

        def __init__(self, n: int, seed: int) -> None:
            generator = torch.Generator().manual_seed(seed)
            self.inputs = torch.randn(n, 4, generator=generator)
            self.labels = (self.inputs.sum(dim=1) > 0).long()

        def __len__(self) -> int:
            return len(self.inputs)

        def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
            return {"inputs": self.inputs[index], "labels": self.labels[index]}

    class TinyModel(nn.Module):
        """``{"logits": Linear(4, 2)(inputs)}``."""

        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"logits": self.linear(inputs)}

    class CrossEntropy(nn.Module):
        def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            return nn.functional.cross_entropy(logits, labels)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyModel()
    loss = LossModule(
        {
            "loss": CrossEntropy(),
            "connector": LossConnector(
                {"logits": pred_key("logits"), "labels": data_key("labels")}
            ),
            "name": "cross_entropy",
        }
    )
    return {
        "train": DataLoader(TinyData(batches * batch_size, seed), batch_size, shuffle=True),
        "val": DataLoader(TinyData(val_batches * batch_size, seed + 10_000), batch_size),
        "connector": DataConnector({"inputs": "inputs"}),
        "model": model,
        "loss": loss,
        "optimizer": torch.optim.SGD(model.parameters(), lr=lr),
    }


class _EvalLoss(Callback):
    """Returns the mean cross-entropy of each evaluation pass as ``loss`` (``val/loss``,
    ``test/loss``), so that monitoring plugins have a metric to watch."""

    def __init__(self) -> None:
        super().__init__()
        self._sum: Any = 0.0
        self._count = 0

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self._sum, self._count = 0.0, 0

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        from torch.nn.functional import cross_entropy

        labels = batch["labels"]
        loss = cross_entropy(outputs["logits"], labels, reduction="sum")
        self._sum = self._sum + loss.detach()
        self._count += int(labels.shape[0])

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, Any] | None:
        if not self._count:
            return None
        return {"loss": self._sum / self._count}


def _add_plugins(pm: PluginManager, plugins: Iterable[Any]) -> None:
    """Enable names and ``(name, params)`` pairs, register plugin objects, in order."""
    if isinstance(plugins, (str, bytes)) or (
        isinstance(plugins, tuple) and len(plugins) == 2 and isinstance(plugins[1], Mapping)
    ):
        plugins = [plugins]
    for item in plugins:
        if isinstance(item, str):
            pm.enable(item)
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Mapping)
        ):
            pm.enable(item[0], **dict(item[1]))
        elif inspect.isclass(item) or inspect.isfunction(item):
            raise TypeError(
                f"run_fit plugins: {item!r} is a class or function; give an instance "
                f"(e.g. {getattr(item, '__name__', 'MyCallback')}()), or its import path "
                f"'package.module:{getattr(item, '__name__', 'Object')}' to have it built"
            )
        elif item is None or isinstance(item, (int, float, bool, bytes, Mapping, list)):
            raise TypeError(
                f"run_fit plugins: {item!r} is not a plugin; give a name ('early_stopping', "
                f"'evaluator@top1', 'package.module:Object'), a (name, params) pair or a plugin "
                f"object (a Callback instance or a module of @hookimpl functions)"
            )
        else:
            pm.register(item, _object_name(pm, item))


def _object_name(pm: PluginManager, obj: Any) -> str:
    base = obj.__name__ if isinstance(obj, types.ModuleType) else type(obj).__name__
    name, count = base, 1
    while pm.get_plugin(name) is not None:
        count += 1
        name = f"{base}#{count}"
    return name


def run_fit(
    plugins: Iterable[Any] = (),
    *,
    epochs: int = 2,
    steps: int | None = None,
    test: bool = True,
    seed: int = 0,
    tmp_path: str | os.PathLike[str] | None = None,
    batches: int = 3,
    batch_size: int = 4,
    val_batches: int = 2,
    val_check_interval: int | None = None,
    resume_from: str | os.PathLike[str] | None = None,
    pm: PluginManager | None = None,
    eval_loss: bool = True,
    lr: float = 0.1,
    scheduler: Callable[[Any], Any] | None = None,
    **trainer_kwargs: Any,
) -> FitResult:
    """Run a real fit (then a standalone test) of a tiny model with ``plugins`` enabled.

    The model is ``Linear(4, 2)`` returning ``{"logits": [B, 2]}``; each batch is
    ``{"inputs": float [B, 4], "labels": long [B]}`` (label 1 when the inputs sum to more
    than 0), the same for the same ``seed``; the loss is cross-entropy through a
    :class:`~hookwise.LossModule`; the optimizer is SGD. Validation runs after every epoch on
    ``val_batches`` batches, and the test (``test=True``) on the same loader. Unless
    ``eval_loss=False``, a small plugin (registered first, as ``"run_fit.eval_loss"``) returns
    each evaluation pass's mean cross-entropy as ``loss``, so ``val/loss`` and ``test/loss`` are
    there for plugins that monitor a metric. Every hook call is recorded in
    :attr:`FitResult.calls`.

    ::

        result = run_fit(["my_plugin", ("early_stopping", {"monitor": "val/loss"})], epochs=3)
        assert result.metrics["val/loss"] < 1.0
        result.calls.assert_called("on_train_batch_end", times=9)

        # resume: the same tmp_path means the same output folder
        first = run_fit(["checkpoint"], epochs=1, tmp_path=tmp_path)
        second = run_fit(["checkpoint"], epochs=2, tmp_path=tmp_path, resume_from="last")

    :param plugins: each item a name (``"early_stopping"``, ``"evaluator@top1"``,
        ``"package.module:Object"``), a ``(name, params)`` pair, or a plugin object (a
        ``Callback`` instance, a module or object of ``@hookimpl`` functions), enabled in order.
    :param epochs: the number of epochs (``-1``: unlimited, with ``steps``).
    :param steps: stop after this many training batches (``epochs`` still applies).
    :param test: run ``trainer.test(model)`` after the fit (``FitResult.test_metrics``).
    :param seed: seeds the data, the model's initial weights and the trainer.
    :param tmp_path: the folder to write in; the output folder is ``tmp_path / "run"`` (the
        ``run_fit`` fixture passes the test's ``tmp_path``). Default: a new temporary folder.
    :param batches: training batches per epoch.
    :param batch_size: samples per batch.
    :param val_batches: batches in the validation (and test) loader.
    :param val_check_interval: also validate every this many steps.
    :param resume_from: a checkpoint path or ``"last"`` (``Trainer.fit(resume_from=...)``).
    :param pm: the plugin manager to use (e.g. ``hookwise_pm``). Default: an
        :class:`IsolatedPluginManager` that reads the installed entry points but no
        environment variable.
    :param eval_loss: add the evaluation-loss plugin described above.
    :param lr: the SGD learning rate.
    :param scheduler: ``scheduler(optimizer)`` returns an LR scheduler to fit with (e.g.
        ``lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)``).
    :param trainer_kwargs: passed on to :class:`~hookwise.Trainer` (``device``, ``output_dir``,
        ``check_val_every_n_epoch``, ``callbacks``, ``scheduler_interval``, ...), overriding
        ``run_fit``'s choices.
    :returns: a :class:`FitResult`.
    :raises: whatever the fit raises; hookwise adds notes naming the plugin, the hook and the
        position (pytest prints them).
    """
    from hookwise.trainer import Trainer

    for label, value in (("batches", batches), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"run_fit: {label} must be at least 1, got {value}")
    if tmp_path is None:
        tmp_path = tempfile.mkdtemp(prefix="hookwise-run-fit-")
    manager = pm if pm is not None else IsolatedPluginManager(entry_points=True)
    recorder = HookRecorder().attach(manager)
    if eval_loss and manager.get_plugin(EVAL_LOSS_PLUGIN) is None:
        manager.register(_EvalLoss(), EVAL_LOSS_PLUGIN)
    _add_plugins(manager, plugins)

    parts = _tiny_parts(seed, batches, batch_size, val_batches, lr)
    options: dict[str, Any] = {
        "device": "cpu",
        "output_dir": Path(tmp_path) / "run",
        "train_dataloader": parts["train"],
        "test_dataloader": [parts["val"]],
        "train_data_connector": parts["connector"],
        "num_epochs": epochs,
        "num_steps": -1 if steps is None else steps,
        "check_val_every_n_epoch": 1,
        "val_check_interval": val_check_interval,
        "seed": seed,
    }
    options.update(trainer_kwargs)
    trainer = Trainer(plugins=manager, **options)
    model = parts["model"]
    optimizer = parts["optimizer"]
    schedulers = [scheduler(optimizer)] if scheduler is not None else None
    fit_metrics = trainer.fit(model, optimizer, schedulers, parts["loss"], resume_from=resume_from)
    test_metrics = trainer.test(model) if test else {}
    return FitResult(
        metrics=trainer.metrics,
        test_metrics=test_metrics,
        fit_metrics=fit_metrics,
        calls=recorder,
        output_dir=trainer.output_dir,
        model=model,
        trainer=trainer,
    )


# ------------------------------------------------------------------------------------------------
# assert_plugin_valid
# ------------------------------------------------------------------------------------------------


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


def _first_difference(saved: Any, restored: Any, path: str = "state") -> str | None:
    """Where ``restored`` differs from ``saved`` (``None``: equal), for a readable message."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(saved, torch.Tensor):
        if not isinstance(restored, torch.Tensor):
            return f"{path}: saved a tensor, got {type(restored).__name__}"
        if saved.shape != restored.shape or saved.dtype != restored.dtype:
            return (
                f"{path}: saved a {saved.dtype} tensor of shape {tuple(saved.shape)}, got "
                f"{restored.dtype} {tuple(restored.shape)}"
            )
        if not torch.equal(saved.cpu(), restored.cpu()):
            if saved.is_floating_point() and torch.equal(saved.isnan(), restored.isnan()):
                mask = ~saved.isnan()
                if torch.equal(saved[mask].cpu(), restored[mask].cpu()):
                    return None
            return f"{path}: tensor values differ"
        return None
    if isinstance(saved, Mapping):
        if not isinstance(restored, Mapping):
            return f"{path}: saved a mapping, got {type(restored).__name__}"
        if set(saved) != set(restored):
            missing = sorted(map(str, set(saved) - set(restored)))
            extra = sorted(map(str, set(restored) - set(saved)))
            return f"{path}: keys differ (missing {missing}, unexpected {extra})"
        for key in saved:
            found = _first_difference(saved[key], restored[key], f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(saved, (list, tuple)):
        if not isinstance(restored, (list, tuple)) or len(saved) != len(restored):
            return f"{path}: saved {_short(saved)}, got {_short(restored)}"
        for index, (a, b) in enumerate(zip(saved, restored, strict=True)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    both_float = isinstance(saved, float) and isinstance(restored, float)
    if both_float and math.isnan(saved) and math.isnan(restored):
        return None
    try:
        equal = bool(saved == restored)
    except Exception:
        equal = False
    return None if equal else f"{path}: saved {_short(saved)}, got {_short(restored)}"


def _unsafe_values(value: Any, path: str = "state") -> list[str]:
    """Values ``torch.load(weights_only=True)`` refuses, with where they are."""
    import torch

    plain = (str, int, float, bool, complex, type(None), torch.Tensor, torch.Size, torch.dtype)
    if isinstance(value, plain) and type(value).__module__ in ("builtins", "torch"):
        return []
    if isinstance(value, torch.Tensor):  # a subclass such as nn.Parameter
        return []
    if type(value) in (dict, list, tuple, set) or type(value).__name__ == "OrderedDict":
        items = value.items() if isinstance(value, dict) else enumerate(value)
        found: list[str] = []
        for key, item in items:
            found += _unsafe_values(item, f"{path}[{key!r}]")
        return found
    return [f"{path} is a {type(value).__module__}.{type(value).__qualname__}"]


def _weights_only_problem(state: Any, plugin: str) -> str | None:
    import pickle

    import torch

    buffer = io.BytesIO()
    try:
        torch.save(state, buffer)
    except Exception as exc:
        return (
            f"plugin {plugin!r}: state_dict() cannot be saved with torch.save: "
            f"{type(exc).__name__}: {exc}"
        )
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        where = _unsafe_values(state)
        detail = "; ".join(where[:5]) if where else str(exc).splitlines()[0]
        return (
            f"plugin {plugin!r}: state_dict() holds values torch.load(weights_only=True) "
            f"refuses: {detail}. Store tensors, numbers, strings, lists and dicts only "
            f"(e.g. a path as str(path), an enum as its value)."
        )
    return None


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

    def fail() -> PluginCheckFailed:
        return PluginCheckFailed(name, problems)

    # 1. The entry point.
    info: InstalledPlugin | None = None
    if ":" in base:
        target_text = base
    else:
        try:
            info = pm.find(base)
        except HookwiseError as exc:
            problems.append(str(exc))
            raise fail() from None
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
        raise fail() from None

    # 2. Documentation.
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
    else:
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

    # 3. Hooks.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            registered = pm.enable(name, **params)
        except HookwiseError as exc:
            problems.append(_format_exception(exc))
            raise fail() from None
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
                f"plugin {plugin_name!r} ({target_text}) implements no hook, so the trainer "
                f"never calls it. Override a Callback method (on_train_batch_end, ...) or mark "
                f"functions with @hookimpl; `hookwise hooks` lists them."
            )
    if problems:
        raise fail()

    # 4. State: weights_only, stored in the checkpoint, restored, resumable.
    entry = (name, params)
    run_dir = folder / "plugin-check"
    try:
        first = run_fit([*with_plugins, entry], epochs=1, test=False, tmp_path=run_dir)
    except Exception as exc:
        problems.append(
            f"plugin {name!r} failed in a one-epoch run_fit (enabled with {params!r}"
            f"{f', after {with_plugins!r}' if with_plugins else ''}):\n"
            f"{_format_exception(exc)}\nIf it needs another plugin (an evaluator's metric, "
            f"...), pass it as with_plugins=[...]."
        )
        raise fail() from None
    states: dict[str, Any] = {}
    for plugin_name in registered:
        plugin = first.pm.get_plugin(plugin_name)
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
        problem = _weights_only_problem(state, plugin_name)
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
    report.state = states
    if problems or not states:
        if problems:
            raise fail()
        return report
    from hookwise.checkpointing import load_checkpoint

    checkpoint = run_dir / "plugin-check.ckpt"
    try:
        first.trainer.save_checkpoint(checkpoint)
        saved = load_checkpoint(checkpoint)["plugins"]
    except Exception as exc:
        problems.append(f"the checkpoint with the plugin's state failed: {_format_exception(exc)}")
        raise fail() from None
    fresh = IsolatedPluginManager(entry_points=True)
    try:
        _add_plugins(fresh, with_plugins)
        fresh.enable(name, **params)
        fresh.load_state_dict(saved)
    except Exception as exc:
        problems.append(
            f"plugin {name!r}: a fresh instance could not load the saved state: "
            f"{_format_exception(exc)}"
        )
        raise fail() from None
    for plugin_name, state in states.items():
        if plugin_name not in saved:
            problems.append(
                f"plugin {plugin_name!r}: its state is missing from the trainer's checkpoint"
            )
            continue
        plugin = fresh.get_plugin(plugin_name)
        restored = plugin.state_dict() if plugin is not None else None
        difference = _first_difference(state, restored)
        if difference:
            problems.append(
                f"plugin {plugin_name!r}: after a checkpoint round trip, load_state_dict() "
                f"followed by state_dict() differs from what was saved: {difference}. "
                f"load_state_dict must restore everything state_dict returns."
            )
    if problems:
        raise fail()
    try:
        run_fit(
            [*with_plugins, entry], epochs=2, test=False, tmp_path=run_dir, resume_from=checkpoint
        )
    except Exception as exc:
        problems.append(
            f"plugin {name!r}: a fit resumed from a checkpoint holding its state failed:\n"
            f"{_format_exception(exc)}"
        )
        raise fail() from None
    return report


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def hookwise_pm() -> IsolatedPluginManager:
    """An isolated hookwise plugin manager: no installed entry points, no environment variables.

    Enable plugins by import path or register objects; hand it to a trainer or to ``run_fit``.
    ``hookwise_pm.use_installed_plugins()`` reads the installed entry points,
    ``hookwise_pm.use_environment()`` honours ``HOOKWISE_ALLOWED_PLUGINS``, and
    ``hookwise_pm.add_entry_point(name, "pkg.mod:Obj")`` fakes an installed plugin::

        def test_my_callback(hookwise_pm, run_fit):
            hookwise_pm.enable("my_package.callbacks:MyCallback", threshold=2)
            result = run_fit(pm=hookwise_pm)
            assert result.metrics["val/my_metric"] > 0

    See :class:`hookwise.testing.IsolatedPluginManager`.
    """
    return IsolatedPluginManager()


@pytest.fixture
def hook_recorder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HookRecorder]:
    """Records every hook call of the test: of ``hookwise_pm`` (when the test uses it) and of
    every plugin manager created while the test runs (``Trainer(plugins=[...])``, ``run_fit``).

    Each record has ``.hook``, ``.plugin`` (who answered; ``None`` when no plugin implements
    the hook) and ``.kwargs`` (every argument). Helpers::

        def test_batches(hook_recorder, run_fit):
            run_fit(["my_plugin"], epochs=2, batches=3)
            hook_recorder.assert_called("on_train_batch_end", times=6,
                                        batch_idx=[0, 1, 2, 0, 1, 2])
            hook_recorder.assert_order("on_test_epoch_end", "on_validation_end")
            assert hook_recorder.values("on_validation_end", "metrics")[0]["val/loss"] > 0

    See :class:`hookwise.testing.HookRecorder` for ``of``, ``values``, ``results``,
    ``hooks``, ``plugins``, ``assert_not_called``.
    """
    recorder = HookRecorder()
    if "hookwise_pm" in request.fixturenames:
        recorder.attach(request.getfixturevalue("hookwise_pm"))
    original = PluginManager.__init__

    def recording_init(self: PluginManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        recorder.attach(self)

    monkeypatch.setattr(PluginManager, "__init__", recording_init)
    yield recorder
    monkeypatch.undo()
    recorder.detach()


@pytest.fixture(name="run_fit")
def _run_fit_fixture(tmp_path: Path) -> Callable[..., FitResult]:
    """``run_fit(plugins, **options)``: a real fit (and test) of a tiny model, in ``tmp_path``.

    :func:`hookwise.testing.run_fit` with ``tmp_path`` filled in: every call of one test writes
    into ``tmp_path / "run"``, so a later call can resume an earlier one (pass another
    ``tmp_path=`` or ``output_dir=`` for independent runs). Returns a ``FitResult`` with
    ``metrics``, ``test_metrics``, ``calls`` (a HookRecorder), ``output_dir``, ``model``,
    ``trainer``::

        def test_stops_early(run_fit):
            result = run_fit([("early_stopping", {"monitor": "val/loss", "patience": 1})],
                             epochs=20, lr=0.0)
            assert result.stop_request is not None
            assert result.trainer.epoch < 20
    """

    def fixture_run_fit(plugins: Iterable[Any] = (), **options: Any) -> FitResult:
        options.setdefault("tmp_path", tmp_path)
        return run_fit(plugins, **options)

    fixture_run_fit.__doc__ = run_fit.__doc__
    return fixture_run_fit


@pytest.fixture(name="assert_plugin_valid")
def _assert_plugin_valid_fixture(tmp_path: Path) -> Callable[..., PluginReport]:
    """``assert_plugin_valid(name, **params)``: check an installed plugin as hookwise loads it.

    Its entry point loads, its hook implementations match the specs, its parameters are
    documented in its docstring, and its ``state_dict`` holds only what
    ``torch.load(weights_only=True)`` accepts and survives a save-and-resume round trip. Fails
    with an ``AssertionError`` listing every problem and its fix; returns a report::

        def test_valid(assert_plugin_valid):
            report = assert_plugin_valid("my_plugin", threshold=0.5)
            assert report.hooks["my_plugin"] == ["on_train_batch_end", "on_validation_end"]

    :func:`hookwise.testing.assert_plugin_valid` with ``tmp_path`` filled in.
    """

    def fixture_assert_plugin_valid(name: str, /, **params: Any) -> PluginReport:
        params.setdefault("tmp_path", tmp_path / "assert_plugin_valid")
        return assert_plugin_valid(name, **params)

    fixture_assert_plugin_valid.__doc__ = assert_plugin_valid.__doc__
    return fixture_assert_plugin_valid
