"""Plugin specs and the ``-p`` grammar (``NAME[:key=value,...]``, ``no:NAME``).

See :mod:`hookwise.config` for the grammar as a user reads it. :func:`parse_plugin_option`
reads one spec, :func:`format_plugin_option` writes one back (the two round-trip), and
:func:`plugin_specs_from_env` reads ``HOOKWISE_PLUGINS``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from hookwise import environment
from hookwise.config.toml import tomllib
from hookwise.discovery import normalize_name
from hookwise.errors import ConfigError

_IDENTIFIER = r"[^\W\d]\w*"
_PARAM_START = re.compile(rf":(?={_IDENTIFIER}\s*=)")
_KEY = re.compile(rf"\s*({_IDENTIFIER})\s*\Z")
_DIST_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_DOTTED = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
_INSTANCE = r"(?:@[A-Za-z0-9_.-]+)?"
_FILE = rf"[^\s:@]*(?:/[^\s:@]*|\.py)(?::{_DOTTED})?"  # a path with / or ending .py
_NAME = re.compile(rf"(?:{_DIST_NAME}|{_DOTTED}:{_DOTTED}|{_FILE}){_INSTANCE}\Z")


@dataclass
class PluginSpec:
    """A plugin to enable: its name and its parameters.

    :param name: an entry-point name, ``name@instance`` or ``package.module:Object``.
    :param params: keyword parameters, reserved ones included (``on_error``, ``epoch_based``,
        ``train_connector``, ``test_connector``).
    :param source: where it was given (``"-p"``, ``"HOOKWISE_PLUGINS"``, a config file);
        used in error messages, not compared.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="python", compare=False)

    @property
    def key(self) -> str:
        """The name as compared: normalized like a pip project name, instance kept."""
        return plugin_key(self.name)

    @property
    def base_key(self) -> str:
        """The normalized name without the instance."""
        return plugin_key(self.name.partition("@")[0])

    @property
    def train_connector(self) -> Any:
        """The ``train_connector`` parameter, if given."""
        return self.params.get("train_connector")

    @property
    def test_connector(self) -> Any:
        """The ``test_connector`` parameter, if given."""
        return self.params.get("test_connector")


@dataclass(frozen=True)
class PluginBlock:
    """``no:NAME``: plugin ``name`` (every instance of it) must not load."""

    name: str
    source: str = field(default="python", compare=False)

    @property
    def base_key(self) -> str:
        """The normalized name."""
        return plugin_key(self.name.partition("@")[0])


PluginOption = PluginSpec | PluginBlock


def plugin_key(name: str) -> str:
    """Normalize a plugin name for comparison (import paths keep their case, file paths are
    normalised: ``./cb.py:X`` is ``cb.py:X``)."""
    from hookwise.plugins.files import canonical, is_file_spec

    base, sep, instance = name.partition("@")
    if is_file_spec(base):
        return f"{canonical(base)}{sep}{instance}"
    folded = base if ":" in base else normalize_name(base)
    return f"{folded}{sep}{instance}"


def split_top_level(text: str, separator: str, where: str) -> list[str]:
    """Split ``text`` at ``separator`` outside quotes, brackets and braces.

    :raises ConfigError: an unbalanced bracket or an unterminated quote, named with ``where``.
    """
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\" and quote == '"':
                index += 2  # an escaped character never ends the string
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            if depth == 0:
                raise ConfigError(f"{where}: unbalanced {char!r} at position {index + 1}")
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    if quote is not None:
        raise ConfigError(
            f'{where}: unterminated {quote} quote; close it, or quote the whole value: key="it\'s"'
        )
    if depth:
        raise ConfigError(f"{where}: unclosed '[' or '{{'; close every bracket of the value")
    parts.append(text[start:])
    return parts


def parse_value(raw: str) -> Any:
    """A ``-p`` value: the TOML literal ``raw`` when it parses as one, else ``raw`` stripped."""
    text = raw.strip()
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if set(parsed) != {"v"}:
        return text
    return parsed["v"]


