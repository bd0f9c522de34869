"""Plugin specs and run configs: from TOML, the command line and the environment.

Plugins on the command line (``-p``) and in ``HOOKWISE_PLUGINS``
------------------------------------------------------------------
``NAME[:key=value,...]`` enables a plugin; ``no:NAME`` blocks one (and every instance of it).

- ``NAME`` is an entry-point name (``early_stopping``), an instance of one
  (``evaluator@top5``) or an import path (``package.module:Object``).
- Parameters start at the first ``:`` followed by ``identifier=``, so
  ``mypkg.callbacks:Printer:every=10`` is the object ``mypkg.callbacks:Printer`` with
  ``every=10``.
- Values are TOML literals when they parse as one (``3``, ``0.5``, ``true``, ``"text"``,
  ``[1, 5]``, ``{preds = {pred = "logits"}}``), else plain strings (``monitor=val/loss``).
- Commas inside brackets, braces or quotes do not split: ``evaluator:top_k=[1, 5],mode=max``.
- ``HOOKWISE_PLUGINS`` holds the same specs separated by ``;``.

A config file
-------------
A TOML file; every table is optional::

    allowed_plugins = ["logging", "evaluator", "checkpoint"]  # an allow-list (optional)

    [model]        # {target = "package.module:callable", ...keyword arguments}
    target = "hookwise.examples.digits:DigitsMLP"
    hidden = 64

    [data]
    train = { target = "hookwise.examples.digits:loader", split = "train", batch_size = 64 }
    val = { target = "hookwise.examples.digits:loader", split = "val" }    # validation
    test = { target = "hookwise.examples.digits:loader", split = "test" }  # the final test
    connector = { inputs = "inputs" }        # model(**{arg: batch[key]}); absent: model(batch)

    [optimizer]    # called with params=model.parameters()
    target = "torch.optim:SGD"
    lr = 0.1

    [scheduler]    # called with optimizer=...; optional
    target = "torch.optim.lr_scheduler:StepLR"
    step_size = 5

    [loss]         # one loss with a connector (or [[loss]] for several, each weighted)
    target = "torch.nn:CrossEntropyLoss"
    connector = { input = { pred = "logits" }, target = { data = "labels" } }

    [trainer]      # epochs, steps, seed, device ("auto", "cpu", "cuda"...),
    epochs = 10    # check_val_every_n_epoch (false: never), val_check_interval (steps),
    seed = 0       # log_every_n_steps, scheduler_interval ("epoch"/"step"), num_threads

    [plugins.logging]                 # a plugin and its parameters
    plot = true
    [plugins."evaluator@top5"]        # a second instance
    evaluator = { target = "mypkg.metrics:TopK", k = 5 }
    test_connector = { preds = { pred = "logits" }, labels = { data = "labels" } }

    [plugins]
    checkpoint = false                # blocked, like -p no:checkpoint

A plugin table's ``on_error`` is the error policy (never passed on); ``epoch_based``,
``train_connector`` and ``test_connector`` go to a ``Callback``'s constructor as in vis4d.
A parameter written as ``{target = "..."}`` is built first (an object-valued parameter).

Precedence
----------
Later layers win, key by key: **defaults** (the embedded default config,
:func:`default_config`) < **the config** named on the command line < **the environment**
(``HOOKWISE_PLUGINS``) < **the command line** (``-p``, ``--epochs``, ...). For plugins, a
later layer's parameters update an earlier layer's for the same name, ``no:NAME`` (or
``NAME = false``) removes a plugin, and naming it again in a later layer enables it again.

- The default plugins (logging, evaluator, checkpoint) come from the defaults layer;
  ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD=1`` drops them, so that only what is named loads.
- The default *job* (``model``, ``data``, ``optimizer``, ``scheduler``, ``loss``: the digits
  example) is used when the config has no ``[model]``; a config with a ``[model]`` table
  defines the whole job itself. ``[trainer]`` keys merge one by one.
- Plugins run in this order: the plugins you named (config, then environment, then command
  line), then the default plugins, so a default (checkpoint last) sees what yours did.
- ``HOOKWISE_ALLOWED_PLUGINS`` and the config's ``allowed_plugins`` are allow-lists; when both
  are set, a plugin must be in both.

Only a config named on the command line is read (there is no hidden default file), and the
Python API reads no environment variable unless asked (:func:`plugin_specs_from_env`).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.discovery import normalize_name
from hookwise.errors import ConfigError, HookwiseError, PluginNotFoundError, add_note

if TYPE_CHECKING:
    from hookwise.plugins import PluginManager

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PLUGINS_ENV = "HOOKWISE_PLUGINS"
DISABLE_AUTOLOAD_ENV = "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD"
ALLOWED_ENV = "HOOKWISE_ALLOWED_PLUGINS"

#: The sections of a config that describe the job (what is trained, on what, how).
JOB_SECTIONS: tuple[str, ...] = ("model", "data", "optimizer", "scheduler", "loss")
#: Every top-level key a config may have.
TOP_LEVEL_KEYS: tuple[str, ...] = (
    "allowed_plugins",
    *JOB_SECTIONS,
    "trainer",
    "plugins",
)
#: ``[trainer]`` keys and their types (``None`` in a tuple: the key may be ``false`` for "off").
TRAINER_KEYS: dict[str, tuple[type, ...]] = {
    "epochs": (int,),
    "steps": (int,),
    "seed": (int,),
    "device": (str,),
    "check_val_every_n_epoch": (int, bool),
    "val_check_interval": (int, bool),
    "log_every_n_steps": (int,),
    "scheduler_interval": (str,),
    "num_threads": (int,),
}
#: ``[data]`` keys.
DATA_KEYS: tuple[str, ...] = (
    "train",
    "val",
    "test",
    "connector",
    "train_connector",
    "test_connector",
    "batch_size",
    "num_workers",
)

_IDENTIFIER = r"[^\W\d]\w*"
_PARAM_START = re.compile(rf":(?={_IDENTIFIER}\s*=)")
_KEY = re.compile(rf"\s*({_IDENTIFIER})\s*\Z")
_DIST_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_DOTTED = rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*"
_INSTANCE = r"(?:@[A-Za-z0-9_.-]+)?"
_NAME = re.compile(rf"(?:{_DIST_NAME}|{_DOTTED}:{_DOTTED}){_INSTANCE}\Z")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


# -- plugin specs -----------------------------------------------------------------------------


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
    """Normalize a plugin name for comparison (import paths keep their case)."""
    base, sep, instance = name.partition("@")
    folded = base if ":" in base else normalize_name(base)
    return f"{folded}{sep}{instance}"


def _split_top_level(text: str, separator: str, where: str) -> list[str]:
    """Split ``text`` at ``separator`` outside quotes, brackets and braces."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == "\\" and quote == '"':
                index += 2
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


