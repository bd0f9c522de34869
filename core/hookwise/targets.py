"""Objects named by import path: ``{target = "package.module:callable", ...keyword arguments}``.

Configs choose the model, data, optimizer, loss and object-valued plugin parameters this way::

    [model]
    target = "hookwise.examples.digits:DigitsMLP"
    hidden = 64

:func:`instantiate` imports ``target`` and calls it with the other keys. Nested tables are
instantiated first when they have a ``target`` of their own.

:func:`build` serves plugins whose parameter names an object of some kind (an evaluator, a
visualizer): it accepts the object itself, a short name (from a shipped table or an entry-point
group), an import path, or a ``{target = NAME_OR_PATH, ...}`` table, checks the parameters
against the factory's signature and suggests close names when one is misspelt.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hookwise.errors import ConfigError
from hookwise.paramcheck import keyword_parameters

TARGET_KEY = "target"

_DRY_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("hookwise_dry_run", default=False)


@contextlib.contextmanager
def dry_run() -> Iterator[None]:
    """Within the block (``--dry-run``), configuration builds nothing: ``{target}`` values
    are checked (allow-list) and imported, never called (see :func:`check_targets`)."""
    token = _DRY_RUN.set(True)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


@dataclass(frozen=True)
class Planned:
    """What a ``{target}`` value stands for in a dry run: checked and imported, not called.

    A plugin built in a dry run receives this in place of the object; nothing calls it."""

    path: str

    def __repr__(self) -> str:
        return f"<{self.path}, not built in a dry run>"


def is_dry_run() -> bool:
    """Whether a :func:`dry_run` block is active."""
    return _DRY_RUN.get()


def check_targets(value: Any, *, where: str) -> list[str]:
    """Resolve (allow-list, then import) every ``{target}`` in ``value``, calling none;
    return their import paths."""
    found: list[str] = []
    if is_target(value):
        resolve(value[TARGET_KEY], where=f"{where}.target")
        found.append(value[TARGET_KEY])
    if isinstance(value, Mapping):
        for key, item in value.items():
            if key != TARGET_KEY:
                found += check_targets(item, where=f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += check_targets(item, where=f"{where}[{index}]")
    return found


def resolve(path: str, *, where: str = "target", trusted: bool = False) -> Any:
    """Import ``"package.module:attribute"`` (or ``"package.module.attribute"``) and return it
    (with :func:`pkgutil.resolve_name`; a failure is explained part by part).

    While the plugin loader builds a plugin (or a caller uses
    :func:`hookwise.plugins.policy.enforcing`), ``path`` must be on the allow-list, if one is
    set; ``trusted`` skips that check for paths a plugin's own short-name table chose.

    :raises ConfigError: the module or the attribute does not exist (the message says which,
        and suggests close names).
    :raises PluginBlockedError: an allow-list is active and ``path`` is not on it.
    """
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: expected an import path 'package.module:name', got {path!r}")
    if not trusted:
        from hookwise.plugins.policy import check_import

        check_import(path, where)
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ConfigError(f"{where}: {path!r} is not an import path 'package.module:name'")
    try:
        return pkgutil.resolve_name(path)
    except (ImportError, AttributeError, ValueError):
        pass
    # Say which part is wrong: the module (not installed?) or a name in it (suggest close
    # ones). This also resolves module names pkgutil's format refuses but Python imports
    # (pytest's importlib-mode test modules, named after their folders: 'my-plugin.tests.x').
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{where}: cannot import module {module_name!r} of {path!r}: {exc}. Is the package "
            f"installed in this environment?"
        ) from exc
    return attribute_path(
        module,
        attribute,
        lambda part, hint: ConfigError(
            f"{where}: {module_name!r} has no attribute {part!r}.{hint}"
        ),
    )


def attribute_path(obj: Any, dotted: str, error: Callable[[str, str], Exception]) -> Any:
    """``obj.a.b`` for ``dotted = "a.b"``.

    :param error: builds the exception for a missing part from its name and a hint that
        suggests close names (``" Did you mean 'Recorder'?"``, or ``""``).
    """
    for part in dotted.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise error(part, _hint(difflib.get_close_matches(part, names, n=3)))
        obj = getattr(obj, part)
    return obj


def is_target(value: Any) -> bool:
    """Whether ``value`` is a mapping whose ``target`` is a string (an import path).

    A mapping whose ``target`` is something else, such as the connector entry
    ``target = { data = "labels" }``, is plain data.
    """
    return isinstance(value, Mapping) and isinstance(value.get(TARGET_KEY), str)


def instantiate(value: Any, *, where: str = "config", **extra: Any) -> Any:
    """Build the object ``value`` describes; other values are returned as they are.

    :param value: ``{target = "pkg.mod:callable", **kwargs}``, or anything else.
    :param where: what is being built, for error messages (``"[model]"``, ``"plugin evaluator"``).
    :param extra: keyword arguments added to the call (``params`` for an optimizer, say).
    :raises ConfigError: the target cannot be imported, or rejects the arguments.
    """
    if not is_target(value):
        return value
    target = resolve(value[TARGET_KEY], where=f"{where}.target")
    kwargs = {
        key: instantiate(item, where=f"{where}.{key}")
        for key, item in value.items()
        if key != TARGET_KEY
    }
    kwargs.update(extra)
    try:
        return target(**kwargs)
    except TypeError as exc:
        raise ConfigError(
            f"{where}: {value[TARGET_KEY]!r} rejected the arguments {sorted(kwargs)}: {exc}"
        ) from exc


def declared(group: str) -> dict[str, str]:
    """Short names declared in the entry-point ``group``, each with its import path.

    Only the distributions' metadata is read; nothing is imported.
    """
    from importlib.metadata import entry_points

    return {ep.name: ep.value for ep in entry_points(group=group)}


def known_names(names: Mapping[str, str], group: str | None = None) -> list[str]:
    """Every short name :func:`build` accepts with these ``names`` and this ``group``, sorted."""
    return sorted({*names, *(declared(group) if group else {})})


def _hint(close: Sequence[str]) -> str:
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _article(kind: str) -> str:
    return "an" if kind[:1].lower() in "aeiou" else "a"


def _is_short_name(value: str) -> bool:
    return ":" not in value and "." not in value


def build(
    spec: Any,
    params: Mapping[str, Any] | None = None,
    *,
    names: Mapping[str, str],
    group: str | None = None,
    where: str,
    kind: str,
    forms: str,
    missing: Callable[[Any], Sequence[str]],
    base: str,
    plugin_params: Sequence[str] = (),
) -> Any:
    """Turn a plugin parameter that names an object of some ``kind`` into that object.

    ``spec`` may be

    - the object itself (anything that is neither ``None``, a string nor a mapping);
    - a short name (no ``:`` or ``.``): looked up in ``names`` first, then among the entry
      points of ``group``; the import path found is resolved;
    - an import path ``"package.module:name"``;
    - a table ``{target = NAME_OR_PATH, **kwargs}``: the target is a short name or an import
      path, called with the other keys (nested ``{target = ...}`` tables are instantiated
      first by import path, see :func:`instantiate`).

    A name or a path that resolves to a class, or to a callable that lacks the members of
    ``kind`` (a factory), is called with ``params``; one that resolves to a ready object is
    used as it is. With a table, ``params`` join its keys.

    :param spec: the plugin's parameter.
    :param params: further keyword arguments for the object a name, a path or a table builds:
        the plugin's parameters that are not its own (``top_k=[1, 5]`` beside
        ``evaluator="accuracy"``).
    :param names: short names shipped with the plugin, each mapped to an import path.
    :param group: an entry-point group in which other distributions declare short names.
    :param where: names the plugin in error messages (``"plugin 'evaluator'"``).
    :param kind: what is built, and the parameter's name (``"evaluator"``).
    :param forms: the accepted forms, spelled out for error messages.
    :param missing: returns the members of ``kind`` an object lacks (empty: it is one).
    :param base: the class to subclass, suggested when an object is not of ``kind``.
    :param plugin_params: the plugin's own parameters, suggested when a parameter is unknown.
    :returns: the built (or given) object, which has every member of ``kind``.
    :raises ConfigError: ``spec`` is ``None``; a short name is unknown (the message lists
        the known ones and close matches); an import path does not resolve; a table has no
        ``target`` or repeats a key of ``params``; a parameter is not in the factory's
        signature (close names among its parameters and ``plugin_params`` are suggested); the
        factory raises ``TypeError`` or ``ValueError``; ``params`` remain for an object that
        is already built; or the result lacks members of ``kind``.
    """
    extra = dict(params or {})
    if isinstance(spec, Planned):  # a dry run: stands for the object, which is never used
        return spec
    if spec is None:
        raise ConfigError(f"{where}: the parameter {kind!r} is required: give {forms}")

    def lookup(target: Any, path_where: str) -> Any:
        if not (isinstance(target, str) and _is_short_name(target)):
            return resolve(target, where=path_where)
        path = names.get(target) or (declared(group).get(target) if group else None)
        if path is None:
            known = known_names(names, group)
            raise ConfigError(
                f"{where}: there is no {kind} named {target!r}."
                f"{_hint(difflib.get_close_matches(target, known, n=3))} Known names: "
                f"{', '.join(known)}. Or give {forms}."
            )
        # A short name picks installed code by name (the plugin's table, or an entry point):
        # trusted, as installed distributions are (DESIGN decision 17); import paths are checked.
        return resolve(path, where=f"{where} {target!r}", trusted=True)

    def call(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
        name = getattr(factory, "__name__", repr(factory))
        found = keyword_parameters(factory)  # no readable signature: it may take anything
        accepted, any_keyword = (found.names, found.var_keyword) if found else ([], True)
        unknown = [] if any_keyword else [key for key in kwargs if key not in accepted]
        if unknown:
            candidates = [*accepted, *plugin_params]
            close = [c for key in unknown for c in difflib.get_close_matches(key, candidates, n=1)]
            own = (
                f"; the plugin's own parameters are {list(plugin_params)}" if plugin_params else ""
            )
            raise ConfigError(
                f"{where}: unknown parameter(s) {unknown}.{_hint(close)} {kind.capitalize()} "
                f"{name} accepts {accepted or 'no parameters'}{own}."
            )
        try:
            return factory(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where}: {name} could not be built with {dict(kwargs)!r}: {exc}. It accepts: "
                f"{accepted or 'no parameters'}."
            ) from exc

    if isinstance(spec, str):
        found = lookup(spec, where)
        if callable(found) and (inspect.isclass(found) or missing(found)):
            built = call(found, extra)
            extra = {}
        else:
            built = found
    elif isinstance(spec, Mapping):
        if TARGET_KEY not in spec:
            raise ConfigError(
                f"{where}: {_article(kind)} {kind} table needs a 'target' key; give {forms}"
            )
        clash = sorted(set(extra) & set(spec))
        if clash:
            raise ConfigError(
                f"{where}: {clash} given both in the {kind} table and beside it; keep one"
            )
        table = {**{k: v for k, v in spec.items() if k != TARGET_KEY}, **extra}
        extra = {}
        kwargs = {key: instantiate(value, where=f"{where}.{key}") for key, value in table.items()}
        built = call(lookup(spec[TARGET_KEY], f"{where}.target"), kwargs)
    else:
        built = spec
    if extra:
        raise ConfigError(
            f"{where}: parameter(s) {sorted(extra)} are not the plugin's own "
            f"{list(plugin_params)}, and the {kind} {built!r} is already built, so they cannot "
            f"go to it either; pass them to the {kind} itself"
        )
    lacking = list(missing(built))
    if lacking:
        raise ConfigError(
            f"{where}: {built!r} is not {_article(kind)} {kind}: it lacks {lacking}. Subclass "
            f"{base}, or give {forms}."
        )
    return built


@dataclass(frozen=True)
class Registry:
    """The objects of one ``kind`` that a plugin parameter names (the evaluator plugin's
    evaluators, the visualizer plugin's visualizers): the arguments of :func:`build` and
    :func:`known_names` that stay the same, written once.

    ::

        EVALUATORS = Registry(kind="evaluator", names={"accuracy": "pkg.acc:Accuracy"},
                              group="hookwise.evaluators", forms="...", missing=lacks,
                              base="pkg.Evaluator")
        evaluator = EVALUATORS.build(spec, params, where="plugin 'evaluator'")
    """

    kind: str
    names: Mapping[str, str]
    group: str
    forms: str
    missing: Callable[[Any], Sequence[str]]
    base: str

    def known_names(self) -> list[str]:
        """Every short name :meth:`build` accepts (shipped and declared), sorted."""
        return known_names(self.names, self.group)

    def build(
        self,
        spec: Any,
        params: Mapping[str, Any] | None = None,
        *,
        where: str,
        plugin_params: Sequence[str] = (),
    ) -> Any:
        """:func:`build` with this registry's names, group, kind, forms, check and base."""
        return build(
            spec,
            params,
            names=self.names,
            group=self.group,
            where=where,
            kind=self.kind,
            forms=self.forms,
            missing=self.missing,
            base=self.base,
            plugin_params=plugin_params,
        )
