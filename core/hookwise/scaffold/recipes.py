"""What ``hookwise new-plugin`` writes for each hook: a small working body and its test.

Each hook has a :class:`Recipe`: the attributes the plugin sets up, the parameters it takes,
the method body, what it keeps in its checkpointed state, what the README says, and a test
that checks the body's effect in a real (tiny) fit (``result``: ``run_fit([NAME], epochs=2,
batches=3)``, two validations and a test; ``plugin``: the plugin object it ran). The recipes
are independent, so any set of hooks makes a plugin whose tests pass unchanged. ``NAME`` in a
body or summary is replaced by the plugin's name; tests read the constant ``NAME``.

The hooks come from ``--hooks`` or, without it, from words in the plugin's name
(:data:`NAME_HINTS`; ``grad_norm`` gets ``on_before_optimizer_step``), else
:data:`DEFAULT_HOOKS`.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from hookwise.hookspecs import HOOK_NAMES


@dataclass(frozen=True)
class Param:
    """A constructor parameter: ``name: annotation = default``, documented by ``doc``."""

    name: str
    annotation: str
    default: str
    doc: str


@dataclass(frozen=True)
class Recipe:
    """One hook's part of a generated plugin (see the module docstring)."""

    hook: str
    summary: str
    body: str
    test: str
    init: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    state: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()
    connector: bool = False


RECIPES: dict[str, Recipe] = {
    r.hook: r
    for r in [
        Recipe(
            "setup",
            "marks the plugin ready (once per process, before the first fit or test).",
            "self.ready = True",
            "assert plugin.ready",
            init=("self.ready = False",),
        ),
        Recipe(
            "on_fit_start",
            "counts the fits this plugin took part in (kept in checkpoints).",
            "self.fits += 1",
            "assert plugin.fits == 1",
            init=("self.fits = 0",),
            state=("fits",),
        ),
        Recipe(
            "on_fit_end",
            "remembers the step the last fit ended at.",
            'self.last_step = trainer_state["global_step"]',
            "assert plugin.last_step == 6  # 2 epochs of 3 steps",
            init=("self.last_step = -1",),
        ),
        Recipe(
            "on_train_epoch_start",
            "remembers which epochs started.",
            'self.epochs_started.append(trainer_state["current_epoch"])',
            "assert plugin.epochs_started == [0, 1]",
            init=("self.epochs_started: list[int] = []",),
        ),
        Recipe(
            "on_train_batch_start",
            "counts the training batches (kept in checkpoints).",
            "self.batches += 1",
            "assert plugin.batches == 6",
            init=("self.batches = 0",),
            state=("batches",),
        ),
        Recipe(
            "on_train_batch_end",
            "logs the loss averaged over the last `window` steps as `train/NAME/loss_avg`.",
            'if "metrics" not in trainer_state:\n'
            "    return None\n"
            "# tensors(): the loss as a tensor on the model's device (reading the metrics gives\n"
            "# floats, which waits for the device): nothing waits for the device per step.\n"
            'self.losses.append(tensors(trainer_state["metrics"])["loss"])\n'
            'return {"NAME/loss_avg": torch.stack(list(self.losses)).mean()}',
            'calls = result.calls.assert_called("on_train_batch_end", times=6, plugin=NAME)\n'
            'losses = [call.value("trainer_state.metrics.loss") for call in calls]\n'
            "expected = sum(losses) / len(losses)  # window=10 covers all 6 steps\n"
            'assert result.metrics[f"train/{NAME}/loss_avg"] == pytest.approx(expected)',
            init=("self.losses: deque[torch.Tensor] = deque(maxlen=window)",),
            params=(Param("window", "int", "10", "the number of steps the loss is averaged over"),),
            imports=(
                "from collections import deque",
                "import torch",
                "from hookwise.values import tensors",
            ),
            logs=("train/NAME/loss_avg",),
        ),
        Recipe(
            "on_before_optimizer_step",
            "tracks the largest gradient norm seen (before each optimizer step).",
            "norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]\n"
            "if norms:\n"
            "    norm = torch.stack(norms).norm()\n"
            "    self.max_grad_norm = torch.maximum(self.max_grad_norm.to(norm.device), norm)",
            "assert float(plugin.max_grad_norm) > 0",
            init=("self.max_grad_norm = torch.zeros(())",),
            state=("max_grad_norm",),
            imports=("import torch",),
        ),
        Recipe(
            "on_train_epoch_end",
            "logs the first optimizer's learning rate as `train/NAME/lr` after every epoch.",
            'optimizers = trainer_state.get("optimizers", [])\n'
            'rates = [group["lr"] for o in optimizers for group in o.param_groups]\n'
            'return {"NAME/lr": float(rates[0])} if rates else None',
            'assert result.metrics[f"train/{NAME}/lr"] > 0',
            logs=("train/NAME/lr",),
        ),
        Recipe(
            "on_test_epoch_start",
            "counts the evaluation passes (kept in checkpoints).",
            "self.evaluations += 1",
            "assert plugin.evaluations == 3  # two validations and the test",
            init=("self.evaluations = 0",),
            state=("evaluations",),
        ),
        Recipe(
            "on_test_batch_end",
            "counts the evaluated samples, reading the logits through its `test_connector`.",
            'logits = self.get_test_callback_inputs(outputs, batch)["logits"]\n'
            "self.samples += int(logits.shape[0])",
            'per_pass = sum(len(b["labels"]) for b in result.trainer.test_dataloader[0])\n'
            "assert plugin.samples == 3 * per_pass  # two validations and the test",
            init=("self.samples = 0",),
            connector=True,
        ),
        Recipe(
            "on_test_epoch_end",
            "returns the number of passes so far, logged as `val/NAME/passes` (`test/...`).",
            'self.passes += 1\nreturn {"NAME/passes": self.passes}',
            'assert result.metrics[f"val/{NAME}/passes"] == 2\n'
            'assert result.test_metrics[f"test/{NAME}/passes"] == 3',
            init=("self.passes = 0",),
            state=("passes",),
            logs=("val/NAME/passes",),
        ),
        Recipe(
            "on_validation_end",
            "keeps the best (lowest) value of `monitor` over the validation passes.",
            "value = metrics.get(self.monitor)\n"
            "if value is not None and (self.best is None or value < self.best):\n"
            "    self.best = float(value)",
            'calls = result.calls.assert_called("on_validation_end", plugin=NAME)\n'
            'passes = [call.value("metrics") for call in calls]\n'
            'values = [metrics["val/loss"] for metrics in passes if "val/loss" in metrics]\n'
            "assert plugin.best == min(values)",
            init=("self.best: float | None = None",),
            params=(
                Param("monitor", "str", '"val/loss"', "the validation value to keep the best of"),
            ),
            state=("best",),
        ),
        Recipe(
            "on_exception",
            "records every failure it is told about.",
            'self.failures.append(f"{type(exception).__name__}: {exception}")',
            "",
            init=("self.failures: list[str] = []",),
        ),
    ]
}

