"""How training batches become optimizer steps: mixed precision, gradient accumulation,
gradient clipping and ``torch.compile`` (the settings of :mod:`hookwise._training_settings`).

Per batch, the fit loop runs the forward pass and the loss under :meth:`Optimization.autocast`
and calls :meth:`Optimization.backward` (the loss divided by ``accumulate_grad_batches``,
scaled by the gradient scaler under ``fp16``). At the end of each accumulation window (every
``accumulate_grad_batches`` batches, and at an epoch's last batch), for each optimizer:
:meth:`Optimization.unscale_and_clip`, ``on_before_optimizer_step``, :meth:`Optimization.step`;
then :meth:`Optimization.update` (the scaler's) once. Plugins see unscaled, clipped gradients
in ``on_before_optimizer_step``.

A checkpoint holds the gradient scaler's state (``"grad_scaler"``) and, when it is taken
inside an accumulation window (an explicit :meth:`~hookwise.Trainer.save_checkpoint` or an
emergency checkpoint; periodic ones come at optimizer steps), the gradients accumulated so
far (``"accumulated_grads"``), so that a resume continues the window exactly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from hookwise.distributed import unwrap_model
from hookwise.errors import CheckpointError, ConfigError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device) -> None:
    """Raise :class:`~hookwise.ConfigError` when ``device`` cannot run ``precision``."""
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"Trainer precision='fp16' needs a CUDA device (float16 training needs a gradient "
            f"scaler, which hookwise runs on CUDA); the trainer's device is {device}. Use "
            f"precision='bf16' on the CPU, or device='cuda'."
        )
    if precision == "bf16" and not torch.amp.is_autocast_available(device.type):
        raise ConfigError(
            f"Trainer precision='bf16' needs a device with autocast (cpu or cuda); the "
            f"trainer's device is {device}. Use precision='32' there."
        )


class Optimization:
    """The training features of one trainer (see the module docstring).

    :param settings: the trainer's checked settings.
    :param device: the trainer's device.
    """

    def __init__(self, settings: Mapping[str, Any], device: torch.device) -> None:
        self.precision: str = settings["precision"]
        check_precision(self.precision, device)
        self.device_type = device.type
        self.accumulate: int = settings["accumulate_grad_batches"]
        self.clip_val: float | None = settings["gradient_clip_val"]
        self.clip_algorithm: str = settings["gradient_clip_algorithm"]
        self.compile: bool = settings["compile"]
        self.compile_kwargs: dict[str, Any] = dict(settings["compile_kwargs"])
        self._dtype = _DTYPES.get(self.precision)
        #: The gradient scaler under ``fp16`` (``None`` otherwise).
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler(self.device_type) if self.precision == "fp16" else None
        )

    @property
    def autocasting(self) -> bool:
        """Whether the forward pass runs under autocast (``bf16`` or ``fp16``)."""
        return self._dtype is not None

    @property
    def plain(self) -> bool:
        """Whether every feature is off (``"32"``, no accumulation, no clipping): then
        :meth:`backward` is ``total.backward()``, :meth:`step` is ``optimizer.step()`` and
        nothing else runs per step (the fit loop reads this once per epoch)."""
        return (
            self._dtype is None
            and self.scaler is None
            and self.accumulate == 1
            and self.clip_val is None
        )

    # -- per batch ----------------------------------------------------------------------------

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context of the forward pass and the loss: autocast, or nothing under ``"32"``."""
        if self._dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self._dtype)

    def backward(self, total: torch.Tensor) -> None:
        """Backward of ``total`` divided by the window's length, scaled under ``fp16``."""
        loss = total / self.accumulate if self.accumulate > 1 else total
        if self.scaler is not None:
            loss = self.scaler.scale(loss)
        loss.backward()  # type: ignore[no-untyped-call]

    # -- per optimizer step -------------------------------------------------------------------

    def unscale_and_clip(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscale ``optimizer``'s gradients (``fp16``) and clip them (``gradient_clip_val``)."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)
        if self.clip_val is None:
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.clip_algorithm == "norm":
            nn.utils.clip_grad_norm_(params, self.clip_val)
        else:
            nn.utils.clip_grad_value_(params, self.clip_val)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()`` (through the scaler under ``fp16``: skipped on inf/NaN)."""
        if self.scaler is not None:
            self.scaler.step(optimizer)
        else:
            optimizer.step()

    def update(self) -> None:
        """After every optimizer stepped: update the scaler's scale (``fp16``)."""
        if self.scaler is not None:
            self.scaler.update()

    # -- the model ----------------------------------------------------------------------------

    def compile_model(self, model: nn.Module) -> None:
        """``model.compile(**compile_kwargs)`` in place, once (``compile=True``); a DDP
        wrapper's module is compiled, not the wrapper."""
        target = unwrap_model(model)
        if self.compile and getattr(target, "_compiled_call_impl", None) is None:
            target.compile(**self.compile_kwargs)

    # -- checkpoints --------------------------------------------------------------------------

    def state(self, model: nn.Module, window_batches: int) -> dict[str, Any]:
        """The checkpoint entries: the scaler's state, and the accumulated gradients when a
        window is open (``window_batches > 0``)."""
        state: dict[str, Any] = {
            "grad_scaler": self.scaler.state_dict() if self.scaler is not None else None
        }
        if window_batches:
            state["accumulated_grads"] = dict(_gradients(model))
        return state

    def load(self, data: Mapping[str, Any], model: nn.Module, file: Any) -> None:
        """Restore the scaler's state and any accumulated gradients of a checkpoint."""
        saved = data.get("grad_scaler")
        if self.scaler is not None and saved:
            self.scaler.load_state_dict(saved)
        grads = data.get("accumulated_grads")
        if not grads:
            return
        params = dict(unwrap_model(model).named_parameters())
        unknown = sorted(set(grads) - set(params))
        if unknown:
            raise CheckpointError(
                f"checkpoint {str(file)!r} holds accumulated gradients for parameters the "
                f"model does not have: {', '.join(unknown)}"
            )
        for name, param in params.items():
            grad = grads.get(name)
            param.grad = None if grad is None else grad.to(param.device, param.dtype)


def _gradients(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    for name, param in unwrap_model(model).named_parameters():
        if param.grad is not None:
            yield name, param.grad.detach().clone()


__all__ = ["Optimization", "check_precision"]
