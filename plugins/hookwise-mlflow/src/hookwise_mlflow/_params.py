"""The parameters of a run, as MLflow parameters (strings under dotted keys).

:func:`run_params` is the one place that decides what describes a run. Today it reads what the
trainer and the plugin manager expose and the resolved config the command line writes into the
run folder; when the run manifest (``run.json``: versions, plugins with their parameters and
order, config, seed) exists, it reads that instead.
"""

from __future__ import annotations

import json
import platform
import sys
import types
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from hookwise.discovery import normalize_name
from hookwise.runs import CONFIG_FILE

from hookwise_mlflow._trainer import TrainerLink

#: MLflow's longest parameter value.
MAX_VALUE_LENGTH = 6000


def run_params(link: TrainerLink) -> dict[str, str]:
    """What describes the run: ``hookwise.version``, ``torch.version``, ``python.version``,
    ``seed``, ``trainer.<setting>``, ``plugins`` (the enabled names, in order),
    ``plugin.<name>`` (its distribution and version) and, when the run folder holds the
    resolved config (``config.toml``, written by ``hookwise fit``), ``config.<key>`` for every
    value in it, plugin parameters included (``config.plugins.evaluator.top_k``)."""
    import hookwise
    import torch

    params: dict[str, Any] = {
        "hookwise.version": hookwise.__version__,
        "torch.version": torch.__version__,
        "python.version": platform.python_version(),
        "seed": link.seed,
    }
    params.update({f"trainer.{k}": v for k, v in link.settings().items()})
    pm = link.plugin_manager
    names = pm.plugin_names()
    params["plugins"] = ", ".join(names)
    for name in names:
        params[f"plugin.{name}"] = _plugin_source(pm, name)
    config = link.output_dir / CONFIG_FILE
    if config.is_file():
        params.update(flatten(_read_toml(config), "config"))
    return {key: _text(value) for key, value in params.items()}


def flatten(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """Nested tables as dotted keys: ``{"a": {"b": 1}}`` -> ``{"prefix.a.b": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def _text(value: Any) -> str:
    """A parameter value: strings as they are, other values as JSON (``[1, 5]``, ``true``)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_VALUE_LENGTH:
        text = text[: MAX_VALUE_LENGTH - 3] + "..."
    return text


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _plugin_source(pm: Any, name: str) -> str:
    """``distribution==version`` of the plugin registered as ``name``, from its entry point,
    else from the package of its code; its module when neither is known."""
    base = name.split("@", 1)[0].split("#", 1)[0]
    for info in pm.installed():
        if info.key == normalize_name(base) and info.distribution:
            return f"{info.distribution}=={info.version}"
    plugin = pm.get_plugin(name)
    module = plugin.__name__ if isinstance(plugin, types.ModuleType) else type(plugin).__module__
    distributions = metadata.packages_distributions().get(module.split(".")[0], [])
    if distributions:
        return f"{distributions[0]}=={metadata.version(distributions[0])}"
    return module
