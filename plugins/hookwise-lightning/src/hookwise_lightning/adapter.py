"""The ``hookwise.adapters`` entry point: hookwise offers it every object enabled without
hookwise hooks; it wraps Lightning callbacks.

Kept light: it imports nothing of Lightning itself. An object can only be a Lightning callback
if Lightning is imported already, so it looks in ``sys.modules``.
"""

from __future__ import annotations

import sys
from typing import Any

#: The Lightning packages whose ``Callback`` subclasses are adapted.
PACKAGES = ("lightning.pytorch", "pytorch_lightning")


def lightning_base(obj: Any) -> type | None:
    """The Lightning ``Callback`` class ``obj`` is an instance of (``None``: not one)."""
    for package in PACKAGES:
        module = sys.modules.get(package)
        base = getattr(module, "Callback", None) if module is not None else None
        if isinstance(base, type) and isinstance(obj, base):
            return base
    return None


def adapt(obj: Any) -> Any:
    """The hookwise plugin running Lightning callback ``obj``, or ``None`` for other objects.

    :raises hookwise.ConfigError: ``obj`` overrides a Lightning hook that cannot run on
        hookwise's trainer (the message names it).
    """
    base = lightning_base(obj)
    if base is None:
        return None
    from hookwise_lightning.plugin import build_plugin

    return build_plugin(obj, base)


__all__ = ["PACKAGES", "adapt", "lightning_base"]
