"""hookwise plugin ``nan_guard``: a non-finite loss stops training, skips the step or raises,
naming the step. Enable it with ``-p nan_guard`` (``-p nan_guard:action=skip``)."""

from hookwise_nan_guard._guard import NanGuard, NonFiniteLossError

__all__ = ["NanGuard", "NonFiniteLossError"]
