"""The settings of the training features: mixed precision, gradient accumulation, gradient
clipping and ``torch.compile`` (defined with :func:`hookwise.settings.define`, which imports
this module, so they are settings like any other: ``Trainer`` arguments, ``[trainer]`` keys,
flags, and rows of the docs' table).

How the trainer applies them is :mod:`hookwise.trainer.optimization`; only the standard library
is imported here.
"""

from __future__ import annotations

from hookwise._setting_kinds import Choice, Count, Flag, Keywords, Positive, Precision
from hookwise.settings import Setting, define

#: The values of ``precision``: full precision, bfloat16 autocast, float16 autocast with a
#: gradient scaler (CUDA only).
PRECISIONS = ("32", "bf16", "fp16")

define(
    Setting(
        "precision",
        Precision(choices=PRECISIONS),
        "32",
        "Mixed precision: '32' (off), 'bf16' (forward and loss under bfloat16 autocast, on "
        "the CPU and CUDA) or 'fp16' (float16 autocast with a gradient scaler, CUDA only); "
        "weights and optimizer state stay float32. Validation and test run under the same "
        "autocast.",
        config_key="precision",
        flag="--precision",
    )
)
define(
    Setting(
        "accumulate_grad_batches",
        Count(minimum=1),
        1,
        "Accumulate gradients over this many batches per optimizer step (each batch's loss "
        "is divided by it); global_step counts optimizer steps, batch_idx counts batches, and "
        "an epoch's last, shorter window steps at the epoch's end.",
        config_key="accumulate_grad_batches",
        flag="--accumulate-grad-batches",
        commands=("fit",),
    )
)
define(
    Setting(
        "gradient_clip_val",
        Positive(optional=True),
        None,
        "Clip each optimizer's gradients before its step (after unscaling, before "
        "on_before_optimizer_step) to this total 2-norm, or to [-v, v] per element with "
        "gradient_clip_algorithm='value' (None, or false in a config: off).",
        config_key="gradient_clip_val",
        flag="--gradient-clip-val",
        commands=("fit",),
    )
)
define(
    Setting(
        "gradient_clip_algorithm",
        Choice(choices=("norm", "value")),
        "norm",
        "How gradient_clip_val clips: 'norm' (scale the gradients to that total norm at "
        "most) or 'value' (clamp each element).",
        config_key="gradient_clip_algorithm",
        commands=("fit",),
    )
)
define(
    Setting(
        "compile",
        Flag(),
        False,
        "Compile the model with torch.compile, in place (model.compile()), before fit and "
        "test: the state-dict keys, and so the checkpoints, do not change.",
        config_key="compile",
    )
)
define(
    Setting(
        "compile_kwargs",
        Keywords(),
        None,
        'Keyword arguments for model.compile(), e.g. {mode = "max-autotune"} or '
        '{backend = "aot_eager"}.',
        config_key="compile_kwargs",
    )
)
