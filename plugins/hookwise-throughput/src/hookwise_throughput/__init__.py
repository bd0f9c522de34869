"""hookwise plugin ``throughput``: samples per second and time per step, split into data
loading and compute, logged as ``train/throughput/...``. Enable it with ``-p throughput``."""

from hookwise_throughput._monitor import ThroughputMonitor, batch_size_of

__all__ = ["ThroughputMonitor", "batch_size_of"]