#: Words in a plugin's name that suggest its hooks (``--hooks`` overrides).
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "grad|clip|norm": ("on_before_optimizer_step", "on_train_batch_end"),
    "stop|early|patience|best|monitor": ("on_validation_end",),
    "metric|eval|acc|confidence|score|test|val": (
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_test_epoch_end",
    ),
    "lr|schedul|rate": ("on_train_epoch_end",),
    "loss|log|print|progress|speed|throughput|timer": ("on_train_batch_end",),
}
#: The hooks of a plugin whose name suggests none.
DEFAULT_HOOKS: tuple[str, ...] = ("on_train_batch_end", "on_validation_end")


def hooks_for(name: str, requested: str | None = None) -> list[str]:
    """The hooks a plugin gets: ``requested`` (``"on_fit_start,on_fit_end"``), or hooks hinted
    by words of ``name``, in the hooks' own order.

    :raises ValueError: a requested hook does not exist (the message lists the hooks).
    """
    if requested is not None:
        wanted = [h.strip() for h in requested.split(",") if h.strip()]
        unknown = [h for h in wanted if h not in HOOK_NAMES]
        if unknown or not wanted:
            close = difflib.get_close_matches(unknown[0], HOOK_NAMES, n=1) if unknown else []
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"--hooks: {', '.join(map(repr, unknown)) or 'no hook given'}: not a hook{hint}; "
                f"the hooks are {', '.join(HOOK_NAMES)}"
            )
    else:
        words = name.lower()
        wanted = [h for pat, hooks in NAME_HINTS.items() if re.search(pat, words) for h in hooks]
        wanted = wanted or list(DEFAULT_HOOKS)
    return [h for h in HOOK_NAMES if h in wanted]


__all__ = ["DEFAULT_HOOKS", "NAME_HINTS", "RECIPES", "Param", "Recipe", "hooks_for"]
