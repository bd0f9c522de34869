"""Build a training job (model, data, optimizer, scheduler, loss) from a resolved config.

Each section names a callable by import path (see :mod:`hookwise.targets`); this module calls
them and checks what they return, naming the section when something does not fit:

- ``[model]`` returns a ``torch.nn.Module``;
- ``[data]`` ``train``/``val``/``test`` return a ``DataLoader`` (or a ``Dataset``, wrapped
  in a loader with ``batch_size`` and ``num_workers`` from ``[data]``); ``val`` and ``test``
  may be lists; ``connector`` (or ``train_connector``/``test_connector``) maps the model's
  arguments to batch keys (a :class:`~hookwise.DataConnector`);
- ``[optimizer]`` is called with ``params=model.parameters()``;
- ``[scheduler]`` (optional) is called with ``optimizer=...``;
- ``[loss]`` with a ``connector`` (and optionally ``weight`` and ``name``), or ``[[loss]]``
  entries, become a :class:`~hookwise.LossModule`; a ``[loss]`` without a connector must build
  a callable ``loss(outputs, batch)``.

With an allow-list set (DESIGN decision 17), every ``target`` of the job must be on it (by
exact import path or a module prefix ending at a dot); the embedded default job's own targets
are allowed implicitly. :func:`check_job_allowed` checks them all before anything is imported,
and :func:`job_allow_list` is the list the job is built under.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from hookwise.connectors import DataConnector, connector_from_config
from hookwise.errors import ConfigError
from hookwise.loss import LossDefinition, LossModule
from hookwise.plugins.policy import AllowList
from hookwise.targets import instantiate, is_target


@dataclass
class Job:
    """What one run trains and evaluates."""

    model: nn.Module
    train_loader: DataLoader[Any] | None = None
    val_loaders: list[DataLoader[Any]] = field(default_factory=list)
    test_loaders: list[DataLoader[Any]] = field(default_factory=list)
    train_data_connector: DataConnector | None = None
    test_data_connector: DataConnector | None = None
    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    loss_module: Any = None


def build_model(job: Mapping[str, Any]) -> nn.Module:
    """Build ``[model]``."""
    model = instantiate(job.get("model"), where="[model]")
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"[model]: {job['model'].get('target')!r} returned {type(model).__name__}, not a "
            f"torch.nn.Module"
        )
    return model


def _loader(value: Any, where: str, data: Mapping[str, Any], train: bool) -> DataLoader[Any]:
    built = instantiate(value, where=where)
    if isinstance(built, DataLoader):
        return built
    if isinstance(built, Dataset):
        return DataLoader(
            built,
            batch_size=int(data.get("batch_size", 32)),
            shuffle=train,
            num_workers=int(data.get("num_workers", 0)),
        )
    raise ConfigError(
        f"{where}: {value.get('target')!r} returned {type(built).__name__}; a data factory "
        f"returns a torch DataLoader or Dataset"
    )


def _loaders(data: Mapping[str, Any], key: str) -> list[DataLoader[Any]]:
    value = data.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [
        _loader(item, f"[data] {key}" + (f"[{i}]" if len(items) > 1 else ""), data, False)
        for i, item in enumerate(items)
    ]


def _data_connector(data: Mapping[str, Any], key: str) -> DataConnector | None:
    mapping = data.get(key, data.get("connector"))
    return DataConnector(mapping) if mapping is not None else None


def build_loss(job: Mapping[str, Any]) -> Any:
    """Build ``[loss]`` (or ``[[loss]]``)."""
    value = job.get("loss")
    if value is None:
        raise ConfigError("[loss] is missing: name the loss, e.g. target = 'torch.nn:MSELoss'")
    entries = value if isinstance(value, list) else [value]
    if not isinstance(value, list) and "connector" not in value:
        return instantiate(value, where="[loss]")
    definitions: list[LossDefinition] = []
    for index, entry in enumerate(entries):
        where = "[loss]" if not isinstance(value, list) else f"[[loss]] entry {index + 1}"
        kwargs = {k: v for k, v in entry.items() if k not in ("connector", "weight", "name")}
        if "connector" not in entry:
            raise ConfigError(
                f"{where} needs a connector, such as "
                f"connector = {{ input = {{ pred = 'logits' }}, target = {{ data = 'labels' }} }}"
            )
        try:
            connector = connector_from_config(entry["connector"], f"{where} connector")
        except TypeError as exc:
            raise ConfigError(str(exc)) from exc
        definition: LossDefinition = {
            "loss": instantiate(kwargs, where=where),
            "connector": connector,  # type: ignore[typeddict-item]
        }
        if "weight" in entry:
            definition["weight"] = entry["weight"]
        if "name" in entry:
            definition["name"] = str(entry["name"])
        definitions.append(definition)
    return LossModule(definitions)


def build_job(job: Mapping[str, Any], *, train: bool = True) -> Job:
    """Build a job: everything for ``fit`` when ``train``, else the model and test data.

    :raises ConfigError: naming the section whose callable failed or returned the wrong thing.
    """
    check_job_numbers(job)
    model = build_model(job)
    data = job.get("data") or {}
    if not data:
        raise ConfigError("[data] is missing: name the data loaders, train = {target = ...}")
    result = Job(
        model=model,
        test_loaders=_loaders(data, "test"),
        train_data_connector=_data_connector(data, "train_connector"),
        test_data_connector=_data_connector(data, "test_connector"),
    )
    if not train:
        return result
    result.train_loader = _loader(data["train"], "[data] train", data, True)
    result.val_loaders = _loaders(data, "val")
    if job.get("optimizer") is None:
        raise ConfigError("[optimizer] is missing: e.g. target = 'torch.optim:SGD', lr = 0.1")
    optimizer = instantiate(job["optimizer"], where="[optimizer]", params=model.parameters())
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(
            f"[optimizer]: {job['optimizer']['target']!r} returned {type(optimizer).__name__}, "
            f"not a torch.optim.Optimizer"
        )
    result.optimizer = optimizer
    if job.get("scheduler") is not None:
        result.scheduler = instantiate(job["scheduler"], where="[scheduler]", optimizer=optimizer)
    result.loss_module = build_loss(job)
    return result


def job_targets(job: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(where, import path)`` of every ``target`` in the job's tables (connectors, whose
    ``target`` keys are data, are not looked into)."""

    def visit(value: Any, where: str) -> Iterator[tuple[str, str]]:
        if is_target(value):
            yield f"{where}.target", str(value["target"])
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key not in ("connector", "train_connector", "test_connector"):
                    yield from visit(item, f"{where}.{key}" if where else f"[{key}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from visit(item, f"{where}[{index}]")

    yield from visit({k: v for k, v in job.items() if v is not None}, "")


def default_job_targets() -> tuple[str, ...]:
    """The import paths the embedded default job names (allowed implicitly)."""
    from hookwise.config import default_config

    return tuple(sorted({path for _, path in job_targets(default_config())}))


def job_allow_list(allowed: Sequence[str] | None) -> AllowList | None:
    """The allow-list a job is built under: ``allowed`` and the default job's own targets
    (``None`` when no allow-list is set)."""
    if allowed is None:
        return None
    return AllowList(tuple(allowed), implicit=default_job_targets())


def check_job_numbers(job: Mapping[str, Any]) -> None:
    """Refuse a NaN anywhere in the job's tables (``lr = nan`` trains nothing, silently).

    :raises ConfigError: naming the key.
    """

    def visit(value: Any, where: str) -> None:
        if isinstance(value, float) and math.isnan(value):
            raise ConfigError(f"{where} is nan, which is no usable value; give a number")
        if isinstance(value, Mapping):
            for key, item in value.items():
                visit(item, f"{where}.{key}" if where else f"[{key}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]")

    visit({k: v for k, v in job.items() if v is not None}, "")


def check_job_allowed(job: Mapping[str, Any], allowed: Sequence[str] | None) -> None:
    """Check the job's values (:func:`check_job_numbers`) and every ``target`` of the job
    against the allow-list, importing nothing.

    :raises ConfigError: a NaN value.
    :raises PluginBlockedError: naming the first target that is not allowed and what to add.
    """
    check_job_numbers(job)
    allow = job_allow_list(allowed)
    if allow is None:
        return
    for where, path in job_targets(job):
        allow.check_import(path, where)


__all__ = [
    "Job",
    "build_job",
    "build_loss",
    "build_model",
    "check_job_allowed",
    "check_job_numbers",
    "default_job_targets",
    "job_allow_list",
    "job_targets",
]
