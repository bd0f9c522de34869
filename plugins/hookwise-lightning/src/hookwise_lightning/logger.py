"""``trainer.logger``: a Lightning ``Logger`` that writes into hookwise's logs."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lightning.pytorch.loggers import Logger

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.errors import UnsupportedLightningFeature

if TYPE_CHECKING:
    from hookwise_lightning.context import RunContext

#: The logger's ``name``: Lightning's callbacks put their files under
#: ``<output_dir>/<name>/`` (``ModelCheckpoint``: ``<output_dir>/lightning/checkpoints``), apart
#: from hookwise's own checkpoint plugin.
NAME = "lightning"


class HookwiseLogger(Logger):
    """The one logger of the adapted callbacks' ``trainer``.

    ``log_metrics`` logs each value as ``pl_module.log`` does (hookwise's naming rule: the
    phase's ``train/``, ``val/`` or ``test/`` prefix), at once, from any hook; hookwise's
    logging plugin, ``Trainer.metrics`` and ``trainer.callback_metrics`` see it. ``step`` is
    hookwise's own ``global_step``. Folders are under hookwise's output folder.
    """

    def __init__(self, context: RunContext) -> None:
        super().__init__()
        self._context = context

    @property
    def name(self) -> str:
        return NAME

    @property
    def version(self) -> str:
        return ""

    @property
    def save_dir(self) -> str:
        return str(api.output_dir(self._context.trainer))

    @property
    def root_dir(self) -> str:
        return str(api.output_dir(self._context.trainer) / NAME)

    @property
    def log_dir(self) -> str:
        return self.root_dir

    @property
    def experiment(self) -> Any:
        raise UnsupportedLightningFeature(
            "trainer.logger.experiment",
            ("log_metrics", "name", "version", "save_dir", "root_dir", "log_dir"),
            "hookwise's logs have no backend object (TensorBoard and the metrics file are "
            "written by its logging plugin)",
        )

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        context = self._context
        for name, value in metrics.items():
            context.log_direct(name, value)

    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        raise UnsupportedLightningFeature(
            "trainer.logger.log_hyperparams",
            reason="hookwise records no hyperparameters through loggers; its run manifest "
            "records the resolved config",
        )


__all__ = ["NAME", "HookwiseLogger"]
