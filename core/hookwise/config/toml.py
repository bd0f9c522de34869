"""Reading and writing config files: TOML with errors that name the file, line and column.

Reading uses the standard library's ``tomllib`` (``tomli`` on Python 3.10), writing uses
``tomli-w``; both are wrapped so that a person sees ``FILE:LINE:COLUMN: what is wrong`` or the
key whose value TOML cannot hold, never a bare library exception.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w

from hookwise.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Where the embedded default config lives (a file of the ``hookwise.examples`` package).
DEFAULT_CONFIG_NAME = "<embedded default config hookwise/examples/default.toml>"

_SCALARS = (bool, int, float, str, date, datetime, time)


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file.

    :raises ConfigError: the file is missing or unreadable, or not valid TOML; the message is
        ``FILE:LINE:COLUMN: what is wrong``, followed by the line and a caret.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")  # a byte-order mark is not TOML
    except FileNotFoundError:
        raise ConfigError(f"config file {str(file)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(file)!r} cannot be read: {exc}") from exc
    return loads_toml(text, str(file))


def loads_toml(text: str, filename: str) -> dict[str, Any]:
    """Parse TOML ``text`` read from ``filename`` (see :func:`load_toml`)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_error_message(exc, text, filename)) from exc
    except RecursionError:
        raise ConfigError(
            f"{filename}: invalid TOML: arrays or tables are nested too deeply to read; "
            f"a config needs a few levels at most"
        ) from None


def _error_position(exc: tomllib.TOMLDecodeError, text: str) -> tuple[str, int | None, int | None]:
    """The message without its position, and the line and column (tomli puts them in the
    text on older versions, in attributes on newer ones)."""
    message = str(exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if found:
        line, column = int(found.group(1)), int(found.group(2))
        message = message[: found.start()].rstrip()
    elif "(at end of document)" in message:
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        message = message.replace("(at end of document)", "").rstrip()
    return getattr(exc, "msg", message) or message, line, column


def _toml_error_message(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> str:
    message, line, column = _error_position(exc, text)
    if line is None or column is None:
        return f"{filename}: invalid TOML: {message}"
    source_lines = text.splitlines()
    excerpt = ""
    if 1 <= line <= len(source_lines):
        excerpt = f"\n    {source_lines[line - 1]}\n    {' ' * (column - 1)}^"
    return f"{filename}:{line}:{column}: invalid TOML: {message}{excerpt}"


def _check_writable(value: Any, where: str) -> None:
    """Raise :class:`ConfigError` naming the key of the first value TOML cannot hold."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where or 'the config'}: the key {key!r} is not a string")
            _check_surrogates(key, where)
            _check_writable(item, f"{where}.{key}" if where else key)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_writable(item, f"{where}[{index}]")
    elif not isinstance(value, _SCALARS) or (isinstance(value, time) and value.tzinfo):
        raise ConfigError(
            f"{where}: {value!r} ({type(value).__name__}) cannot be written as a TOML value; "
            f"use numbers, strings, booleans, dates, lists and tables"
        )
    elif isinstance(value, str):
        _check_surrogates(value, where)


def _check_surrogates(text: str, where: str) -> None:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ConfigError(
            f"{where}: the string {text!r} holds a lone surrogate; TOML cannot hold it"
        )


def dump_config(config: Mapping[str, Any]) -> str:
    """Write a config as TOML that reads back equal (with ``tomli-w``): top-level values first,
    then one ``[section]`` per table, ``[plugins.NAME]`` per plugin (``NAME = false`` under
    ``[plugins]`` for blocks).

    :raises ConfigError: a value TOML cannot hold (an object, ``None``, a lone surrogate),
        naming its key.
    """
    _check_writable(config, "")
    return tomli_w.dumps(config)


def default_config_text() -> str:
    """The embedded default config (``hookwise/examples/default.toml``), as text."""
    return resources.files("hookwise.examples").joinpath("default.toml").read_text("utf-8")


def default_config() -> dict[str, Any]:
    """The embedded default config, parsed."""
    return loads_toml(default_config_text(), DEFAULT_CONFIG_NAME)


__all__ = [
    "DEFAULT_CONFIG_NAME",
    "default_config",
    "default_config_text",
    "dump_config",
    "load_toml",
    "loads_toml",
    "tomllib",
]
