"""The evaluation loop: one pass over every test loader, with the evaluation hooks.

One pass::

    on_test_epoch_start -> per loader, per batch: forward, on_test_batch_end
    -> on_test_epoch_end (returned logs -> val/<key> or test/<key>) -> on_validation_end

``on_test_epoch_start`` and ``on_test_epoch_end`` run once for all loaders, as in vis4d.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from hookwise import checkpointing
from hookwise.errors import ConfigError
from hookwise.readonly import ReadOnlyMetrics, ReadOnlyState
from hookwise.trainer._util import to_device
from hookwise.trainer.logs import to_float
from hookwise.trainer.position import seed_loader

if TYPE_CHECKING:
    from hookwise.trainer.facade import Trainer


class EvaluationLoop:
    """Runs evaluation passes for ``trainer``."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    @torch.no_grad()
    def run(self, model: nn.Module, *, is_val: bool) -> dict[str, float]:
        """One pass over every test loader; return its logs as floats, prefixed ``val/``
        when ``is_val`` (validation during fit), else ``test/``."""
        trainer = self.trainer
        if not trainer.test_dataloader:
            raise ConfigError("Trainer.test needs a test_dataloader")
        profiler = trainer.profiler
        if profiler is not None:
            profiler.begin("eval")
        prefix = "val/" if is_val else "test/"
        model = model.to(trainer.device)
        if trainer._model is None:
            trainer._model = model
        outer, trainer._stage = trainer._stage, "val" if is_val else "test"
        try:
            trainer._setup_distributed()
            trainer._ensure_setup()
            loaders = trainer.test_dataloader = trainer._strategy.shard_eval_loaders(
                trainer.test_dataloader
            )
            metrics = self._pass(model, loaders, prefix)
        finally:
            trainer._stage = outer  # a validation pass inside fit returns to "train"
        if profiler is not None:
            profiler.end("eval")
        return metrics

    def sanity_pass(self, model: nn.Module) -> dict[str, float] | None:
        """The sanity pass before training (DESIGN decision 24): a validation pass over the
        first ``num_sanity_val_steps`` batches of each loader, so a misnamed monitor or a broken
        evaluator fails before training time is spent. Hooks see
        ``trainer_state["sanity_check"] = True``; nothing is logged (no listener, no
        ``Trainer.metrics``), and plugin state and the RNG are restored after, so the run is
        the one it would be without the pass. Returns the pass's metrics (``None``: off)."""
        trainer = self.trainer
        steps = trainer.num_sanity_val_steps
        if not steps or not trainer.test_dataloader:
            return None
        states = copy.deepcopy(trainer.pm.state_dict())
        versions = trainer.pm.state_versions()
        rng = checkpointing.capture_rng_state()
        logs = trainer._logs
        latest, listeners = dict(logs.latest), list(logs.listeners)
        logs.listeners.clear()
        trainer._sanity_steps = steps
        try:
            return self.run(model, is_val=True)
        finally:
            trainer._sanity_steps = 0
            logs.latest.clear()
            logs.latest.update(latest)
            logs.listeners[:] = listeners
            trainer.pm.load_state_dict(states, versions)
            checkpointing.restore_rng_state(rng)

    def _pass(self, model: nn.Module, loaders: list[Any], prefix: str) -> dict[str, float]:
        trainer = self.trainer
        pm = trainer.pm
        connector = trainer.test_data_connector
        device = trainer.device
        move = device.type != "cpu"
        seed = trainer.seed if trainer.seed is not None else 0
        batch_end = pm.caller("on_test_batch_end")
        call_batch_end = bool(batch_end.calls or batch_end.wrappers)
        model.eval()
        forward = trainer._strategy.eval_model(model)
        autocast = trainer._optimization.autocast  # precision: the same autocast as training
        ignored = pm.caller("on_test_epoch_start").call_attributed(
            trainer_state=trainer._hook_state(), model=model
        )
        if ignored:
            trainer._logs.ignore("on_test_epoch_start", ignored)
        pass_state = trainer.get_state()  # a read-only copy for each batch hook (see FitLoop)
        # under FSDP the parameters are gathered for the batches only (see evaluating)
        with trainer._strategy.evaluating(model):
            for loader_idx, loader in enumerate(loaders):
                seed_loader(loader, seed, -1 - loader_idx, trainer._strategy.rank)
                for batch_idx, batch in enumerate(loader):
                    if trainer._sanity_steps and batch_idx >= trainer._sanity_steps:
                        break
                    if move:
                        batch = to_device(batch, device)
                    with autocast():
                        inputs = connector(batch) if connector is not None else None
                        outputs = forward(**inputs) if inputs is not None else forward(batch)
                    if call_batch_end:
                        ignored = batch_end.call_args(
                            ReadOnlyState(pass_state), model, outputs, batch, batch_idx, loader_idx
                        )
                        if ignored:
                            trainer._logs.ignore("on_test_batch_end", ignored)
        results = pm.caller("on_test_epoch_end").call_attributed(
            trainer_state=trainer._hook_state(), model=model
        )
        logged = trainer._logs.merge(prefix, "on_test_epoch_end", results)
        metrics = {key: to_float(value) for key, value in logged.items()}
        ignored = pm.caller("on_validation_end").call_attributed(
            trainer_state=trainer._hook_state(), model=model, metrics=ReadOnlyMetrics(metrics)
        )
        if ignored:
            trainer._logs.ignore("on_validation_end", ignored)
        return metrics
