"""vis4d's model adapters: the model and its moving average, in one module."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from hookwise_ema.averaging import check_decay, copy_, ema_update_, warmup_decay


class ModelEMAAdapter(nn.Module):
    """Wrap ``model`` with an exponential moving average of its weights (vis4d's adapter).

    ``adapter.model`` is trained; ``adapter.ema_model`` is a copy (eval mode, no gradients)
    that :meth:`update` moves towards it: ``ema = decay * ema + (1 - decay) * model`` for every
    floating-point entry of the state dict (integer buffers are copied). In training mode, and
    when ``use_ema_during_test`` is false, the adapter runs ``model``; in eval mode it runs
    ``ema_model``. Both are in the adapter's state dict (``model.*`` and ``ema_model.*``), so a
    checkpoint holds them.

    The ``ema`` plugin calls :meth:`update` with the global step after every training batch
    when the trainer's model is an adapter. Without an adapter, the plugin keeps its own
    average (see :class:`~hookwise_ema.EMACallback`).

    :param model: the model to average.
    :param decay: the weight of the old average, in [0, 1].
    :param use_ema_during_test: run the averaged model in eval mode.
    :param device: where the averaged copy lives (default: with the model).
    """

    def __init__(
        self,
        model: nn.Module,
        decay: float = 0.9998,
        use_ema_during_test: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.decay = check_decay(decay, type(self).__name__)
        self.model = model
        self.ema_model = copy.deepcopy(model)
        self.ema_model.eval()
        self.ema_model.requires_grad_(False)
        self.use_ema_during_test = use_ema_during_test
        self.device = torch.device(device) if device is not None else None
        if self.device is not None:
            self.ema_model.to(device=self.device)

    def decay_at(self, steps: int) -> float:
        """The decay used by :meth:`update` at global step ``steps``."""
        return self.decay

    def update(self, steps: int) -> None:
        """Move the average towards the current weights (``steps``: the global step)."""
        ema_update_(self.ema_model.state_dict(), self.model.state_dict(), self.decay_at(steps))

    def set(self, model: nn.Module) -> None:
        """Copy ``model``'s weights into the average."""
        copy_(self.ema_model.state_dict(), model.state_dict())

    def train(self, mode: bool = True) -> ModelEMAAdapter:
        """Set the training mode; the averaged copy always stays in eval mode."""
        super().train(mode)
        self.ema_model.eval()
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run ``model`` while training (or without ``use_ema_during_test``), else the average."""
        if self.training or not self.use_ema_during_test:
            return self.model(*args, **kwargs)
        return self.ema_model(*args, **kwargs)


class ModelExpEMAAdapter(ModelEMAAdapter):
    """A :class:`ModelEMAAdapter` whose decay warms up (vis4d's, as in YOLOX).

    At global step ``s`` the decay is ``decay * (1 - exp(-(1 + s) / warmup_steps))``: small at
    first, so the average follows the fast-changing early weights, and ``decay`` later.

    :param model: the model to average.
    :param decay: the final decay, in [0, 1].
    :param warmup_steps: how many steps the warm-up takes (time constant), > 0.
    :param use_ema_during_test: run the averaged model in eval mode.
    :param device: where the averaged copy lives.
    """

    def __init__(
        self,
        model: nn.Module,
        decay: float = 0.9998,
        warmup_steps: int = 2000,
        use_ema_during_test: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps <= 0:
            raise ValueError(f"ModelExpEMAAdapter: warmup_steps must be > 0, got {warmup_steps!r}")
        super().__init__(model, decay, use_ema_during_test, device)
        self.warmup_steps = warmup_steps

    def decay_at(self, steps: int) -> float:
        """``decay * (1 - exp(-(1 + steps) / warmup_steps))``."""
        return warmup_decay(self.decay, steps, self.warmup_steps)
