"""``run_fit``: a real fit (and test) of a tiny model on tiny dict-shaped data."""

from __future__ import annotations

import inspect
import os
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise.callback import Callback
from hookwise.plugins import PluginManager
from hookwise.testing._manager import IsolatedPluginManager
from hookwise.testing._recorder import HookRecorder

if TYPE_CHECKING:
    import pytest
    from torch import nn

    from hookwise.trainer import StopRequest, Trainer


#: The name ``run_fit``'s evaluation-loss plugin is registered under.
EVAL_LOSS_PLUGIN = "run_fit.eval_loss"

#: Set by the pytest plugin (``hookwise.testing``) for the session: ``run_fit`` without
#: ``tmp_path`` then writes under pytest's own temporary base, which pytest cleans up (and which
#: is separate per pytest-xdist worker), instead of leaving a folder in the system's temp folder.
temp_factory: pytest.TempPathFactory | None = None


def _new_temp_folder() -> Path:
    if temp_factory is not None:
        return temp_factory.mktemp("run_fit")
    return Path(tempfile.mkdtemp(prefix="hookwise-run-fit-"))


@dataclass
class FitResult:
    """What :func:`run_fit` returns.

    :param metrics: ``trainer.metrics`` after the fit and the test: the latest value of every
        logged key (``train/...``, ``val/...``, ``test/...``).
    :param test_metrics: what the standalone test returned (``test/...`` keys; empty when
        ``test=False``).
    :param fit_metrics: what ``Trainer.fit`` returned (the metrics before the test).
    :param calls: the :class:`HookRecorder` of this run (it stays attached: later calls through
        :attr:`trainer` are recorded too).
    :param output_dir: the trainer's output folder (where plugins write by default).
    :param model: the trained model.
    :param trainer: the :class:`~hookwise.Trainer`.
    """

    metrics: dict[str, float]
    test_metrics: dict[str, float]
    fit_metrics: dict[str, float] = field(repr=False)
    calls: HookRecorder = field(repr=False)
    output_dir: Path
    model: nn.Module = field(repr=False)
    trainer: Trainer = field(repr=False)

    @property
    def pm(self) -> PluginManager:
        """The run's plugin manager (``trainer.pm``)."""
        return self.trainer.pm

    @property
    def stop_request(self) -> StopRequest | None:
        """Who asked the trainer to stop and why (``None``: the run ended by its limits)."""
        return self.trainer.stop_request

    @property
    def checkpoints(self) -> list[Path]:
        """The ``*.ckpt`` files under :attr:`output_dir`, sorted by path."""
        return sorted(p for p in self.output_dir.rglob("*.ckpt") if p.is_file())


def _tiny_parts(
    seed: int, batches: int, batch_size: int, val_batches: int, lr: float
) -> dict[str, Any]:
    """The data, model, loss and optimizer of a tiny run (imports torch)."""
    import torch
    from torch.utils.data import DataLoader

    from hookwise.connectors import DataConnector
    from hookwise.testing._tiny import TinyData, TinyModel, tiny_loss

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TinyModel()
    loss = tiny_loss()
    return {
        "train": DataLoader(TinyData(batches * batch_size, seed), batch_size, shuffle=True),
        "val": DataLoader(TinyData(val_batches * batch_size, seed + 10_000), batch_size),
        "connector": DataConnector({"inputs": "inputs"}),
        "model": model,
        "loss": loss,
        "optimizer": torch.optim.SGD(model.parameters(), lr=lr),
    }


