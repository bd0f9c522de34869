"""``HookMarker``: the run-time side of :mod:`hookwise.hooks` (one marker per hook).

``@hooks.on_train_batch_end`` marks a function exactly as
``@hookimpl(specname="on_train_batch_end")`` does, so the function's own name is free, and
``@hooks.on_train_batch_end.options(every_n_steps=50)`` as ``@hookimpl(specname=...,
every_n_steps=50)``. The options are a method rather than a call of the marker itself so that
the marker's ``__call__`` has one typed signature (a type checker's error then says which hook
the function does not fit, in one line). Its
static type (in :mod:`hookwise.hooks`, generated from the hook specifications) is what lets a
type checker check the function against the hook.
"""

from __future__ import annotations

from typing import Any

from hookwise.hookspecs import hookimpl

#: The ``@hookimpl`` options a typed marker takes. Wrappers change the function's shape (a
#: generator), so they are written with ``@hookimpl(wrapper=True)``; ``specname`` is the hook.
MARKER_OPTIONS: tuple[str, ...] = (
    "tryfirst",
    "trylast",
    "before",
    "after",
    "every_n_steps",
    "every_n_epochs",
    "on_ranks",
    "stages",
)


class HookMarker:
    """Marks an implementation of the hook ``hook``: ``@marker``, or with ``@hookimpl``'s
    options ``@marker.options(every_n_steps=50)``.

    :param hook: the hook's name.
    :param options: ``@hookimpl`` options (see :data:`MARKER_OPTIONS`).
    """

    __slots__ = ("hook", "options_given")

    def __init__(self, hook: str, options: dict[str, Any] | None = None) -> None:
        self.hook = hook
        self.options_given = dict(options or {})

    def options(self, **options: Any) -> HookMarker:
        """A marker of the same hook that also sets these ``@hookimpl`` options.

        :raises TypeError: an option ``@hookimpl`` does not take here (wrappers are written
            with ``@hookimpl(wrapper=True)``).
        """
        unknown = sorted(set(options) - set(MARKER_OPTIONS))
        if unknown:
            raise TypeError(
                f"hooks.{self.hook}.options() got unknown options {unknown}; it takes "
                f"{', '.join(MARKER_OPTIONS)} (write wrappers with @hookimpl(wrapper=True))"
            )
        return HookMarker(self.hook, {**self.options_given, **options})

    def __call__(self, function: Any, /) -> Any:
        if not callable(function):
            raise TypeError(
                f"hooks.{self.hook} marks a function: write @hooks.{self.hook} (or "
                f"@hooks.{self.hook}.options(option=value, ...)) above a def, got {function!r}"
            )
        return hookimpl(specname=self.hook, **self.options_given)(function)

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options_given.items())
        return f"HookMarker({self.hook!r}{options})"


__all__ = ["MARKER_OPTIONS", "HookMarker"]
