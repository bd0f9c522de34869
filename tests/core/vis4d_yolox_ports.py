"""vis4d 0.1.2's three YOLOX callbacks, ported to hookwise by changing their imports only.

vis4d is not a test dependency (its install pulls torchvision and heavy packages), so these
follow the behaviour of ``vis4d/engine/callbacks/yolox_callbacks.py`` (release 0.1.2) as the
project's reference describes it, with vis4d's names supplied here where hookwise has none:
``DataPipe`` (a ``ConcatDataset`` of datasets), ``YOLOXHeadLoss`` and ``l1_loss`` (stand-ins
with the attribute and signature the callback uses) and the data keys ``K``. The callbacks'
bodies use only what vis4d's trainer offered (``trainer_state["train_module"]`` with
``train_dataloader`` and ``check_val_every_n_epoch``, ``trainer_state["train_engine"]``,
``loss_module.losses``, the batch mutated in place before the forward pass).
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from typing import Any

import torch
import torch.nn.functional as F
from hookwise import Callback, LossModule, TrainerState
from hookwise.distributed import broadcast, get_rank, get_world_size, synchronize
from torch import nn
from torch.nn.modules.batchnorm import _NormBase
from torch.utils.data import ConcatDataset, DataLoader

logger = logging.getLogger("vis4d.common.logging")


class K:
    """vis4d's ``CommonKeys`` used by the callbacks."""

    images = "images"
    input_hw = "input_hw"
    boxes2d = "boxes2d"


class DataPipe(ConcatDataset[Any]):
    """vis4d's ``DataPipe``: the datasets, without the strong augmentations' wrapper."""


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """vis4d's ``l1_loss``."""
    return (pred - target).abs().mean()


class YOLOXHeadLoss(nn.Module):
    """Stand-in for vis4d's ``YOLOXHeadLoss``: its L1 term is off until ``loss_l1`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.loss_l1: Any = None

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        losses = {"cls": F.cross_entropy(logits, labels)}
        if self.loss_l1 is not None:
            losses["l1"] = self.loss_l1(logits.softmax(-1).max(-1).values, torch.ones_like(labels))
        return losses


class YOLOXModeSwitchCallback(Callback):
    """Switches YOLOX training to its last mode at ``switch_epoch``: no strong augmentations,
    the L1 loss on, validation every epoch."""

    def __init__(self, *args: Any, switch_epoch: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.switch_epoch = switch_epoch
        self.switched = False

    def on_train_epoch_end(
        self, trainer_state: TrainerState, model: nn.Module, loss_module: LossModule
    ) -> None:
        if trainer_state["current_epoch"] < self.switch_epoch - 1 or self.switched:
            return
        head_loss = next(
            (d["loss"] for d in loss_module.losses if isinstance(d["loss"], YOLOXHeadLoss)), None
        )
        logger.info("Switching YOLOX training mode starting next training epoch.")
        if head_loss is not None:
            head_loss.loss_l1 = l1_loss
        else:
            logger.warning("YOLOXHeadLoss should be in LossModule.")
        dataloader = trainer_state["train_dataloader"]
        assert dataloader is not None
        new_dataloader = DataLoader(
            DataPipe(dataloader.dataset.datasets),  # type: ignore[attr-defined]
            batch_size=dataloader.batch_size,
            num_workers=dataloader.num_workers,
            collate_fn=dataloader.collate_fn,
            sampler=dataloader.sampler,
            persistent_workers=dataloader.persistent_workers,
            pin_memory=dataloader.pin_memory,
        )
        train_module = trainer_state["train_module"]
        train_module.check_val_every_n_epoch = 1
        if trainer_state["train_engine"] == "vis4d":
            train_module.train_dataloader = new_dataloader
        elif trainer_state["train_engine"] == "pl":
            train_module.datamodule.train_dataloader = lambda: new_dataloader
            train_module.reload_dataloaders_every_n_epochs = self.switch_epoch
        else:
            raise ValueError(f"Unsupported training engine {trainer_state['train_engine']}.")
        self.switched = True


def get_norm_states(module: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The state of every normalisation layer of ``module``, as ``"name.key"`` -> tensor."""
    states: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, child in module.named_modules():
        if isinstance(child, _NormBase):
            for key, value in child.state_dict().items():
                states[f"{name}.{key}"] = value
    return states


class YOLOXSyncNormCallback(Callback):
    """Averages the normalisation layers' states across processes before each evaluation."""

    def on_test_epoch_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        logger.info("Synced norm states across all processes.")
        if get_world_size() == 1:
            return
        states = get_norm_states(model)
        if not states:
            return
        for value in states.values():
            if value.is_floating_point():
                torch.distributed.all_reduce(value)
                value /= get_world_size()
        model.load_state_dict(states, strict=False)


class YOLOXSyncRandomResizeCallback(Callback):
    """Resizes each training batch (images, their size, boxes) to a size drawn on rank 0 every
    ``interval`` steps, in place, before the forward pass."""

    def __init__(
        self, *args: Any, size_list: list[tuple[int, int]], interval: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.size_list = size_list
        self.interval = interval
        self.random_shape = size_list[-1]

    def _get_random_shape(self, device: torch.device) -> tuple[int, int]:
        shape = torch.zeros(2, dtype=torch.int).to(device)
        if get_rank() == 0:
            drawn = random.choice(self.size_list)
            shape[0], shape[1] = drawn[0], drawn[1]
        synchronize()
        shape = broadcast(shape, 0)
        return (int(shape[0].item()), int(shape[1].item()))

    def on_train_batch_start(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: LossModule,
        batch: Any,
        batch_idx: int,
    ) -> None:
        batches = batch if isinstance(batch, list) else [batch]
        if (trainer_state["global_step"] + 1) % self.interval == 0:
            self.random_shape = self._get_random_shape(batches[0][K.images].device)
        for b in batches:
            scale_y = self.random_shape[0] / b[K.images].shape[-2]
            scale_x = self.random_shape[1] / b[K.images].shape[-1]
            if scale_y == 1 and scale_x == 1:
                return  # vis4d returns here (not continue)
            b[K.images] = F.interpolate(
                b[K.images], size=self.random_shape, mode="bilinear", align_corners=False
            )
            b[K.input_hw] = [self.random_shape for _ in range(b[K.images].size(0))]
            for boxes in b[K.boxes2d]:
                boxes[..., ::2] = boxes[..., ::2] * scale_x
                boxes[..., 1::2] = boxes[..., 1::2] * scale_y
