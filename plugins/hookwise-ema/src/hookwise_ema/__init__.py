"""hookwise plugin ``ema``: an exponential moving average of the weights, used for evaluation.

``EMACallback`` is vis4d's ``EMACallback``, which also works on a plain model (enabled by name,
it keeps its own average); ``ModelEMAAdapter`` and ``ModelExpEMAAdapter`` are vis4d's adapters
for code that wraps the model itself.
"""

from __future__ import annotations

from hookwise_ema.adapter import ModelEMAAdapter, ModelExpEMAAdapter
from hookwise_ema.averaging import ema_update_
from hookwise_ema.callback import EMACallback

__all__ = ["EMACallback", "ModelEMAAdapter", "ModelExpEMAAdapter", "ema_update_"]
