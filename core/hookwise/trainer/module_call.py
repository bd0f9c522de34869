"""Calling the loss module without ``nn.Module.__call__``'s machinery when it would do nothing.

``module(*args)`` runs ``nn.Module._wrapped_call_impl`` and ``_call_impl``, which call
``module.forward(*args)`` and nothing else when no hook is registered (on the module or
globally), the module was not compiled with ``module.compile()`` and no JIT trace is being
recorded. Those two frames, with the instance call and the argument packing around them, cost
about 9,000 instructions a call on CPython 3.11 (measured with callgrind: a ``LossModule`` call
95,154 instructions, its ``forward`` 85,997): about 0.4 % of a small model's training step,
paid every step. :func:`direct_forward` finds, once an epoch, the ``forward`` and the hook
registries; the trainer then calls ``forward`` itself exactly when torch would call nothing
else, and the module otherwise, checked at every call (a hook registered in the middle of an
epoch is honoured from the next call on, as torch honours it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.modules import module as _torch_module

from hookwise.loss import LossModule
from hookwise.readonly import ReadOnlyFloats

#: The global hook registries ``_call_impl`` reads (mutated in place by torch's
#: ``register_module_*_hook`` functions, never rebound); one a torch release lacks is one its
#: ``_call_impl`` does not read either.
_GLOBAL_HOOKS = tuple(
    getattr(_torch_module, name, {})
    for name in (
        "_global_backward_pre_hooks",
        "_global_backward_hooks",
        "_global_forward_hooks",
        "_global_forward_pre_hooks",
    )
)
#: Whether a JIT trace is being recorded (``_call_impl`` then calls ``_slow_forward``).
tracing = torch._C._get_tracing_state


class DirectForward(NamedTuple):
    """A loss module's ``forward`` and every hook registry its call would consult: the
    trainer calls ``forward`` when ``not any(hooks) and not tracing()``, else the module."""

    forward: Callable[..., Any]
    hooks: tuple[Any, ...]
    #: for a :class:`~hookwise.LossModule`: its ``forward`` returning read-only metrics (the
    #: hooks' view, built directly instead of copied); ``None`` for other modules
    shared: Callable[..., Any] | None = None


def direct_forward(module: Any) -> DirectForward | None:
    """For an ``nn.Module`` whose class keeps ``nn.Module``'s own call and which was not
    compiled with ``module.compile()``: its bound ``forward`` and its hook registries with the
    global ones (read once, before an epoch; they are changed in place, so a hook registered
    later is seen at the next call). ``None`` for anything else (called as it is)."""
    cls = type(module)
    if not isinstance(module, nn.Module) or getattr(module, "_compiled_call_impl", None):
        return None
    if any(
        getattr(cls, name, None) is not getattr(nn.Module, name, None)
        for name in ("__call__", "_wrapped_call_impl", "_call_impl")
    ):
        return None
    try:
        own = (
            module._forward_pre_hooks,
            module._forward_hooks,
            module._backward_pre_hooks,
            module._backward_hooks,
        )
    except AttributeError:  # a torch release with other registries: call the module
        return None
    shared = (
        functools.partial(module.forward, metrics_type=ReadOnlyFloats)
        if cls.forward is LossModule.forward
        else None
    )
    return DirectForward(module.forward, own + _GLOBAL_HOOKS, shared)
