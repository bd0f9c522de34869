"""The settings of the distributed strategy: ``strategy``, FSDP's wrapping policy and the
checkpoint format (defined with :func:`hookwise.settings.define`, which imports this module,
so they are ``Trainer`` arguments, ``[trainer]`` keys, flags and rows of the docs' table like
any other).

How the trainer applies them is :mod:`hookwise.trainer.strategy` and
:mod:`hookwise.trainer.fsdp`; only the standard library is imported here.
"""

from __future__ import annotations

from hookwise._setting_kinds import Choice, WrapPolicy
from hookwise.settings import Setting, define

#: The values of ``strategy`` (one process runs as one process whatever it says).
STRATEGIES = ("ddp", "fsdp")
#: The values of ``checkpoint_format``: one file written by rank 0, or a folder every rank
#: writes its part of (``strategy="fsdp"`` writes only the latter).
CHECKPOINT_FORMATS = ("full", "sharded")

define(
    Setting(
        "strategy",
        Choice(choices=STRATEGIES),
        "ddp",
        "How a run under torchrun uses its processes: 'ddp' (every rank holds the whole "
        "model, wrapped in DistributedDataParallel; checkpoints are one file written by rank "
        "0) or 'fsdp' (FSDP2 fully_shard: parameters, gradients and optimizer state are "
        "sharded over the ranks; checkpoints are sharded folders, see fsdp_wrap).",
        config_key="strategy",
        flag="--strategy",
    )
)
define(
    Setting(
        "fsdp_wrap",
        WrapPolicy(),
        None,
        "With strategy='fsdp', the submodules sharded as units of their own (gathered one at "
        "a time in forward and backward): module class names (e.g. ['Block'], or 'Block' on "
        "the command line), or a parameter count (every submodule holding at least that many "
        "parameters not already in a unit); None: the whole model is one unit.",
        config_key="fsdp_wrap",
        flag="--fsdp-wrap",
    )
)
define(
    Setting(
        "checkpoint_format",
        Choice(choices=CHECKPOINT_FORMATS),
        "full",
        "The checkpoints of a run under torchrun with strategy='ddp': 'full' (one file, "
        "written by rank 0) or 'sharded' (a folder every rank writes its part of, through "
        "torch.distributed.checkpoint; save_checkpoint is then a collective call). Under "
        "strategy='fsdp' checkpoints are always sharded; one process always writes one file.",
        config_key="checkpoint_format",
        flag="--checkpoint-format",
    )
)
