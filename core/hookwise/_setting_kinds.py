"""The kinds of values a setting allows (see :mod:`hookwise.settings`, which exports them).

A kind checks a value given in Python, a ``[trainer]`` value (where ``false`` stands for
``None``) or command-line text, and says in words what it allows, for error messages, the
docs and ``--help``. Only the standard library is imported (torch only when a device is
checked).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class _Invalid(ValueError):
    """A value a kind refuses; the message (optional) adds a detail to the expectation."""


@dataclass(frozen=True)
class Kind:
    """What values a setting allows. Subclasses implement :meth:`check`."""

    #: The allowed values in words, completing "``<setting> must be ...``".
    expected: str = ""
    #: The type as the docs and ``--help`` show it.
    type_name: str = "Any"
    #: Whether ``None`` is allowed (written ``false`` in a TOML file, which has no null).
    optional: bool = False

    def check(self, value: Any) -> Any:
        """Return ``value`` (normalised) or raise ``ValueError``."""
        return value

    def from_text(self, text: str) -> Any:
        """The value of command-line ``text``, before :meth:`check`."""
        if self.optional and text.lower() in ("none", "off", "false"):
            return None
        return text

    def from_toml(self, value: Any) -> Any:
        """The value of a TOML value, before :meth:`check` (``false`` means ``None``)."""
        if self.optional and value is False:
            return None
        return value


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True)
class Count(Kind):
    """An integer, at least ``minimum`` (any integer when ``None``); ``-1`` too when
    ``unlimited``; ``None`` too when ``optional``."""

    minimum: int | None = 0
    unlimited: bool = False

    def __post_init__(self) -> None:
        words = "an integer" if self.minimum is None else f"an integer >= {self.minimum}"
        words += " (-1: unlimited)" if self.unlimited else ""
        words += " or None" if self.optional else ""
        object.__setattr__(self, "expected", self.expected or words)
        object.__setattr__(self, "type_name", "int | None" if self.optional else "int")

    def check(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        if _is_integer(value) and (
            self.minimum is None or value >= self.minimum or (self.unlimited and value == -1)
        ):
            return int(value)
        raise _Invalid

    def from_text(self, text: str) -> Any:
        value = super().from_text(text)
        if value is None:
            return None
        try:
            return int(text)
        except ValueError:
            return text  # check() names it


@dataclass(frozen=True)
class Choice(Kind):
    """One of ``choices`` (strings)."""

    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        quoted = [repr(c) for c in self.choices]
        words = " or ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1])
        if len(quoted) >= 3:
            words += f" or {quoted[-1]}"
        object.__setattr__(self, "expected", words)
        object.__setattr__(self, "type_name", " | ".join(quoted))

    def check(self, value: Any) -> Any:
        if isinstance(value, str) and value in self.choices:
            return value
        raise _Invalid


@dataclass(frozen=True)
class Seconds(Kind):
    """A positive number of seconds (returned as a float)."""

    expected: str = "a positive number of seconds"
    type_name: str = "float"

    def check(self, value: Any) -> Any:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value) > 0:
            return float(value)
        raise _Invalid

    def from_text(self, text: str) -> Any:
        try:
            return float(text)
        except ValueError:
            return text


@dataclass(frozen=True)
class Positive(Kind):
    """A positive finite number (returned as a float); ``None`` too when ``optional``."""

    def __post_init__(self) -> None:
        words = "a positive number" + (" or None" if self.optional else "")
        object.__setattr__(self, "expected", self.expected or words)
        object.__setattr__(self, "type_name", "float | None" if self.optional else "float")

    def check(self, value: Any) -> Any:
        if value is None and self.optional:
            return None
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if real and math.isfinite(float(value)) and float(value) > 0:
            return float(value)
        raise _Invalid

    def from_text(self, text: str) -> Any:
        value = super().from_text(text)
        if value is None:
            return None
        try:
            return float(text)
        except ValueError:
            return text


@dataclass(frozen=True)
class Precision(Choice):
    """One of ``choices``; an integer that names one (``32``) is accepted as its text."""

    def check(self, value: Any) -> Any:
        if _is_integer(value) and str(value) in self.choices:
            return str(value)
        return super().check(value)


@dataclass(frozen=True)
class Flag(Kind):
    """``True`` or ``False`` (``0`` and ``1`` too, and numpy's booleans; never a string)."""

    expected: str = "True or False"
    type_name: str = "bool"

    def check(self, value: Any) -> Any:
        if not isinstance(value, str) and value in (True, False):
            return bool(value)
        raise _Invalid

    def from_text(self, text: str) -> Any:
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        return text


@dataclass(frozen=True)
class Device(Kind):
    """A device torch knows, or ``"auto"`` (``None`` means ``"auto"``): CUDA when available."""

    expected: str = "'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device"
    type_name: str = "str | torch.device"

    def check(self, value: Any) -> Any:
        if value is None or value == "auto":
            return "auto"
        import torch  # only when a device is checked: --help and config reading stay light

        try:
            return torch.device(value)
        except (RuntimeError, TypeError, ValueError) as exc:
            raise _Invalid(str(exc)) from None


@dataclass(frozen=True)
class Keywords(Kind):
    """A mapping of keyword arguments (``None``: none); returned as a new ``dict``."""

    expected: str = "a mapping of keyword arguments or None"
    type_name: str = "Mapping[str, Any] | None"

    def check(self, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
            return dict(value)
        raise _Invalid


@dataclass(frozen=True)
class WrapPolicy(Kind):
    """Which submodules FSDP shards as units of their own: module class names (a list, or
    one comma-separated text) or a parameter count (an integer >= 1); ``None``: none (the
    whole model is one unit). Returned as a tuple of names, an int or ``None``."""

    expected: str = "a list of module class names, a parameter count >= 1, or None"
    type_name: str = "list[str] | int | None"
    optional: bool = True

    def check(self, value: Any) -> Any:
        if value is None:
            return None
        if _is_integer(value) and value >= 1:
            return int(value)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        names = isinstance(value, (list, tuple)) and bool(value)
        if names and all(isinstance(name, str) and name.isidentifier() for name in value):
            return tuple(value)
        raise _Invalid

    def from_text(self, text: str) -> Any:
        value = super().from_text(text)
        if value is None:
            return None
        try:
            return int(text)
        except ValueError:
            return text


__all__ = [
    "Choice",
    "Count",
    "Device",
    "Flag",
    "Keywords",
    "Kind",
    "Positive",
    "Precision",
    "Seconds",
    "WrapPolicy",
]
