"""Hook specifications: the reference for every hook hookwise calls.

Each function below is a pluggy *hookspec*. Its docstring is the reference for the hook: when
the trainer calls it, what each argument holds and what a return value means. The first eight
hooks are the methods of vis4d's engine ``Callback`` (v0.1.2), with the same argument names in
the same order; the others are hookwise extensions.

Writing an implementation
-------------------------
Either subclass :class:`hookwise.Callback` and override the methods you need (no decorator is
required), or decorate plain functions with :data:`hookimpl` and ask only for the arguments you
use::

    from hookwise import hookimpl

    @hookimpl
    def on_train_batch_end(trainer_state, batch_idx):
        ...

Arguments
---------
``@hookimpl`` functions follow pluggy's rules (pluggy 1.5 to 1.7): parameters are matched by
name and must be arguments of the hook; a parameter with a default is passed the call's value
when the hook is called with that argument (pluggy 1.7; 1.5 and 1.6 leave the default), and
keeps its default otherwise. A hook called without one of its arguments warns (pluggy's
``UserWarning``) and raises ``pluggy.HookCallError`` if an implementation needs it; a keyword
the hook does not have is ignored. No hookspec argument has a default.

``Callback`` methods are called exactly as vis4d 0.1.2's trainer calls them, on every call path
(``pm.hook.<name>(...)`` included): the batch hooks (:data:`KEYWORD_HOOKS`) by keyword, with
every argument of the hook the method names (all of them for ``**kwargs``; ``dataloader_idx``
is passed although the base class gives it a default); every other hook positionally, in the
hook's argument order, as many arguments as the method takes (all of them for ``*args``), so
the parameter names are free (``def on_test_epoch_end(self, state, net)``).

Order
-----
Implementations run in the order their plugins were enabled (vis4d runs its callback list in
order; pluggy's own order is the reverse), on every call path. ``@hookimpl(tryfirst=True)`` and
``trylast=True`` move an implementation to the front or back, and wrappers (``wrapper=True``,
``hookwrapper=True``) work as in pluggy, the first enabled outermost. Named constraints put an
implementation before or after other plugins': ``@hookimpl(after=["ema"])``, or for every hook
of a plugin the attributes ``run_before``/``run_after`` (on the class, or as the config keys
``run_before``/``run_after`` of a plugin). ``PluginManager.hook_order(hook)`` shows the result
and why.

Triggers
--------
``@hookimpl(every_n_steps=50)``, ``every_n_epochs=2``, ``on_ranks="zero"`` and
``stages=("val",)`` say when an implementation runs on the trainer's call path; they are
counted from the trainer's state (``global_step``, ``current_epoch``), so they fire at the same
steps after a resume. See :class:`HookimplMarker`.

Versions
--------
The set of hooks and their arguments is versioned (:data:`HOOKS_VERSION`), as are the trainer
API for plugins (:data:`hookwise.TRAINER_API_VERSION`) and the checkpoint format
(:data:`hookwise.checkpointing.FORMAT_VERSION`); checkpoints record all three. A hook or an
argument is removed or changes meaning only in a new version, after a release in which using it
warns (``DeprecationWarning``); new hooks and new ``trainer_state`` keys come without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pluggy

from hookwise.markers import HookimplMarker

if TYPE_CHECKING:
    from torch import Tensor, nn
    from torch.optim import Optimizer

    from hookwise.state import TrainerState

PROJECT_NAME = "hookwise"

#: The version of the hook specifications (the hooks, their arguments and their meaning).
HOOKS_VERSION = 1

#: Marks a hook specification of the ``hookwise`` project.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)

#: Marks a hook implementation: ``@hookimpl``, ``@hookimpl(tryfirst=True)``,
#: ``@hookimpl(after=["ema"], every_n_steps=50)``, ...
hookimpl = HookimplMarker(PROJECT_NAME)

#: What the log-returning hooks return: names to numbers or 0-d tensors. A ``Mapping`` (read
#: only, so covariant): an implementation typed ``-> dict[str, float]`` fits.
MetricLogs = Mapping[str, "float | int | Tensor"]

# --------------------------------------------------------------------------------------------
# vis4d hooks
# --------------------------------------------------------------------------------------------


@hookspec
def setup() -> None:
    """Prepare the plugin. Called once per process, before the first fit or test.

    In vis4d the experiment runner calls ``setup()`` on every callback after the process group
    and the model are ready, before resuming. hookwise's trainer does the same, once, at the
    start of the first :meth:`~hookwise.Trainer.fit` or :meth:`~hookwise.Trainer.test`.

    Takes no arguments. The return value is ignored.

    vis4d hook.
    """


@hookspec
def on_train_epoch_start(trainer_state: TrainerState, model: nn.Module, loss_module: Any) -> None:
    """Called at the beginning of every training epoch, before the first batch is loaded.

    :param trainer_state: the trainer's state (a fresh read-only dict, see
        :class:`hookwise.TrainerState`).
    :param model: the model being trained (DDP-wrapped in a distributed run).
    :param loss_module: the loss module given to ``fit``.

    The return value is ignored.

    vis4d hook.
    """


@hookspec
def on_train_batch_start(
    trainer_state: TrainerState, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int
) -> None:
    """Called before the forward pass of every training batch.

    :param trainer_state: the trainer's state.
    :param model: the model being trained.
    :param loss_module: the loss module.
    :param batch: the batch, already on the device. It is the object passed on to the model's
        data connector, so changing it in place changes what the model sees.
    :param batch_idx: the index of the batch in the current epoch (0-based).

    The return value is ignored.

    vis4d hook.
    """


@hookspec
def on_train_batch_end(
    trainer_state: TrainerState,
    model: nn.Module,
    loss_module: Any,
    outputs: Any,
    batch: Any,
    batch_idx: int,
) -> MetricLogs | None:
    """Called after the optimizer step of every training batch.

    ``trainer_state["metrics"]`` holds this step's loss metrics: floats as in vis4d, read off
    the device only when first read (:class:`~hookwise.values.LazyFloats`);
    ``hookwise.values.tensors(trainer_state["metrics"])`` gives them as tensors, unread.

    :param trainer_state: the trainer's state, with ``metrics``.
    :param model: the model being trained.
    :param loss_module: the loss module.
    :param outputs: the model's output for this batch.
    :param batch: the batch.
    :param batch_idx: the index of the batch in the current epoch.
    :returns: optionally a mapping of names to numbers (or 0-d tensors); the trainer logs each
        as ``train/<name>`` and keeps the latest value in :attr:`hookwise.Trainer.metrics`.

    vis4d hook.
    """


@hookspec
def on_train_epoch_end(
    trainer_state: TrainerState, model: nn.Module, loss_module: Any
) -> MetricLogs | None:
    """Called at the end of every training epoch, before that epoch's validation.

    ``trainer_state`` has ``optimizers`` and ``lr_schedulers``. The hook runs also when
    ``num_steps`` or a stop request ends the epoch early (vis4d skipped it then).

    :param trainer_state: the trainer's state, with ``optimizers`` and ``lr_schedulers``.
    :param model: the model being trained.
    :param loss_module: the loss module.
    :returns: optionally a mapping of names to numbers, logged as ``train/<name>`` (a hookwise
        extension; vis4d ignores the return value).

    vis4d hook.
    """


@hookspec
def on_test_epoch_start(trainer_state: TrainerState, model: nn.Module) -> None:
    """Called once before an evaluation pass (validation or test) over all test loaders.

    :param trainer_state: the trainer's state.
    :param model: the model, in eval mode.

    The return value is ignored.

    vis4d hook.
    """


@hookspec
def on_test_batch_end(
    trainer_state: TrainerState,
    model: nn.Module,
    outputs: Any,
    batch: Any,
    batch_idx: int,
    dataloader_idx: int,
) -> None:
    """Called after the forward pass of every evaluation batch.

    :param trainer_state: the trainer's state.
    :param model: the model, in eval mode, under ``torch.no_grad()``.
    :param outputs: the model's output for this batch.
    :param batch: the batch.
    :param batch_idx: the index of the batch in its loader.
    :param dataloader_idx: the index of the loader in the trainer's ``test_dataloader`` list.

    The return value is ignored.

    vis4d hook.
    """


@hookspec
def on_test_epoch_end(trainer_state: TrainerState, model: nn.Module) -> MetricLogs | None:
    """Called once after an evaluation pass over all test loaders.

    :param trainer_state: the trainer's state.
    :param model: the model.
    :returns: optionally a mapping of names to numbers, logged as ``val/<name>`` after a
        validation pass and ``test/<name>`` after a standalone test.

    vis4d hook.
    """


# --------------------------------------------------------------------------------------------
# hookwise extensions
# --------------------------------------------------------------------------------------------


@hookspec
def on_fit_start(trainer_state: TrainerState, model: nn.Module) -> None:
    """Called once per fit, after ``setup`` and after a checkpoint was resumed.

    :param trainer_state: the trainer's state (``current_epoch`` and ``global_step`` show where
        a resumed run continues).
    :param model: the model.

    The return value is ignored.

    Extension of vis4d's hook set.
    """


@hookspec
def on_fit_end(trainer_state: TrainerState, model: nn.Module) -> None:
    """Called once at the end of every fit: after the last epoch, after a stop request, and
    after an interrupt (SIGINT/SIGTERM). Not called when a plugin error ends the run; see
    :func:`on_exception`.

    :param trainer_state: the trainer's state.
    :param model: the model.

    The return value is ignored.

    Extension of vis4d's hook set.
    """


@hookspec
def on_before_optimizer_step(
    trainer_state: TrainerState, model: nn.Module, optimizer: Optimizer
) -> None:
    """Called after ``loss.backward()`` and before each ``optimizer.step()``.

    The place for gradient clipping and gradient monitoring. Called once per optimizer, once
    per optimizer step: with ``accumulate_grad_batches`` once per accumulation window, after
    its last backward. The gradients are unscaled (``precision="fp16"``) and already clipped
    by ``gradient_clip_val`` when it is set; ``global_step`` is the steps done before this one.

    :param trainer_state: the trainer's state, with this step's ``metrics``.
    :param model: the model, gradients populated.
    :param optimizer: the optimizer about to step.

    The return value is ignored.

    Extension of vis4d's hook set.
    """


@hookspec
def on_validation_end(
    trainer_state: TrainerState, model: nn.Module, metrics: Mapping[str, float]
) -> None:
    """Called after every evaluation pass, once its metrics are merged.

    vis4d's ``on_train_epoch_end`` runs before validation, so plugins that act on validation
    results (early stopping, keep-the-best checkpoints) act here.

    :param trainer_state: the trainer's state.
    :param model: the model.
    :param metrics: this pass's metrics, prefixed: ``val/<name>`` after a validation pass
        (epoch or step based), ``test/<name>`` after a standalone test. Values are floats.

    The return value is ignored.

    Extension of vis4d's hook set.
    """


@hookspec
def on_exception(
    trainer_state: TrainerState, model: nn.Module, exception: BaseException, fatal: bool
) -> None:
    """Called when the training loop or a plugin raises.

    :param trainer_state: the trainer's state at the failure.
    :param model: the model.
    :param exception: the exception (a plugin's exception carries a note naming the plugin
        and the hook).
    :param fatal: ``True`` when the run will end (the checkpoint plugin writes an emergency
        checkpoint then); ``False`` when a plugin's error policy tolerates the failure.

    The return value is ignored. An exception raised here is reported and does not hide the
    original one.

    Extension of vis4d's hook set.
    """


#: The hooks whose ``Callback`` methods vis4d's trainer calls by keyword (the batch hooks); a
#: ``Callback``'s other hook methods are called positionally.
KEYWORD_HOOKS: tuple[str, ...] = ("on_train_batch_start", "on_train_batch_end", "on_test_batch_end")

#: The vis4d hooks, in the order of the vis4d ``Callback`` reference.
VIS4D_HOOKS: tuple[str, ...] = (
    "setup",
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_train_epoch_end",
    "on_test_epoch_start",
    "on_test_batch_end",
    "on_test_epoch_end",
)
#: The hooks hookwise adds to vis4d's set.
EXTENSION_HOOKS: tuple[str, ...] = (
    "on_fit_start",
    "on_fit_end",
    "on_before_optimizer_step",
    "on_validation_end",
    "on_exception",
)
#: Every hook, vis4d's first.
HOOK_NAMES: tuple[str, ...] = VIS4D_HOOKS + EXTENSION_HOOKS
