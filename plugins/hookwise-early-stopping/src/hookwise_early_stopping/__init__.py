"""hookwise-early-stopping: stop training when a validation metric stops improving.

Enable it by name (``pm.enable("early_stopping", monitor="val/loss", patience=3)``,
``hookwise fit -p early_stopping:monitor=val/loss,patience=3``) or build
:class:`EarlyStopping` yourself.
"""

from __future__ import annotations

from hookwise_early_stopping.callback import EarlyStopping

__version__ = "0.1.0"

__all__ = ["EarlyStopping", "__version__"]