def _check_name(name: str, where: str) -> str:
    name = name.strip()
    if not name:
        raise ConfigError(f"{where}: the plugin name is empty; write NAME[:key=value,...]")
    if not _NAME.match(name):
        raise ConfigError(
            f"{where}: {name!r} is not a plugin name. Write an entry-point name "
            f"('early_stopping'), an instance ('evaluator@top5') or an import path "
            f"('package.module:Object'), then ':key=value,...' for parameters"
        )
    return name


def parse_plugin_option(text: str, *, source: str = "-p") -> PluginOption:
    """Parse one ``NAME[:key=value,...]`` or ``no:NAME`` (see the module docstring).

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
        return PluginBlock(_check_name(stripped[3:], where), source)
    name = _check_name(name_part, where)
    params: dict[str, Any] = {}
    if match:
        for piece in _split_top_level(params_part, ",", where):
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
    return PluginSpec(name, params, source)


def format_value(value: Any) -> str:
    """``value`` as an inline TOML literal (what :func:`parse_value` reads back)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            raise ConfigError(f"the string {value!r} holds a lone surrogate; TOML cannot hold it")
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{_format_key(str(k))} = {format_value(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise ConfigError(
        f"{value!r} ({type(value).__name__}) cannot be written as a TOML value; use numbers, "
        f"strings, booleans, lists and tables"
    )


def _format_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else format_value(key)


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
    env = os.environ if environ is None else environ
    raw = env.get(PLUGINS_ENV, "")
    options: list[PluginOption] = []
    for index, piece in enumerate(_split_top_level(raw, ";", PLUGINS_ENV), start=1):
        if piece.strip():
            source = f"{PLUGINS_ENV} (entry {index})"
            options.append(parse_plugin_option(piece.strip(), source=source))
    return options


def autoload_disabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD`` is set (to anything but ``""``/``0``)."""
    env = os.environ if environ is None else environ
    return env.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no")


def allowed_from_env(environ: Mapping[str, str] | None = None) -> list[str] | None:
    """The names in ``HOOKWISE_ALLOWED_PLUGINS`` (``,`` or ``;`` separated), or ``None``."""
    env = os.environ if environ is None else environ
    raw = env.get(ALLOWED_ENV)
    if raw is None:
        return None
    return [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]


def combine_allowed(*lists: Sequence[str] | None) -> list[str] | None:
    """The names every given allow-list allows (``None`` lists allow everything)."""
    given = [list(names) for names in lists if names is not None]
    if not given:
        return None
    result = given[0]
    for other in given[1:]:
        keys = {plugin_key(n) for n in other}
        result = [n for n in result if plugin_key(n) in keys]
    return result


# -- TOML files --------------------------------------------------------------------------------


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file.

    :raises ConfigError: the file is missing or unreadable, or not valid TOML; the message is
        ``FILE:LINE:COLUMN: what is wrong``, followed by the line and a caret.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
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


def _toml_error_message(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> str:
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
    message = getattr(exc, "msg", message) or message
    if line is None or column is None:
        return f"{filename}: invalid TOML: {message}"
    source_lines = text.splitlines()
    excerpt = ""
    if 1 <= line <= len(source_lines):
        excerpt = f"\n    {source_lines[line - 1]}\n    {' ' * (column - 1)}^"
    return f"{filename}:{line}:{column}: invalid TOML: {message}{excerpt}"


def default_config_text() -> str:
    """The embedded default config (``hookwise/examples/default.toml``), as text."""
    return resources.files("hookwise.examples").joinpath("default.toml").read_text("utf-8")


def default_config() -> dict[str, Any]:
    """The embedded default config, parsed."""
    return loads_toml(
        default_config_text(), "<embedded default config hookwise/examples/default.toml>"
    )


# -- config validation -------------------------------------------------------------------------


def _closest_hint(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _type_names(types: tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", bool: "false (off)", float: "a number"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_config(config: Mapping[str, Any], where: str) -> None:
    """Check a config's keys and types; raise :class:`ConfigError` naming the key and file."""
    for key in config:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{_closest_hint(key, TOP_LEVEL_KEYS)} A config "
                f"has: {', '.join(TOP_LEVEL_KEYS)}"
            )
    allowed = config.get("allowed_plugins")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
    ):
        raise ConfigError(f"{where}: allowed_plugins must be a list of plugin names")
    for section in ("model", "optimizer", "scheduler"):
        if section in config:
            _check_target_table(config[section], f"{where}: [{section}]")
    if "loss" in config:
        losses = config["loss"]
        if isinstance(losses, list):
            for index, item in enumerate(losses):
                _check_target_table(item, f"{where}: [[loss]] entry {index + 1}")
        else:
            _check_target_table(losses, f"{where}: [loss]")
    if "data" in config:
        _check_data(config["data"], f"{where}: [data]")
    if "trainer" in config:
        _check_trainer(config["trainer"], f"{where}: [trainer]")
    if "plugins" in config:
        plugin_options_from_config(config["plugins"], where)


