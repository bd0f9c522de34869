"""Which Lightning callback hooks the adapter calls, from which hookwise hook, and which it
refuses (a callback overriding one is refused when it is enabled, never silently skipped)."""

from __future__ import annotations

import inspect
from typing import Any

from hookwise.errors import ConfigError

#: Lightning hook -> the hookwise hooks the adapter implements to call it.
MAPPED: dict[str, tuple[str, ...]] = {
    "setup": ("on_fit_start", "on_test_epoch_start"),
    "teardown": ("on_fit_end", "on_validation_end"),
    "on_fit_start": ("on_fit_start",),
    "on_fit_end": ("on_fit_end",),
    "on_train_start": ("on_train_epoch_start",),
    "on_train_end": ("on_fit_end",),
    "on_train_epoch_start": ("on_train_epoch_start",),
    "on_train_epoch_end": ("on_train_epoch_end", "on_validation_end"),
    "on_train_batch_start": ("on_train_batch_start",),
    "on_train_batch_end": ("on_train_batch_end",),
    "on_after_backward": ("on_before_optimizer_step",),
    "on_before_optimizer_step": ("on_before_optimizer_step",),
    "on_validation_start": ("on_test_epoch_start",),
    "on_validation_epoch_start": ("on_test_epoch_start",),
    "on_validation_batch_end": ("on_test_batch_end",),
    "on_validation_epoch_end": ("on_test_epoch_end",),
    "on_validation_end": ("on_validation_end",),
    "on_test_start": ("on_test_epoch_start",),
    "on_test_epoch_start": ("on_test_epoch_start",),
    "on_test_batch_end": ("on_test_batch_end",),
    "on_test_epoch_end": ("on_test_epoch_end",),
    "on_test_end": ("on_validation_end",),
    "on_exception": ("on_exception",),
    # the plugin's state_dict/load_state_dict carry these into hookwise's checkpoints
    "state_dict": (),
    "load_state_dict": (),
    "on_save_checkpoint": (),
    "on_load_checkpoint": (),
}

#: Lightning hooks that are never called here, as Lightning never calls them in such a run.
NEVER_CALLED: dict[str, str] = {
    "on_sanity_check_start": "hookwise runs no sanity check (Lightning's num_sanity_val_steps=0)",
    "on_sanity_check_end": "hookwise runs no sanity check (Lightning's num_sanity_val_steps=0)",
    "on_predict_start": "hookwise has no predict loop",
    "on_predict_end": "hookwise has no predict loop",
    "on_predict_epoch_start": "hookwise has no predict loop",
    "on_predict_epoch_end": "hookwise has no predict loop",
    "on_predict_batch_start": "hookwise has no predict loop",
    "on_predict_batch_end": "hookwise has no predict loop",
}

#: Lightning hooks with no point in hookwise's loop: a callback overriding one is refused.
REFUSED: dict[str, str] = {
    "on_before_backward": "hookwise has no hook between the loss and backward()",
    "on_before_zero_grad": (
        "hookwise zeroes the gradients before the batch, with no hook before that"
    ),
    "on_validation_batch_start": "hookwise has no hook before an evaluation batch",
    "on_test_batch_start": "hookwise has no hook before an evaluation batch",
}

#: hookwise hooks the adapter implements only when a mapped Lightning hook needs them (the
#: per-batch ones and ``on_exception``); the others it always implements, for bookkeeping.
OPTIONAL_HOOKS = frozenset(
    {
        "on_train_batch_start",
        "on_train_batch_end",
        "on_before_optimizer_step",
        "on_test_batch_end",
        "on_exception",
    }
)


def lightning_hooks(base: type) -> list[str]:
    """The hook methods of Lightning's ``Callback`` class ``base``."""
    return [
        name
        for name, value in vars(base).items()
        if not name.startswith("_") and inspect.isfunction(value) and name != "state_key"
    ]


def overridden(callback: Any, base: type) -> list[str]:
    """The hooks of ``base`` that ``callback`` overrides (in its class or, as
    ``LambdaCallback`` does, on the instance)."""
    names = []
    for name in lightning_hooks(base):
        attribute = getattr(callback, name, None)
        function = getattr(attribute, "__func__", attribute)
        if function is not getattr(base, name):
            names.append(name)
    return names


def needed_hooks(callback: Any, base: type) -> frozenset[str]:
    """The optional hookwise hooks ``callback`` needs; refuses what cannot be called.

    :raises ConfigError: the callback overrides a hook in :data:`REFUSED`, or one this adapter
        does not know (a newer Lightning release).
    """
    label = type(callback).__qualname__
    needed: set[str] = set()
    for name in overridden(callback, base):
        if name in REFUSED:
            raise ConfigError(
                f"hookwise-lightning: {label} overrides the Lightning hook {name!r}, which "
                f"cannot run on hookwise's trainer: {REFUSED[name]}. Move that code to a hook "
                f"the adapter maps (see 'Using a Lightning callback' in hookwise's docs)."
            )
        if name in NEVER_CALLED:
            continue
        if name not in MAPPED:
            raise ConfigError(
                f"hookwise-lightning: {label} overrides the Lightning hook {name!r}, which this "
                f"release of hookwise-lightning does not know; it would never be called"
            )
        needed.update(hook for hook in MAPPED[name] if hook in OPTIONAL_HOOKS)
    return frozenset(needed)


__all__ = ["MAPPED", "NEVER_CALLED", "OPTIONAL_HOOKS", "REFUSED", "needed_hooks", "overridden"]
