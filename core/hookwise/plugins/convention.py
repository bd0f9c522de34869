"""How a hook implementation is called: pluggy's rule, or vis4d's for ``Callback`` methods.

pluggy passes an implementation the hook arguments its parameters name, positionally (and, from
pluggy 1.7, the ones its defaulted parameters name, by keyword). vis4d 0.1.2's trainer calls a
callback's batch hooks by keyword and its epoch hooks positionally, so a ``Callback`` method may
name its parameters freely (``def on_test_epoch_end(self, state, net)``) or take ``*args``.
:func:`callback_convention` works out, once per method, which hook arguments it receives and
how; the call path then calls it that way on every path.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hookwise.errors import PluginValidationError
from hookwise.hookspecs import KEYWORD_HOOKS


@dataclass(frozen=True)
class Convention:
    """The hook arguments a function receives, in its parameter order, and how.

    :param argnames: the hook arguments passed.
    :param by_keyword: passed as keywords (else positionally).
    """

    argnames: tuple[str, ...]
    by_keyword: bool = False


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return [inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL)]


def _describe(function: Callable[..., Any]) -> str:
    name = getattr(function, "__name__", repr(function))
    try:
        return f"{name}{inspect.signature(function)}"
    except (TypeError, ValueError):
        return name


_CACHE: dict[tuple[str, Any, tuple[str, ...]], Convention] = {}


def callback_convention(
    hook: str, function: Callable[..., Any], spec_args: Sequence[str], plugin: Any, name: str
) -> Convention:
    """How vis4d's trainer would call the ``Callback`` method ``function`` for ``hook``.

    Worked out once per method of a class (every instance's bound method shares it).

    :raises PluginValidationError: the method needs an argument the hook does not pass (a
        required parameter beyond the hook's arguments, or, for a batch hook, one whose name is
        not an argument of the hook).
    """
    key = (hook, getattr(function, "__func__", function), tuple(spec_args))
    try:
        return _CACHE[key]
    except (KeyError, TypeError):
        pass
    convention = _work_out(hook, function, tuple(spec_args), plugin, name)
    if len(_CACHE) < 10_000:  # bounded: methods of classes that come and go in tests
        _CACHE[key] = convention
    return convention


def _work_out(
    hook: str, function: Callable[..., Any], spec_args: tuple[str, ...], plugin: Any, name: str
) -> Convention:
    params = _parameters(function)
    kinds = inspect.Parameter

    def where() -> str:
        return f"plugin {name!r}, hook {hook!r}: method {_describe(function)}"

    positional = [
        p for p in params if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    ]
    var_positional = any(p.kind is kinds.VAR_POSITIONAL for p in params)
    var_keyword = any(p.kind is kinds.VAR_KEYWORD for p in params)
    required_kw = [p.name for p in params if p.kind is kinds.KEYWORD_ONLY and p.default is p.empty]
    if hook in KEYWORD_HOOKS:
        if var_keyword:
            return Convention(tuple(spec_args), by_keyword=True)
        named = [
            p.name for p in params if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        ]
        unknown = [
            p.name
            for p in params
            if p.name not in spec_args
            and p.default is p.empty
            and p.kind is not kinds.VAR_POSITIONAL
        ]
        if unknown:
            raise PluginValidationError(
                f"{where()}: parameter(s) {unknown} are not arguments of the hook; vis4d's trainer "
                f"passes this hook's arguments by keyword: {list(spec_args)}.",
                plugin=plugin,
            )
        argnames = tuple(n for n in named if n in spec_args)
        leading = [p.name for p in positional if p.kind is kinds.POSITIONAL_OR_KEYWORD]
        return Convention(argnames, by_keyword=leading[: len(argnames)] != list(argnames))
    if var_positional:
        argnames = tuple(spec_args)
    elif var_keyword and [p.name for p in positional] == list(spec_args[: len(positional)]):
        # vis4d would pass the rest positionally and fail; a **kwargs method whose positional
        # parameters carry the hook's names gets them all, by keyword.
        return Convention(tuple(spec_args), by_keyword=True)
    else:
        argnames = tuple(spec_args[: len(positional)])
        extra = [p.name for p in positional[len(spec_args) :] if p.default is p.empty]
        if extra or required_kw:
            raise PluginValidationError(
                f"{where()} needs more arguments than the hook passes: vis4d's trainer calls this "
                f"hook positionally with {list(spec_args)}; give {extra + required_kw} defaults "
                f"or remove them.",
                plugin=plugin,
            )
    return Convention(argnames)


def pluggy_convention(argnames: Sequence[str]) -> Convention:
    """pluggy's rule: the named arguments, positionally."""
    return Convention(tuple(argnames))