class EvalLoss(Callback):
    """Returns the mean cross-entropy of each evaluation pass as ``loss`` (``val/loss``,
    ``test/loss``), so that monitoring plugins have a metric to watch.

    ``run_fit`` registers one (as :data:`EVAL_LOSS_PLUGIN`); add one to a trainer of your own
    (``Trainer(callbacks=[EvalLoss()], ...)``) whose model returns ``{"logits": ...}`` for
    batches with ``"labels"``.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sum: Any = 0.0
        self._count = 0

    def on_test_epoch_start(self, trainer_state: Any, model: Any) -> None:
        self._sum, self._count = 0.0, 0

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        from torch.nn.functional import cross_entropy

        labels = batch["labels"]
        loss = cross_entropy(outputs["logits"], labels, reduction="sum")
        self._sum = self._sum + loss.detach()
        self._count += int(labels.shape[0])

    def on_test_epoch_end(self, trainer_state: Any, model: Any) -> dict[str, Any] | None:
        if not self._count:
            return None
        return {"loss": self._sum / self._count}


def _add_plugins(pm: PluginManager, plugins: Iterable[Any]) -> None:
    """Enable names and ``(name, params)`` pairs, register plugin objects, in order."""
    if isinstance(plugins, (str, bytes)) or (
        isinstance(plugins, tuple) and len(plugins) == 2 and isinstance(plugins[1], Mapping)
    ):
        plugins = [plugins]
    for item in plugins:
        if isinstance(item, str):
            pm.enable(item)
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Mapping)
        ):
            pm.enable(item[0], **dict(item[1]))
        elif inspect.isclass(item) or inspect.isfunction(item):
            raise TypeError(
                f"run_fit plugins: {item!r} is a class or function; give an instance "
                f"(e.g. {getattr(item, '__name__', 'MyCallback')}()), or its import path "
                f"'package.module:{getattr(item, '__name__', 'Object')}' to have it built"
            )
        elif item is None or isinstance(item, (int, float, bool, bytes, Mapping, list)):
            raise TypeError(
                f"run_fit plugins: {item!r} is not a plugin; give a name ('early_stopping', "
                f"'evaluator@top1', 'package.module:Object'), a (name, params) pair or a plugin "
                f"object (a Callback instance or a module of @hookimpl functions)"
            )
        else:
            pm.enable_object(item, _object_name(pm, item))


def _object_name(pm: PluginManager, obj: Any) -> str:
    base = obj.__name__ if isinstance(obj, types.ModuleType) else type(obj).__name__
    name, count = base, 1
    while pm.get_plugin(name) is not None:
        count += 1
        name = f"{base}#{count}"
    return name


def run_fit(
    plugins: Iterable[Any] = (),
    *,
    epochs: int = 2,
    steps: int | None = None,
    test: bool = True,
    seed: int = 0,
    tmp_path: str | os.PathLike[str] | None = None,
    batches: int = 3,
    batch_size: int = 4,
    val_batches: int = 2,
    val_check_interval: int | None = None,
    resume_from: str | os.PathLike[str] | None = None,
    pm: PluginManager | None = None,
    eval_loss: bool = True,
    lr: float = 0.1,
    scheduler: Callable[[Any], Any] | None = None,
    **trainer_kwargs: Any,
) -> FitResult:
    """Run a real fit (then a standalone test) of a tiny model with ``plugins`` enabled.

    The model is ``Linear(4, 2)`` returning ``{"logits": [B, 2]}``; each batch is
    ``{"inputs": float [B, 4], "labels": long [B]}`` (label 1 when the inputs sum to more
    than 0), the same for the same ``seed``; the loss is cross-entropy through a
    :class:`~hookwise.LossModule`; the optimizer is SGD. Validation runs after every epoch on
    ``val_batches`` batches, and the test (``test=True``) on the same loader. Unless
    ``eval_loss=False``, a small plugin (registered first, as ``"run_fit.eval_loss"``) returns
    each evaluation pass's mean cross-entropy as ``loss``, so ``val/loss`` and ``test/loss`` are
    there for plugins that monitor a metric. Every hook call is recorded in
    :attr:`FitResult.calls`.

    ::

        result = run_fit(["my_plugin", ("early_stopping", {"monitor": "val/loss"})], epochs=3)
        assert result.metrics["val/loss"] < 1.0
        result.calls.assert_called("on_train_batch_end", times=9)

        # resume: the same tmp_path means the same output folder
        first = run_fit(["checkpoint"], epochs=1, tmp_path=tmp_path)
        second = run_fit(["checkpoint"], epochs=2, tmp_path=tmp_path, resume_from="last")

    :param plugins: each item a name (``"early_stopping"``, ``"evaluator@top1"``,
        ``"package.module:Object"``), a ``(name, params)`` pair, or a plugin object (a
        ``Callback`` instance, a module or object of ``@hookimpl`` functions), enabled in order.
    :param epochs: the number of epochs (``-1``: unlimited, with ``steps``).
    :param steps: stop after this many optimizer steps (training batches, without
        ``accumulate_grad_batches``; ``epochs`` still applies).
    :param test: run ``trainer.test(model)`` after the fit (``FitResult.test_metrics``).
    :param seed: seeds the data, the model's initial weights and the trainer.
    :param tmp_path: the folder to write in; the output folder is ``tmp_path / "run"`` (the
        ``run_fit`` fixture passes the test's ``tmp_path``). Default: a new folder under
        pytest's temporary base while pytest runs (pytest removes it with its old runs), else
        a new ``hookwise-run-fit-*`` folder in the system's temp folder (yours to remove).
    :param batches: training batches per epoch.
    :param batch_size: samples per batch.
    :param val_batches: batches in the validation (and test) loader.
    :param val_check_interval: also validate every this many steps.
    :param resume_from: a checkpoint path or ``"last"`` (``Trainer.fit(resume_from=...)``).
    :param pm: the plugin manager to use (e.g. ``hookwise_pm``). Default: an
        :class:`IsolatedPluginManager` that reads the installed entry points but no
        environment variable.
    :param eval_loss: add the evaluation-loss plugin described above.
    :param lr: the SGD learning rate.
    :param scheduler: ``scheduler(optimizer)`` returns an LR scheduler to fit with (e.g.
        ``lambda opt: torch.optim.lr_scheduler.StepLR(opt, 1, 0.5)``).
    :param trainer_kwargs: passed on to :class:`~hookwise.Trainer` (``device``, ``output_dir``,
        ``check_val_every_n_epoch``, ``callbacks``, ``scheduler_interval``, ...), overriding
        ``run_fit``'s choices.
    :returns: a :class:`FitResult`.
    :raises: whatever the fit raises; hookwise adds notes naming the plugin, the hook and the
        position (pytest prints them).
    """
    from hookwise.trainer import Trainer

    for label, value in (("batches", batches), ("batch_size", batch_size)):
        if value < 1:
            raise ValueError(f"run_fit: {label} must be at least 1, got {value}")
    if tmp_path is None and "output_dir" not in trainer_kwargs:
        tmp_path = _new_temp_folder()
    manager = pm if pm is not None else IsolatedPluginManager(entry_points=True)
    recorder = HookRecorder().attach(manager)
    if eval_loss and manager.get_plugin(EVAL_LOSS_PLUGIN) is None:
        manager.register(EvalLoss(), EVAL_LOSS_PLUGIN)
    _add_plugins(manager, plugins)

    parts = _tiny_parts(seed, batches, batch_size, val_batches, lr)
    options: dict[str, Any] = {
        "device": "cpu",
        "output_dir": Path(tmp_path) / "run" if tmp_path is not None else None,
        "train_dataloader": parts["train"],
        "test_dataloader": [parts["val"]],
        "train_data_connector": parts["connector"],
        "num_epochs": epochs,
        "num_steps": -1 if steps is None else steps,
        "check_val_every_n_epoch": 1,
        "val_check_interval": val_check_interval,
        "seed": seed,
    }
    options.update(trainer_kwargs)
    trainer = Trainer(plugins=manager, **options)
    model = parts["model"]
    optimizer = parts["optimizer"]
    schedulers = [scheduler(optimizer)] if scheduler is not None else None
    fit_metrics = trainer.fit(model, optimizer, schedulers, parts["loss"], resume_from=resume_from)
    test_metrics = trainer.test(model) if test else {}
    return FitResult(
        metrics=trainer.metrics,
        test_metrics=test_metrics,
        fit_metrics=fit_metrics,
        calls=recorder,
        output_dir=trainer.output_dir,
        model=model,
        trainer=trainer,
    )
