"""``TrainerState``: what every hook receives as ``trainer_state``.

A ``TypedDict`` with ``total=False``, as in vis4d: the trainer builds a fresh plain ``dict``
for every hook call, and nothing validates it at run time (tests may build partial ones).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from torch import Tensor
    from torch.optim import Optimizer
    from torch.utils.data import DataLoader


class TrainerState(TypedDict, total=False):
    """The trainer's state as hooks see it.

    ``current_epoch``: the 0-based epoch. ``num_epochs``: the number of epochs, -1 for
    unlimited. ``global_step``: training batches done so far (one per batch, however many
    optimizers). ``num_steps``: the step limit, -1 for unlimited. ``train_dataloader`` and
    ``num_train_batches`` (``None`` when the loader has no length). ``test_dataloader`` (a list)
    and ``num_test_batches`` (one count per loader). ``optimizers`` and ``lr_schedulers``: in
    ``on_train_epoch_end``. ``metrics``: this step's loss metrics as detached 0-d tensors, in
    ``on_train_batch_end`` and ``on_before_optimizer_step``. ``train_module``: the
    :class:`~hookwise.Trainer` (call ``request_stop(reason)`` on it to stop training).
    ``train_engine``: ``"hookwise"``.
    """

    current_epoch: int
    num_epochs: int
    global_step: int
    num_steps: int
    train_dataloader: DataLoader[Any] | None
    num_train_batches: int | None
    test_dataloader: list[DataLoader[Any]] | None
    num_test_batches: list[int] | None
    optimizers: list[Optimizer]
    lr_schedulers: list[Any]
    metrics: dict[str, Tensor]
    train_module: Any
    train_engine: str
