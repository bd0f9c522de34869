"""``pl_module`` as a Lightning callback sees it: the model given to hookwise's ``fit``, with
the ``LightningModule`` methods callbacks use.

hookwise has no ``LightningModule``: the model plays its part. The view passes every other
attribute through to the model (``parameters()``, ``state_dict()``, submodules, ``eval()``,
calling it), and reports the model's class, so ``isinstance(pl_module, type(model))`` holds.
A ``LightningModule`` attribute the model does not have raises
:class:`~hookwise_lightning.UnsupportedLightningFeature` naming it.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from hookwise_lightning import _hookwise_api as api
from hookwise_lightning.errors import UnsupportedLightningFeature

if TYPE_CHECKING:
    from torch import nn

    from hookwise_lightning.context import RunContext
    from hookwise_lightning.trainer_view import LightningTrainerView

#: The ``LightningModule`` attributes the view offers (besides the model's own).
OFFERED = frozenset(
    {
        "automatic_optimization", "current_epoch", "device", "global_rank", "global_step",
        "local_rank", "log", "log_dict", "logger", "loggers", "lr_schedulers", "optimizers",
        "print", "trainer",
    }
)  # fmt: skip


class LightningModuleView:
    """The ``pl_module`` argument of an adapted Lightning callback's hooks."""

    def __init__(self, model: nn.Module, context: RunContext) -> None:
        object.__setattr__(self, "_hw_model", model)
        object.__setattr__(self, "_hw_context", context)

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(object.__getattribute__(self, "_hw_model"))

    def __getattr__(self, name: str) -> Any:
        model = object.__getattribute__(self, "_hw_model")
        try:
            return getattr(model, name)
        except AttributeError:
            pass
        raise UnsupportedLightningFeature(
            f"pl_module.{name}",
            OFFERED,
            f"the model ({type(model).__qualname__}) has no attribute {name!r}, and hookwise "
            f"has no LightningModule to provide it",
        )

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_hw_model"), name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return object.__getattribute__(self, "_hw_model")(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LightningModuleView({object.__getattribute__(self, '_hw_model')!r})"

    @property
    def _context(self) -> RunContext:
        context: RunContext = object.__getattribute__(self, "_hw_context")
        return context

    # -- the LightningModule API -----------------------------------------------------------------

    @property
    def trainer(self) -> LightningTrainerView:
        return self._context.trainer_view

    @property
    def current_epoch(self) -> int:
        return api.current_epoch(self._context.trainer)

    @property
    def global_step(self) -> int:
        return api.global_step(self._context.trainer)

    @property
    def device(self) -> torch.device:
        return api.device(self._context.trainer)

    @property
    def global_rank(self) -> int:
        return api.rank()

    @property
    def local_rank(self) -> int:
        return api.local_rank()

    @property
    def automatic_optimization(self) -> bool:
        """Always ``True``: hookwise's trainer runs backward and the optimizer steps."""
        return True

    @property
    def logger(self) -> Any:
        return self._context.logger

    @property
    def loggers(self) -> list[Any]:
        return [self._context.logger]

    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """The torch optimizers given to ``fit`` (one, or a list), not Lightning wrappers."""
        found = api.optimizers(self._context.trainer)
        return found[0] if len(found) == 1 else found

    def lr_schedulers(self) -> Any:
        """The schedulers given to ``fit``: ``None``, one, or a list (as Lightning returns)."""
        found = api.lr_schedulers(self._context.trainer)
        if not found:
            return None
        return found[0] if len(found) == 1 else found

    def print(self, *args: Any, **kwargs: Any) -> None:
        if api.rank() == 0:
            builtins.print(*args, **kwargs)

    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: Any = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Log ``value`` into hookwise's logs, named by hookwise's rule (see
        :mod:`hookwise_lightning.logs`)."""
        if enable_graph:
            raise UnsupportedLightningFeature(
                f"pl_module.log({name!r}, enable_graph=True)",
                reason="hookwise logs detached values",
            )
        if (sync_dist or sync_dist_group is not None) and api.world_size() > 1:
            raise UnsupportedLightningFeature(
                f"pl_module.log({name!r}, sync_dist=True)",
                reason="hookwise does not reduce logged values across ranks; reduce the value "
                "in the callback",
            )
        if rank_zero_only and api.rank() != 0:
            return
        context = self._context
        index = context.dataloader_idx
        if add_dataloader_idx and index is not None and len(api.eval_batches(context.trainer)) > 1:
            name = f"{name}/dataloader_idx_{index}"
        options = {
            "prog_bar": prog_bar,
            "logger": logger,
            "on_step": on_step,
            "on_epoch": on_epoch,
            "reduce_fx": reduce_fx,
            "batch_size": batch_size,
        }
        context.log(name, value, options)

    def log_dict(self, dictionary: Mapping[str, Any], **options: Any) -> None:
        """:meth:`log` each entry, with the same options."""
        for name, value in dictionary.items():
            self.log(name, value, **options)


__all__ = ["OFFERED", "LightningModuleView"]
