"""The training features (issue 13 item 10, DESIGN.md decision 23), on the CPU: bf16 autocast,
gradient accumulation, gradient clipping, ``torch.compile``, and their settings from Python,
a config and the command line. Exact resume with each is in the checkpoint plugin's tests
(``test_resume_training_features.py``); the fp16 gradient scaler in
``test_training_features_cuda.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import ConfigError, Trainer, hookimpl
from hookwise.cli.parser import parse_args
from hookwise.cli.run_config import setting_overrides, trainer_kwargs
from hookwise.config import resolve_config
from hookwise.testing import run_fit


class Seen:
    """Records what the training hooks see."""

    def __init__(self) -> None:
        self.dtypes: list[torch.dtype] = []
        self.autocast: list[bool] = []
        self.eval_dtypes: list[torch.dtype] = []
        self.batch_ends: list[tuple[int, int, bool]] = []  # (batch_idx, step, accumulating)
        self.before_step: list[int] = []
        self.grad_norms: list[float] = []
        self.grad_max: list[float] = []
        self.every_step: list[int] = []

    @hookimpl
    def on_train_batch_start(self, trainer_state: Any) -> None:
        self.autocast.append(torch.is_autocast_enabled("cpu"))

    @hookimpl
    def on_train_batch_end(self, trainer_state: Any, outputs: Any, batch_idx: int) -> None:
        self.dtypes.append(outputs["logits"].dtype)
        step = trainer_state["global_step"]
        self.batch_ends.append((batch_idx, step, trainer_state.get("accumulating", False)))

    @hookimpl
    def on_test_batch_end(self, outputs: Any) -> None:
        self.eval_dtypes.append(outputs["logits"].dtype)

    @hookimpl
    def on_before_optimizer_step(self, trainer_state: Any, model: Any) -> None:
        self.before_step.append(trainer_state["global_step"])
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        self.grad_norms.append(
            float(
                torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
            )
        )
        self.grad_max.append(max(float(g.abs().max()) for g in grads))


class EveryStep:
    """A step-triggered batch-end hook (as the checkpoint plugin's step mode)."""

    def __init__(self) -> None:
        self.steps: list[int] = []

    @hookimpl(every_n_steps=1)
    def on_train_batch_end(self, trainer_state: Any) -> None:
        self.steps.append(trainer_state["global_step"])


# -- mixed precision --------------------------------------------------------------------------


def test_bf16_autocast_runs_forward_and_loss_in_bfloat16_and_trains(tmp_path: Path) -> None:
    seen = Seen()
    result = run_fit([seen], tmp_path=tmp_path, epochs=2, precision="bf16")
    assert set(seen.dtypes) == {torch.bfloat16}  # the model's output, under autocast
    assert set(seen.eval_dtypes) == {torch.bfloat16}  # validation and test too
    assert not any(seen.autocast)  # the hooks around the forward pass run outside it
    assert result.model.linear.weight.dtype == torch.float32  # the weights stay float32
    assert result.metrics["val/loss"] < 0.8  # it trains (from about 0.7)
    assert result.trainer.run_settings["precision"] == "bf16"  # where plugins read it


def test_fp16_without_cuda_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"precision='fp16' needs a CUDA device.*'bf16'"):
        Trainer(device="cpu", output_dir=tmp_path, precision="fp16")


# -- accumulation -----------------------------------------------------------------------------