def format_value(value: Any) -> str:
    """``value`` as a one-line TOML literal (what :func:`parse_value` reads back).

    Scalars are written by ``tomli-w``; lists and tables are written inline, on one line, so
    that the result fits in a ``-p`` argument.

    :raises ConfigError: the value has no TOML form (naming its type), or is a string holding
        a lone surrogate.
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{format_key(str(k))} = {format_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return _scalar(value)


def format_key(key: str) -> str:
    """``key`` as a TOML key: bare when it can be, else quoted."""
    _check_text(key)
    return tomli_w.dumps({key: True})[: -len(" = true\n")]


def _check_text(text: str) -> None:
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise ConfigError(f"the string {text!r} holds a lone surrogate; TOML cannot hold it")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        _check_text(value)
    try:
        line = tomli_w.dumps({"v": value})
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{value!r} ({type(value).__name__}) cannot be written as a TOML value ({exc}); use "
            f"numbers, strings, booleans, dates, lists and tables"
        ) from None
    return line[len("v = ") : -1]


def check_plugin_name(name: str, where: str) -> str:
    """``name`` stripped, if it is a plugin name; else :class:`ConfigError` naming ``where``."""
    name = name.strip()
    if not name:
        raise ConfigError(f"{where}: the plugin name is empty; write NAME[:key=value,...]")
    if not _NAME.match(name):
        raise ConfigError(
            f"{where}: {name!r} is not a plugin name. Write an entry-point name "
            f"('early_stopping'), an instance ('evaluator@top5'), an import path "
            f"('package.module:Object') or a file ('./callbacks.py:Object'), then "
            f"':key=value,...' for parameters"
        )
    return name


def _parse_params(text: str, where: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for piece in split_top_level(text, ",", where):
        key_text, sep, raw = piece.partition("=")
        key_match = _KEY.match(key_text)
        if not sep or key_match is None:
            raise ConfigError(
                f"{where}: {piece.strip()!r} is not key=value; parameters are "
                f"'key=value' separated by ',' (quote a value that holds a comma: "
                f'key="a,b")'
            )
        key = key_match.group(1)
        if key in params:
            raise ConfigError(f"{where}: parameter {key!r} is given twice")
        params[key] = parse_value(raw)
    return params


def parse_plugin_option(text: str, *, source: str = "-p") -> PluginOption:
    """Parse one ``NAME[:key=value,...]`` or ``no:NAME`` (see :mod:`hookwise.config`).

    :param source: where ``text`` came from, for error messages.
    :raises ConfigError: naming the spec, what is wrong and how to write it.
    """
    if not isinstance(text, str):
        raise ConfigError(f"{source}: a plugin spec is a string, got {text!r}")
    where = f"{source} {text!r}"
    match = _PARAM_START.search(text)
    name_part, params_part = (text[: match.start()], text[match.end() :]) if match else (text, "")
    stripped = name_part.strip()
    if stripped.startswith("no:") or stripped == "no":
        if match:
            raise ConfigError(f"{where}: 'no:NAME' blocks a plugin and takes no parameters")
        if stripped[3:].strip().startswith("no:"):
            raise ConfigError(
                f"{where}: 'no:' is given twice; block a plugin with one: "
                f"no:{stripped[3:].strip()[3:]}"
            )
        return PluginBlock(check_plugin_name(stripped[3:], where), source)
    name = check_plugin_name(name_part, where)
    params = _parse_params(params_part, where) if match else {}
    return PluginSpec(name, params, source)


def format_plugin_option(option: PluginOption) -> str:
    """The ``-p`` spelling of ``option``; :func:`parse_plugin_option` reads it back equal."""
    if isinstance(option, PluginBlock):
        return f"no:{option.name}"
    if not option.params:
        return option.name
    params = ",".join(f"{k}={format_value(v)}" for k, v in option.params.items())
    return f"{option.name}:{params}"


def parse_plugin_options(texts: Iterable[str], *, source: str = "-p") -> list[PluginOption]:
    """Parse several ``-p`` values."""
    return [parse_plugin_option(text, source=source) for text in texts]


def plugin_specs_from_env(environ: Mapping[str, str] | None = None) -> list[PluginOption]:
    """The specs in ``HOOKWISE_PLUGINS`` (``;``-separated), or ``[]`` when it is unset.

    The Python API never calls this by itself; the command line does.
    """
    raw = environment.plugins_text(environ) or ""
    options: list[PluginOption] = []
    where = environment.PLUGINS_ENV
    for index, piece in enumerate(split_top_level(raw, ";", where), start=1):
        if piece.strip():
            source = f"{where} (entry {index})"
            options.append(parse_plugin_option(piece.strip(), source=source))
    return options


def plugin_options_from_config(plugins: Any, where: str) -> list[PluginOption]:
    """The ``[plugins]`` table of a config as plugin options, in file order.

    ``[plugins.NAME]`` (a table of parameters) or ``NAME = true`` enables; ``NAME = false``
    blocks.
    """
    if not isinstance(plugins, Mapping):
        raise ConfigError(f"{where}: [plugins] must be a table of [plugins.NAME] tables")
    options: list[PluginOption] = []
    for name, value in plugins.items():
        source = f"{where} [plugins.{format_key(name)}]"
        checked = check_plugin_name(name, source)
        if value is False:
            options.append(PluginBlock(checked, source))
        elif value is True:
            options.append(PluginSpec(checked, {}, source))
        elif isinstance(value, Mapping):
            options.append(PluginSpec(checked, dict(value), source))
        else:
            raise ConfigError(
                f"{source} must be a table of parameters, true (enable) or false (block), "
                f"got {value!r}"
            )
    return options


__all__ = [
    "PluginBlock",
    "PluginOption",
    "PluginSpec",
    "check_plugin_name",
    "format_key",
    "format_plugin_option",
    "format_value",
    "parse_plugin_option",
    "parse_plugin_options",
    "parse_value",
    "plugin_key",
    "plugin_options_from_config",
    "plugin_specs_from_env",
    "split_top_level",
]