def _check_target_table(value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise ConfigError(f'{where} must be a table with target = "package.module:callable"')
    target = value.get("target")
    if not isinstance(target, str) or not target:
        raise ConfigError(
            f'{where} needs target = "package.module:callable" (the other keys are its '
            f"keyword arguments)"
        )


def _check_data(data: Any, where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table with train = {{target = ...}}")
    for key, value in data.items():
        if key not in DATA_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{_closest_hint(key, DATA_KEYS)} It has: "
                f"{', '.join(DATA_KEYS)}"
            )
        if key in ("train", "val", "test"):
            items = value if isinstance(value, list) and key != "train" else [value]
            for item in items:
                _check_target_table(item, f"{where} {key}")
        elif key.endswith("connector"):
            if not isinstance(value, Mapping) or not all(
                isinstance(v, str) for v in value.values()
            ):
                raise ConfigError(
                    f"{where} {key} must map model arguments to batch keys, such as "
                    f'{{ inputs = "inputs" }}; got {value!r}'
                )
        elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where} {key} must be a non-negative integer, got {value!r}")
    if "train" not in data:
        raise ConfigError(f'{where} needs train = {{target = "package.module:callable"}}')


def _check_trainer(trainer: Any, where: str) -> None:
    if not isinstance(trainer, Mapping):
        raise ConfigError(f"{where} must be a table such as {{ epochs = 10 }}")
    for key, value in trainer.items():
        types = TRAINER_KEYS.get(key)
        if types is None:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{_closest_hint(key, TRAINER_KEYS)} It has: "
                f"{', '.join(TRAINER_KEYS)}"
            )
        ok = isinstance(value, types) and not (
            isinstance(value, bool) and (bool not in types or value is True)
        )
        if not ok:
            raise ConfigError(
                f"{where} {key} must be {_type_names(types)}, got {value!r} "
                f"({type(value).__name__})"
            )
    interval = trainer.get("scheduler_interval")
    if interval is not None and interval not in ("epoch", "step"):
        raise ConfigError(f"{where} scheduler_interval must be 'epoch' or 'step', got {interval!r}")


