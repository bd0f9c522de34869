"""``--resume`` and ``--weights``: which checkpoint a command uses, and loading model weights."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hookwise.errors import CheckpointError, HookwiseError, add_note

logger = logging.getLogger("hookwise")


def output_dir(args: argparse.Namespace) -> Path:
    """The folder run folders go into (``--output-dir``, default ``./hookwise-runs``)."""
    from hookwise.runs import DEFAULT_OUTPUT_DIR

    return Path(args.output_dir if args.output_dir is not None else DEFAULT_OUTPUT_DIR)


def checkpoint_path(value: str, args: argparse.Namespace, option: str) -> Path:
    """The checkpoint ``option`` names: ``last`` resolved (and reported), or a path checked to
    be a readable hookwise checkpoint.

    :raises CheckpointError: with a note naming the option and its value.
    """
    from hookwise import last

    try:
        if value == "last":
            found = (
                last.resume_checkpoint(output_dir(args))
                if option == "--resume"
                else last.weights_checkpoint(output_dir(args))
            )
            logger.info("%s last: %s", option, found.describe())
            return found.path
        from hookwise import checkpointing, sharded  # imports torch

        if option == "--resume" and sharded.is_sharded(value):  # strategy="fsdp"'s folders
            checkpointing.check_checkpoint(Path(value) / sharded.META_FILE)
        else:
            checkpointing.check_checkpoint(value)  # the run reads it in full, once
    except HookwiseError as exc:
        add_note(exc, f"(given as {option} {value})")
        raise
    return Path(value)


def fitting_weights(weights: Mapping[str, Any], model: Any) -> Mapping[str, Any]:
    """``weights`` as they are when their keys fit ``model``; else without a DDP ``module.``
    prefix shared by every key (a checkpoint saved from a wrapped model). Keys are never
    renamed otherwise, so a model whose only child is ``self.model`` loads its own weights."""
    keys = list(weights)
    if set(keys) == set(model.state_dict()):
        return weights
    prefix = "module."
    if keys and all(k.startswith(prefix) for k in keys):
        return {k[len(prefix) :]: v for k, v in weights.items()}
    return weights


def load_weights(model: Any, path: Path, device: str = "cpu") -> None:
    """Load the model weights of the hookwise checkpoint ``path`` into ``model``.

    :raises CheckpointError: the file is no readable checkpoint, or its weights do not fit.
    """
    from hookwise import checkpointing

    data = checkpointing.load_checkpoint(path, map_location=device)
    try:
        model.load_state_dict(fitting_weights(data["model"], model))
    except RuntimeError as exc:
        raise CheckpointError(
            f"the weights in {str(path)!r} do not fit the config's [model]: {exc}"
        ) from exc


__all__ = ["checkpoint_path", "fitting_weights", "load_weights", "output_dir"]
