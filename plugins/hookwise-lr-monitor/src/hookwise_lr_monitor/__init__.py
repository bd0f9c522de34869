"""hookwise plugin ``lr_monitor``: the learning rate of every optimizer and parameter group,
logged as ``train/lr-<Optimizer>[/pg<i>]``. Enable it with ``-p lr_monitor``."""

from hookwise_lr_monitor._monitor import LearningRateMonitor, optimizer_names

__all__ = ["LearningRateMonitor", "optimizer_names"]
