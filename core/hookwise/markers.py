"""``HookimplMarker``: pluggy's implementation marker with hookwise's own options.

``hookwise.hookimpl`` (:data:`hookwise.hookspecs.hookimpl`) is an instance of it. pluggy's
marker class is final, so this one writes the same attribute pluggy reads
(``<project>_impl``, a mapping of pluggy's options) and keeps hookwise's options (order
constraints, triggers) in the same mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

_F = TypeVar("_F", bound=Callable[..., Any])

#: The options ``@hookimpl`` takes beyond pluggy's.
HOOKWISE_IMPL_OPTIONS: tuple[str, ...] = (
    "before",
    "after",
    "every_n_steps",
    "every_n_epochs",
    "on_ranks",
    "stages",
)


class HookimplMarker:
    """pluggy's ``HookimplMarker`` with hookwise's ordering constraints and triggers.

    ``@hookimpl`` marks a hook implementation exactly as pluggy's marker does (the options are
    stored as the function's ``<project>_impl`` attribute, which pluggy reads); the extra
    options are kept in the same mapping and read by hookwise's plugin manager.

    :param tryfirst: run before the implementations without it (pluggy).
    :param trylast: run after the implementations without it (pluggy).
    :param wrapper: a new-style wrapper, a generator around the other calls (pluggy).
    :param hookwrapper: an old-style wrapper (pluggy).
    :param optionalhook: no error when the hook has no specification (pluggy).
    :param specname: the hook's name, when the function's name differs (pluggy).
    :param before: plugin names this implementation runs before (entry-point names, compared
        as pip compares project names; a base name covers its instances ``name@x``; a file
        ``./callbacks.py:Object`` by its path; an import path exactly).
    :param after: plugin names this implementation runs after.
    :param every_n_steps: on the trainer's path, run only when ``global_step`` (completed
        optimizer steps) is a multiple of N; a string names the plugin's attribute holding N
        (read at each call; ``None`` there: every call).
    :param every_n_epochs: on the trainer's path, run only in epochs whose number (1-based) is
        a multiple of N: after epochs N, 2N, ... (a string: as for ``every_n_steps``).
    :param on_ranks: on the trainer's path, run only on these ranks: ``"zero"``, ``"all"``, a
        rank or a list of ranks.
    :param stages: on the trainer's path, run only in these stages (``"train"``, ``"val"``,
        ``"test"``), as ``trainer_state["stage"]`` says.
    """

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name

    @overload
    def __call__(self, function: _F) -> _F: ...

    @overload
    def __call__(
        self,
        function: None = ...,
        *,
        hookwrapper: bool = ...,
        optionalhook: bool = ...,
        tryfirst: bool = ...,
        trylast: bool = ...,
        specname: str | None = ...,
        wrapper: bool = ...,
        before: Iterable[str] | str = ...,
        after: Iterable[str] | str = ...,
        every_n_steps: int | str | None = ...,
        every_n_epochs: int | str | None = ...,
        on_ranks: str | int | Iterable[int] | None = ...,
        stages: Iterable[str] | str | None = ...,
    ) -> Callable[[_F], _F]: ...

    def __call__(
        self,
        function: _F | None = None,
        *,
        hookwrapper: bool = False,
        optionalhook: bool = False,
        tryfirst: bool = False,
        trylast: bool = False,
        specname: str | None = None,
        wrapper: bool = False,
        before: Iterable[str] | str = (),
        after: Iterable[str] | str = (),
        every_n_steps: int | str | None = None,
        every_n_epochs: int | str | None = None,
        on_ranks: str | int | Iterable[int] | None = None,
        stages: Iterable[str] | str | None = None,
    ) -> _F | Callable[[_F], _F]:
        opts: dict[str, Any] = {
            "wrapper": wrapper,
            "hookwrapper": hookwrapper,
            "optionalhook": optionalhook,
            "tryfirst": tryfirst,
            "trylast": trylast,
            "specname": specname,
        }
        extra = {
            "before": before,
            "after": after,
            "every_n_steps": every_n_steps,
            "every_n_epochs": every_n_epochs,
            "on_ranks": on_ranks,
            "stages": stages,
        }
        # Only options actually given are stored: an unmarked-looking mapping stays pluggy's.
        opts.update({k: v for k, v in extra.items() if v not in (None, ())})

        def mark(func: _F) -> _F:
            setattr(func, self.project_name + "_impl", dict(opts))
            return func

        return mark if function is None else mark(function)


__all__ = ["HOOKWISE_IMPL_OPTIONS", "HookimplMarker"]