def test_accumulating_n_batches_of_b_equals_one_batch_of_n_times_b(tmp_path: Path) -> None:
    """12 samples, shuffled the same way: 6 batches of 2 accumulated 3 at a time take the same
    two SGD steps as 2 batches of 6."""
    seen = Seen()
    small = run_fit(
        [seen],
        tmp_path=tmp_path / "a",
        epochs=1,
        batches=6,
        batch_size=2,
        accumulate_grad_batches=3,
        test=False,
    )
    large = run_fit([], tmp_path=tmp_path / "b", epochs=1, batches=2, batch_size=6, test=False)
    for a, b in zip(small.model.parameters(), large.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert not torch.equal(small.model.linear.weight, _untrained_weight())
    assert small.trainer.global_step == large.trainer.global_step == 2  # optimizer steps
    assert [b[0] for b in seen.batch_ends] == list(range(6))  # batch_idx counts batches
    assert [b[1] for b in seen.batch_ends] == [0, 0, 1, 1, 1, 2]
    assert [b[2] for b in seen.batch_ends] == [True, True, False, True, True, False]
    assert seen.before_step == [0, 1]  # once per window, with the steps done before it
    small.calls.assert_called("on_train_batch_end", times=6)


def _untrained_weight() -> torch.Tensor:
    from hookwise.testing import TinyModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return TinyModel().linear.weight.detach()


def test_the_epochs_last_window_steps_at_its_end_and_num_steps_counts_steps(
    tmp_path: Path,
) -> None:
    seen = Seen()
    result = run_fit(
        [seen], tmp_path=tmp_path, epochs=2, batches=5, accumulate_grad_batches=2, test=False
    )
    assert result.trainer.global_step == 6  # 2 + 2 + 1 batches an epoch: 3 steps
    assert seen.before_step == [0, 1, 2, 3, 4, 5]
    assert [b[2] for b in seen.batch_ends[:5]] == [True, False, True, False, False]
    limited = run_fit(
        [],
        tmp_path=tmp_path / "b",
        epochs=5,
        steps=4,
        batches=5,
        accumulate_grad_batches=2,
        test=False,
    )
    assert limited.trainer.global_step == 4
    limited.calls.assert_called("on_train_batch_end", times=7)  # 5 in epoch 0, 2 in epoch 1


def test_step_triggers_fire_once_per_optimizer_step(tmp_path: Path) -> None:
    every = EveryStep()
    run_fit([every], tmp_path=tmp_path, epochs=1, batches=6, accumulate_grad_batches=3)
    assert every.steps == [1, 2]  # not at the batches inside a window


def test_a_step_trigger_does_not_fire_inside_an_accumulation_window() -> None:
    from hookwise.plugins.triggers import Trigger

    trigger = Trigger(every_n_steps=1)
    assert trigger.fires("on_train_batch_end", {"trainer_state": {"global_step": 2}})
    inside = {"trainer_state": {"global_step": 2, "accumulating": True}}
    assert not trigger.fires("on_train_batch_end", inside)
    assert Trigger(every_n_epochs=1).fires("on_train_batch_end", inside)  # epochs: unaffected


def test_step_checkpoints_are_taken_at_optimizer_steps(tmp_path: Path) -> None:
    params = {"epoch_based": False, "checkpoint_period": 1, "keep_last": None}
    result = run_fit(
        [("checkpoint", params)],
        tmp_path=tmp_path,
        epochs=1,
        batches=6,
        accumulate_grad_batches=3,
        test=False,
    )
    periodic = [p for p in result.checkpoints if p.name.startswith("epoch=")]
    assert [p.name for p in periodic] == ["epoch=0-step=1.ckpt", "epoch=0-step=2.ckpt"]
    for path in periodic:
        data = torch.load(path, weights_only=True)
        assert data["window_batches"] == 0 and "accumulated_grads" not in data


# -- clipping ---------------------------------------------------------------------------------


def test_clipping_by_norm_bounds_the_norm_the_hook_sees(tmp_path: Path) -> None:
    free, clipped = Seen(), Seen()
    run_fit([free], tmp_path=tmp_path / "a", epochs=1, test=False)
    run_fit([clipped], tmp_path=tmp_path / "b", epochs=1, test=False, gradient_clip_val=0.01)
    assert max(free.grad_norms) > 0.05  # without clipping the bound does not hold
    assert max(clipped.grad_norms) <= 0.01 * (1 + 1e-5)


def test_clipping_by_value_bounds_every_element(tmp_path: Path) -> None:
    free, clipped = Seen(), Seen()
    run_fit([free], tmp_path=tmp_path / "a", epochs=1, test=False)
    run_fit(
        [clipped],
        tmp_path=tmp_path / "b",
        epochs=1,
        test=False,
        gradient_clip_val=0.002,
        gradient_clip_algorithm="value",
    )
    assert max(free.grad_max) > 0.01
    assert max(clipped.grad_max) <= 0.002 * (1 + 1e-6)  # 0.002 as a float32


# -- compile ----------------------------------------------------------------------------------


def _compiled_equals_eager(tmp_path: Path, compile_kwargs: dict[str, Any]) -> None:
    seen = Seen()
    eager = run_fit([seen], tmp_path=tmp_path / "eager", epochs=2)
    assert eager.model._compiled_call_impl is None  # off by default
    assert set(seen.dtypes) == {torch.float32}  # and so is mixed precision
    compiled = run_fit(
        ["checkpoint"],
        tmp_path=tmp_path / "compiled",
        epochs=2,
        compile=True,
        compile_kwargs=compile_kwargs,
    )
    assert compiled.model._compiled_call_impl is not None  # compiled in place
    for key in ("val/loss", "test/loss"):
        assert compiled.metrics[key] == pytest.approx(eager.metrics[key], rel=1e-4, abs=1e-6)
    for a, b in zip(compiled.model.parameters(), eager.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    last = torch.load(compiled.output_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert set(last["model"]) == {"linear.weight", "linear.bias"}  # no "_orig_mod." keys


def test_compile_gives_the_eager_losses_with_the_same_state_dict_keys(tmp_path: Path) -> None:
    """Dynamo's capture and AOT autograd (``backend="aot_eager"``): what compile changes in
    the trainer's path (the compiled forward and backward graphs, compiled in place), without
    inductor's C++ build, which takes tens of seconds (the slow test below runs it)."""
    _compiled_equals_eager(tmp_path, {"backend": "aot_eager"})


@pytest.mark.slow
def test_compile_with_inductor_gives_the_eager_losses(tmp_path: Path) -> None:
    _compiled_equals_eager(tmp_path, {})


# -- the settings from Python, a config and the command line ---------------------------------


def test_the_settings_from_the_command_line_and_a_config_reach_the_trainer() -> None:
    args = parse_args(
        [
            "fit",
            "--precision",
            "bf16",
            "--accumulate-grad-batches",
            "4",
            "--gradient-clip-val",
            "0.5",
            "trainer.gradient_clip_algorithm=value",
            "trainer.compile=true",
        ]
    )
    config = {"trainer": {"compile_kwargs": {"backend": "aot_eager"}, "precision": "32"}}
    resolved = resolve_config(
        config,
        trainer_overrides=setting_overrides(args),
        overrides=args.overrides,
        defaults={},
    )
    assert trainer_kwargs(resolved) == {
        "precision": "bf16",  # the flag wins over the config
        "accumulate_grad_batches": 4,
        "gradient_clip_val": 0.5,
        "gradient_clip_algorithm": "value",
        "compile": True,
        "compile_kwargs": {"backend": "aot_eager"},
    }
    assert (
        trainer_kwargs(resolve_config({"trainer": {"gradient_clip_val": False}}, defaults={}))[
            "gradient_clip_val"
        ]
        is None
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("precision", "16-mixed", "'32', 'bf16' or 'fp16'"),
        ("accumulate_grad_batches", 0, "an integer >= 1"),
        ("gradient_clip_val", 0, "a positive number or None"),
        ("gradient_clip_algorithm", "l1", "'norm' or 'value'"),
        ("compile", "yes", "True or False"),
    ],
)
def test_bad_values_name_the_setting_and_what_it_allows(
    tmp_path: Path, key: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError, match=f"Trainer {key} must be {expected}, got {value!r}"):
        Trainer(device="cpu", output_dir=tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=f"c.toml: \\[trainer\\] {key} must be {expected}"):
        trainer_kwargs(resolve_config({"trainer": {key: value}}, source="c.toml", defaults={}))


def test_precision_32_may_be_given_as_a_number(tmp_path: Path) -> None:
    trainer = Trainer(device="cpu", output_dir=tmp_path, precision=32)  # type: ignore[arg-type]
    assert trainer.run_settings["precision"] == "32"


def test_the_gradient_scaler_path_saves_and_restores_the_scale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fp16's code path (scale, unscale before clipping, step, update, the scaler's state in
    the checkpoint) run here with torch's CPU gradient scaler, the CUDA check lifted; the same
    on a GPU is in test_training_features_cuda.py."""
    from hookwise.trainer import optimization

    monkeypatch.setattr(optimization, "check_precision", lambda precision, device: None)
    params = {"epoch_based": False, "checkpoint_period": 1, "keep_last": None}
    options: dict[str, Any] = {
        "precision": "fp16",
        "gradient_clip_val": 0.01,
        "accumulate_grad_batches": 2,
        "batches": 4,
        "test": False,
    }
    seen = Seen()
    full = run_fit([seen, ("checkpoint", params)], tmp_path=tmp_path / "full", **options)
    assert set(seen.dtypes) == {torch.float16}
    assert max(seen.grad_norms) <= 0.01 * (1 + 1e-3)  # unscaled before the hook, and clipped
    last = torch.load(full.output_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["grad_scaler"]["scale"] == 65536.0 and last["grad_scaler"]["_growth_tracker"] == 4
    checkpoint = full.output_dir / "checkpoints" / "epoch=1-step=3.ckpt"
    resumed = run_fit(  # the same plugins, so the manifests agree
        [Seen(), ("checkpoint", params)],
        tmp_path=tmp_path / "resumed",
        resume_from=checkpoint,
        **options,
    )
    scaler = resumed.trainer._optimization.scaler
    assert scaler is not None and scaler.state_dict() == last["grad_scaler"]
    for a, b in zip(resumed.model.parameters(), full.model.parameters(), strict=True):
        assert torch.equal(a, b)
