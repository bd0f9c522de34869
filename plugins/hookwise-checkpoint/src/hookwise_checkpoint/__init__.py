"""hookwise-checkpoint: complete, atomic checkpoints with exact resume.

Enable it by name (``pm.enable("checkpoint", keep_last=3)``, ``hookwise fit -p
checkpoint:monitor=val/loss``) or build :class:`CheckpointCallback` yourself as in vis4d.
:func:`load_model_weights` puts a checkpoint's weights into a model for inference.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hookwise_checkpoint._files import BEST, EMERGENCY, LAST, best_file_name, periodic_file_name
from hookwise_checkpoint.callback import CheckpointCallback

if TYPE_CHECKING:
    from torch import nn

__version__ = "0.1.0"


def match_module_prefix(state: dict[str, Any], expected: set[str]) -> dict[str, Any]:
    """Return ``state`` with its keys fitted to ``expected`` (a model's ``state_dict`` keys).

    A DDP or DataParallel ``module.`` prefix is removed when the model has none and added when
    it has one; keys that already fit are kept as they are (a model whose only child is called
    ``model`` or ``module`` keeps its prefix).
    """
    if set(state) == expected:
        return state
    for prefix in ("module.", "model."):
        if state and all(key.startswith(prefix) for key in state):
            stripped = {key[len(prefix) :]: value for key, value in state.items()}
            if set(stripped) == expected:
                return stripped
    if expected and all(key.startswith("module.") for key in expected):
        added = {f"module.{key}": value for key, value in state.items()}
        if set(added) == expected:
            return added
    return state


def load_model_weights(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    strict: bool = True,
    map_location: Any = "cpu",
) -> Path:
    """Load the model weights of a hookwise checkpoint into ``model`` and return the file.

    The file is read with ``torch.load(weights_only=True)`` (it cannot run code). ``model`` may
    be plain or wrapped in DDP/DataParallel, and the checkpoint's keys may carry a ``module.``
    prefix or not: the prefix is fitted both ways.

    :raises hookwise.CheckpointError: the file is missing, corrupt, not a hookwise checkpoint,
        or its weights do not fit the model (the message names the file and the keys).
    """
    from hookwise.checkpointing import load_checkpoint
    from hookwise.errors import CheckpointError

    file = Path(path)
    data = load_checkpoint(file, map_location=map_location)
    expected = set(model.state_dict())
    state = match_module_prefix(dict(data["model"]), expected)
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {str(file)!r} does not fit the model: {exc}") from exc
    return file


__all__ = [
    "BEST",
    "EMERGENCY",
    "LAST",
    "CheckpointCallback",
    "best_file_name",
    "load_model_weights",
    "match_module_prefix",
    "periodic_file_name",
    "__version__",
]
