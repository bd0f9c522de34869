"""The trainer: vis4d's ``Trainer`` as a facade over parts with one job each.

* :mod:`~hookwise.trainer.facade`: :class:`Trainer`, the constructor and the public methods;
* :mod:`~hookwise.trainer.fit_loop` and :mod:`~hookwise.trainer.evaluation`: the loops;
* :mod:`~hookwise.trainer.stopping`: the stop latch, signals, stop agreement across ranks;
* :mod:`~hookwise.trainer.position` and :mod:`~hookwise.trainer.resume`: the run's position,
  loader seeding, checkpoint state and resume;
* :mod:`~hookwise.trainer.strategy`: one process or DDP (process group, wrapping, sharding);
* :mod:`~hookwise.trainer.logs`: merging logged values under prefixed names;
* :mod:`~hookwise.trainer.failures`: ``on_exception`` and tolerated failures.

``from hookwise.trainer import Trainer, TrainingInterrupted, StopRequest`` (and
``hookwise.Trainer``) are the public names.
"""

from __future__ import annotations

from hookwise.trainer.facade import Trainer
from hookwise.trainer.stopping import StopRequest, TrainingInterrupted

__all__ = ["StopRequest", "Trainer", "TrainingInterrupted"]
