"""Check configured plugin parameters against the annotations of the plugin's constructor.

Values from a TOML config or ``-p`` are numbers, strings, booleans, lists and tables; a value
whose type cannot match the annotation (``patience = "three"`` for ``patience: int``,
``mode = "maxx"`` for ``Literal["min", "max"]``) is reported before the plugin is built, naming
the plugin, the parameter, what it expects and the parameters there are. Annotations that
cannot be checked (classes a value may be converted to, unresolvable names) accept anything:
the check never rejects what the plugin itself might accept.
"""

from __future__ import annotations

import collections.abc as abc
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hookwise.errors import ConfigError

_SEQUENCES = (list, tuple, abc.Sequence, abc.MutableSequence, abc.Iterable, abc.Collection)
_MAPPINGS = (dict, abc.Mapping, abc.MutableMapping)


@dataclass(frozen=True)
class KeywordParameters:
    """What a callable accepts by keyword (see :func:`keyword_parameters`).

    :param names: the parameters that can be passed by keyword, in order (``self`` and ``cls``
        left out).
    :param required: those of them without a default.
    :param var_keyword: whether it also takes ``**kwargs``.
    """

    names: list[str]
    required: list[str]
    var_keyword: bool


def keyword_parameters(function: Callable[..., Any]) -> KeywordParameters | None:
    """The keyword parameters of ``function`` (for a class: give its ``__init__``), or ``None``
    when it has no readable signature (a builtin), so that the caller decides what that means.
    """
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    keyword = [
        p
        for p in parameters
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in ("self", "cls")
    ]
    return KeywordParameters(
        names=[p.name for p in keyword],
        required=[p.name for p in keyword if p.default is p.empty],
        var_keyword=any(p.kind is p.VAR_KEYWORD for p in parameters),
    )


def annotations_of(target: Any) -> dict[str, tuple[Any, str]]:
    """``{parameter: (annotation, its text)}`` for the keyword parameters ``target`` accepts.

    For a class, its ``__init__`` and, while constructors forward ``**kwargs``, its bases'.
    Annotations that do not evaluate are left out.
    """
    functions: list[Any] = []
    if inspect.isclass(target):
        for cls in target.__mro__:
            init = cls.__dict__.get("__init__")
            if init is None or cls is object:
                continue
            functions.append(init)
            if not _has_var_keyword(init):
                break
    else:
        functions.append(target)
    found: dict[str, tuple[Any, str]] = {}
    for function in functions:
        try:
            parameters = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):
            continue
        namespace = getattr(function, "__globals__", {})
        for parameter in parameters:
            if parameter.name in found or parameter.annotation is parameter.empty:
                continue
            if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                continue
            annotation = parameter.annotation
            text = annotation if isinstance(annotation, str) else _describe(annotation)
            if isinstance(annotation, str):
                try:
                    annotation = eval(annotation, dict(namespace), {"typing": typing})
                except Exception:
                    continue
            found[parameter.name] = (annotation, text)
    return found


def _has_var_keyword(function: Any) -> bool:
    found = keyword_parameters(function)
    return found is not None and found.var_keyword


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def matches(value: Any, annotation: Any) -> bool | None:
    """Whether ``value`` fits ``annotation``: ``True``, ``False``, or ``None`` (cannot tell)."""
    if annotation is Any or annotation is object:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return matches(value, args[0])
    if origin is typing.Union or isinstance(annotation, types.UnionType):
        results = [matches(value, arg) for arg in args]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if origin is typing.Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if annotation is None or annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    container = origin if origin is not None else annotation
    if container in _SEQUENCES:
        if isinstance(value, (str, Mapping)):
            return None if container is not list and container is not tuple else False
        if not isinstance(value, (list, tuple)):
            return False
        if container is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                return False
            return _all(matches(v, a) for v, a in zip(value, args, strict=True))
        if args:
            return _all(matches(v, args[0]) for v in value)
        return True
    if container in _MAPPINGS:
        if not isinstance(value, Mapping):
            return False
        if len(args) == 2:
            return _all(matches(v, args[1]) for v in value.values())
        return True
    if isinstance(annotation, type) and isinstance(value, annotation):
        return True
    return None


def _all(results: Any) -> bool | None:
    seen_unknown = False
    for result in results:
        if result is False:
            return False
        if result is None:
            seen_unknown = True
    return None if seen_unknown else True


def _expected(annotation: Any, text: str) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(annotation))
    return text


def check_param_types(target: Any, params: Mapping[str, Any], plugin: str) -> None:
    """Raise :class:`ConfigError` for a parameter whose value cannot fit its annotation.

    :param target: the plugin's class or factory.
    :param params: the parameters it will be called with.
    :param plugin: the plugin's name, for the message.
    """
    from hookwise.plugins import accepted_params

    annotations = annotations_of(target)
    for name, value in params.items():
        if name not in annotations:
            continue
        annotation, text = annotations[name]
        if matches(value, annotation) is False:
            accepted = ", ".join(accepted_params(target)[0]) or "no parameters"
            raise ConfigError(
                f"plugin {plugin!r}: parameter {name!r} must be {_expected(annotation, text)}, "
                f"got {value!r} ({type(value).__name__}). It accepts: {accepted}."
            )


__all__ = [
    "KeywordParameters",
    "annotations_of",
    "check_param_types",
    "keyword_parameters",
    "matches",
]