def plugin_options_from_config(plugins: Any, where: str) -> list[PluginOption]:
    """The ``[plugins]`` table of a config as plugin options, in file order.

    ``[plugins.NAME]`` (a table of parameters) or ``NAME = true`` enables; ``NAME = false``
    blocks.
    """
    if not isinstance(plugins, Mapping):
        raise ConfigError(f"{where}: [plugins] must be a table of [plugins.NAME] tables")
    options: list[PluginOption] = []
    for name, value in plugins.items():
        source = f"{where} [plugins.{format_value(name) if '@' in name else name}]"
        checked = _check_name(name, source)
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


# -- resolution --------------------------------------------------------------------------------


@dataclass
class PluginPlan:
    """The plugins a run enables, in order, and the ones it blocks.

    :param specs: the plugins to enable, in enable order.
    :param blocked: the blocks, by normalized name.
    :param defaults: the normalized names of the default plugins.
    """

    specs: list[PluginSpec]
    blocked: dict[str, PluginBlock] = field(default_factory=dict)
    defaults: frozenset[str] = frozenset()

    def is_default(self, spec: PluginSpec) -> bool:
        """Whether ``spec`` is one of the default plugins (possibly with changed params)."""
        return spec.key in self.defaults


def resolve_plugins(
    defaults: Sequence[PluginSpec], layers: Sequence[Sequence[PluginOption]]
) -> PluginPlan:
    """Apply the layers to the defaults (later wins); named plugins first, defaults last."""
    default_keys = [spec.key for spec in defaults]
    entries: dict[str, PluginSpec] = {}
    blocked: dict[str, PluginBlock] = {}
    for option in [*defaults, *(o for layer in layers for o in layer)]:
        if isinstance(option, PluginBlock):
            for key in [k for k, s in entries.items() if s.base_key == option.base_key]:
                del entries[key]
            blocked[option.base_key] = option
            continue
        blocked.pop(option.base_key, None)
        previous = entries.get(option.key)
        if previous is None:
            entries[option.key] = PluginSpec(option.name, dict(option.params), option.source)
        else:
            merged = {**previous.params, **option.params}
            source = previous.source if not option.params else option.source
            entries[option.key] = PluginSpec(previous.name, merged, source)
    named = [spec for key, spec in entries.items() if key not in default_keys]
    kept_defaults = [entries[key] for key in default_keys if key in entries]
    return PluginPlan(named + kept_defaults, blocked, frozenset(default_keys))


