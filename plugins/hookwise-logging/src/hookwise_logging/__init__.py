"""hookwise plugin ``logging``: progress lines or a live bar, a metrics file, TensorBoard and
loss curves (vis4d's ``LoggingCallback``, extended). Enable it with ``-p logging``."""

from hookwise_logging._callback import LoggingCallback
from hookwise_logging._timer import Timer

__all__ = ["LoggingCallback", "Timer"]
