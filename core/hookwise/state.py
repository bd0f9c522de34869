"""``TrainerState``: what every hook receives as ``trainer_state``.

A ``TypedDict`` whose required keys are the ones hookwise's trainer sets for every hook call,
and whose ``NotRequired`` keys (``optimizers``, ``lr_schedulers``, ``metrics``) are set only
for some hooks: a type checker accepts ``trainer_state["global_step"]`` (an ``int``), asks
for ``"metrics" in trainer_state`` (or ``.get``) before ``trainer_state["metrics"]`` (pyright
does; mypy does not check that), and rejects a misspelled key. (vis4d marks ``train_module``
and ``train_engine`` not required too; hookwise always sets them.) At run time a hook receives
a read-only ``dict`` (:class:`~hookwise.readonly.ReadOnlyState`, DESIGN decision 25): the trainer
builds one for every hook call, shared by its implementations, and a write raises
:class:`~hookwise.errors.StateWriteError` naming the plugin (``dict(trainer_state)`` is a copy
to change). Nothing validates it: tests may build partial ones, plain ``dict`` objects too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from torch.optim import Optimizer
    from torch.utils.data import DataLoader
    from typing_extensions import NotRequired

    from hookwise.api import Stage, TrainerAPI


class TrainerState(TypedDict):
    """The trainer's state as hooks see it.

    ``current_epoch``: the 0-based epoch. ``num_epochs``: the number of epochs, -1 for
    unlimited. ``global_step``: optimizer steps done so far (one per batch, one per
    accumulation window with ``accumulate_grad_batches``, however many optimizers).
    ``num_steps``: the step limit, -1 for unlimited. ``train_dataloader`` and
    ``num_train_batches`` (``None`` when the loader has no length). ``test_dataloader`` (a list)
    and ``num_test_batches`` (one count per loader). ``optimizers`` and ``lr_schedulers``: in
    ``on_train_epoch_end``. ``metrics``: this step's loss metrics, floats as in vis4d, read
    off the device on first read (:class:`~hookwise.values.LazyFloats`;
    ``hookwise.values.tensors`` gives the tensors unread), in ``on_train_batch_end`` and
    ``on_before_optimizer_step``. ``stage``: ``"train"`` (fit and
    its training hooks), ``"val"`` (a validation pass during fit) or ``"test"`` (a standalone
    test); the ``stages=`` trigger reads it. ``trainer``: the trainer API for plugins
    (:class:`~hookwise.TrainerAPI`: stop, save a checkpoint, log, output folder, metrics,
    rank, settings). ``train_module``: the :class:`~hookwise.Trainer` itself, for vis4d code.
    ``train_engine``: ``"vis4d"``: the trainer offers what vis4d 0.1.2's ``Trainer`` offered
    (``train_dataloader`` and ``check_val_every_n_epoch`` re-read every epoch, ``output_dir``,
    ``writer``), so vis4d code that branches on the engine (its YOLOX callbacks) takes
    vis4d's branch; ``isinstance(train_module, hookwise.Trainer)`` tells hookwise apart.
    """

    current_epoch: int
    num_epochs: int
    global_step: int
    num_steps: int
    train_dataloader: DataLoader[Any] | None
    num_train_batches: int | None
    test_dataloader: list[DataLoader[Any]] | None
    num_test_batches: list[int] | None
    optimizers: NotRequired[list[Optimizer]]
    lr_schedulers: NotRequired[list[Any]]
    metrics: NotRequired[dict[str, float]]
    #: ``True`` during the sanity pass before training (DESIGN decision 24), absent otherwise:
    #: a plugin that writes or decides after validation leaves that pass alone.
    sanity_check: NotRequired[bool]
    #: ``True`` in ``on_train_batch_start``/``on_train_batch_end`` calls inside an accumulation
    #: window (a batch start that is not the window's first, a batch end that is not its
    #: last: no optimizer step comes between), absent otherwise; step triggers skip them.
    accumulating: NotRequired[bool]
    stage: Stage
    trainer: TrainerAPI
    train_module: Any
    train_engine: str