@dataclass
class RunConfig:
    """A resolved config: the job, the trainer settings and the plugin plan.

    :param job: the ``model``, ``data``, ``optimizer``, ``scheduler`` and ``loss`` tables.
    :param trainer: the ``[trainer]`` settings.
    :param plugins: the plugins to enable and to block.
    :param allowed_plugins: the allow-list (``None``: any plugin may load).
    :param source: the config file read, or the embedded default.
    """

    job: dict[str, Any]
    trainer: dict[str, Any]
    plugins: PluginPlan
    allowed_plugins: list[str] | None = None
    source: str = "<default>"
    default_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The config as a TOML-ready mapping that reproduces this run when read back.

        Plugins the run blocks, and default plugins it did not load (autoload off, not in
        the allow-list), are written as ``NAME = false``.
        """
        out: dict[str, Any] = {}
        if self.allowed_plugins is not None:
            out["allowed_plugins"] = list(self.allowed_plugins)
        out.update({k: v for k, v in self.job.items() if v is not None})
        out["trainer"] = dict(self.trainer)
        plugins: dict[str, Any] = {spec.name: dict(spec.params) for spec in self.plugins.specs}
        for block in self.plugins.blocked.values():
            plugins[block.name] = False
        enabled = {spec.base_key for spec in self.plugins.specs}
        for name in self.default_names:
            if plugin_key(name) not in enabled and plugin_key(name) not in self.plugins.blocked:
                plugins[name] = False  # a default this run did not load
        out["plugins"] = plugins
        return out

    def to_toml(self) -> str:
        """The config as TOML text (see :meth:`to_dict` and :func:`dump_config`)."""
        return dump_config(self.to_dict())


def dump_config(config: Mapping[str, Any]) -> str:
    """Write a config as TOML that reads back equal: one ``[section]`` per table, nested
    values as inline tables, and ``[plugins.NAME]`` per plugin (``NAME = false`` for blocks).
    """
    lines: list[str] = []
    tables = {k: v for k, v in config.items() if isinstance(v, Mapping)}
    for key, value in config.items():
        if key not in tables:
            lines.append(f"{_format_key(key)} = {format_value(value)}")
    for key, table in tables.items():
        if key == "plugins":
            continue
        lines += ["", f"[{_format_key(key)}]"]
        lines += [f"{_format_key(k)} = {format_value(v)}" for k, v in table.items()]
    plugins = tables.get("plugins")
    if plugins is not None:
        flags = {k: v for k, v in plugins.items() if not isinstance(v, Mapping)}
        if flags or not plugins:
            lines += ["", "[plugins]"]
            lines += [f"{_format_key(k)} = {format_value(v)}" for k, v in flags.items()]
        for name, params in plugins.items():
            if isinstance(params, Mapping):
                lines += ["", f"[plugins.{_format_key(name)}]"]
                lines += [f"{_format_key(k)} = {format_value(v)}" for k, v in params.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def resolve_config(
    config: Mapping[str, Any] | None = None,
    *,
    source: str = "<default>",
    plugin_args: Sequence[str] = (),
    trainer_overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    use_environment: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Resolve defaults, a config, the environment and command-line options (in that order).

    :param config: a parsed config (``None``: the defaults alone).
    :param source: where ``config`` came from, for error messages.
    :param plugin_args: ``-p`` values, in order.
    :param trainer_overrides: ``[trainer]`` keys set on the command line (``epochs`` ...).
    :param environ: the environment to read (default ``os.environ``), when
        ``use_environment``.
    :param use_environment: read ``HOOKWISE_PLUGINS``, ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD`` and
        ``HOOKWISE_ALLOWED_PLUGINS`` (the command line does; the Python API only when asked).
    :param defaults: the defaults layer (default: :func:`default_config`).
    :raises ConfigError: naming the file, table and key that is wrong.
    """
    base = dict(default_config() if defaults is None else defaults)
    check_config(base, "<defaults>")
    given = dict(config or {})
    check_config(given, source)
    env: Mapping[str, str] = (os.environ if environ is None else environ) if use_environment else {}

    if "model" in given:
        missing = [s for s in ("data", "optimizer", "loss") if s not in given]
        if missing:
            raise ConfigError(
                f"{source}: a config with [model] defines the whole job, and has no "
                f"{', '.join(f'[{m}]' for m in missing)}. Add "
                f"{'it' if len(missing) == 1 else 'them'} (see `hookwise fit --dry-run` for "
                f"the default config)"
            )
        job = {s: given.get(s) for s in JOB_SECTIONS}
    else:
        job = {s: given.get(s, base.get(s)) for s in JOB_SECTIONS}

    trainer = {**base.get("trainer", {}), **given.get("trainer", {})}
    overrides = {k: v for k, v in (trainer_overrides or {}).items() if v is not None}
    if overrides:
        _check_trainer(overrides, "command line")
    trainer.update(overrides)

    all_defaults = [
        PluginSpec(o.name, o.params, "the default config")
        for o in plugin_options_from_config(base.get("plugins", {}), "<defaults>")
        if isinstance(o, PluginSpec)
    ]
    default_plugins = [] if autoload_disabled(env) else all_defaults
    layers = [
        plugin_options_from_config(given.get("plugins", {}), source),
        plugin_specs_from_env(env),
        parse_plugin_options(plugin_args, source="-p"),
    ]
    plan = resolve_plugins(default_plugins, layers)
    allowed = combine_allowed(given.get("allowed_plugins"), allowed_from_env(env))
    if allowed is not None:  # a default outside the allow-list is left out, not an error
        keys = {normalize_name(a.partition("@")[0]) for a in allowed}
        plan.specs = [
            s
            for s in plan.specs
            if not (plan.is_default(s) and normalize_name(s.name.partition("@")[0]) not in keys)
        ]
    return RunConfig(job, trainer, plan, allowed, source, tuple(spec.name for spec in all_defaults))


# -- enabling ---------------------------------------------------------------------------------

#: Parameters never built as objects: connectors are mappings whose keys may be ``target``.
_NOT_BUILT = ("train_connector", "test_connector", "on_error", "epoch_based")


def install_command(name: str) -> str:
    """The pip command that installs the bundled plugin ``name``."""
    return f"pip install hookwise-{normalize_name(name.partition('@')[0])}"


def enable_plan(pm: PluginManager, plan: PluginPlan) -> list[str]:
    """Block and enable the plan's plugins on ``pm``; return the registered names.

    Parameters written as ``{target = "..."}`` are built first, and every parameter is checked
    against the constructor's annotations (:func:`hookwise.paramcheck.check_param_types`).

    :raises PluginNotFoundError: a plugin is not installed (for a default plugin, the message
        names the pip command that installs it).
    :raises HookwiseError: any error of :meth:`PluginManager.enable`, with a note saying where
        the plugin was named.
    """
    from hookwise.paramcheck import check_param_types
    from hookwise.targets import instantiate

    for block in plan.blocked.values():
        pm.block(block.name)
    names: list[str] = []
    for spec in plan.specs:
        try:
            try:
                target, _, _ = pm.load_target(spec.name)
            except PluginNotFoundError as exc:
                if not plan.is_default(spec):
                    raise
                base = spec.name.partition("@")[0]
                raise PluginNotFoundError(
                    f"default plugin {base!r} is not installed. Install it with: "
                    f"{install_command(base)}  (or leave it out: -p no:{base}; "
                    f"{DISABLE_AUTOLOAD_ENV}=1 leaves out every default plugin)"
                ) from exc
            params = {
                key: value
                if key in _NOT_BUILT
                else instantiate(value, where=f"plugin {spec.name!r} parameter {key!r}")
                for key, value in spec.params.items()
            }
            checked = {k: v for k, v in params.items() if k != "on_error"}
            check_param_types(target, checked, spec.name)
            names += pm.enable(spec.name, **params)
        except HookwiseError as exc:
            add_note(exc, f"(plugin {spec.name!r} was named in {spec.source})")
            raise
    return names


__all__ = [
    "ALLOWED_ENV",
    "DISABLE_AUTOLOAD_ENV",
    "PLUGINS_ENV",
    "PluginBlock",
    "PluginOption",
    "PluginPlan",
    "PluginSpec",
    "RunConfig",
    "allowed_from_env",
    "autoload_disabled",
    "check_config",
    "combine_allowed",
    "default_config",
    "default_config_text",
    "dump_config",
    "enable_plan",
    "install_command",
    "format_plugin_option",
    "format_value",
    "load_toml",
    "loads_toml",
    "parse_plugin_option",
    "parse_plugin_options",
    "parse_value",
    "plugin_key",
    "plugin_options_from_config",
    "plugin_specs_from_env",
    "resolve_config",
    "resolve_plugins",
]
