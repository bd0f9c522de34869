"""The sanity pass (DESIGN decision 24): before the first training step, a short validation
pass runs every validation hook, so a misnamed monitor fails in seconds; it logs and writes
nothing, restores plugin state and the RNG (the run is bit for bit the one without it), is
skipped on resume, and hooks see ``trainer_state["sanity_check"] = True``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, ConfigError, PluginManager
from hookwise.testing import run_fit


class Seen(Callback):
    """Records what the hooks see."""

    def __init__(self) -> None:
        super().__init__()
        self.train_batches = 0
        self.validations: list[tuple[bool, int]] = []
        self.test_batches: list[bool] = []

    def on_train_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
        self.train_batches += 1

    def on_test_batch_end(self, trainer_state: Any, *args: Any, **kwargs: Any) -> None:
        self.test_batches.append(bool(trainer_state.get("sanity_check")))

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.validations.append(
            (bool(trainer_state.get("sanity_check")), trainer_state["global_step"])
        )


def _pm(*plugins: Any) -> tuple[PluginManager, Seen]:
    pm = PluginManager()
    seen = Seen()
    pm.enable_object(seen, "seen")
    for name, params in plugins:
        pm.enable(name, **params)
    return pm, seen


def test_a_misnamed_monitor_fails_before_training(tmp_path: Path) -> None:
    pm, seen = _pm(("checkpoint", {"monitor": "val/nope"}))
    with pytest.raises(ConfigError, match=r"monitor='val/nope' is not among this validation"):
        run_fit(pm=pm, tmp_path=tmp_path, num_sanity_val_steps=1, epochs=3)
    assert seen.train_batches == 0
    assert not list((tmp_path / "run").rglob("epoch=*.ckpt"))  # no checkpoint of the pass

    pm, seen = _pm(("early_stopping", {"monitor": "val/nope"}))
    with pytest.raises(ConfigError, match="early_stopping"):
        run_fit(pm=pm, tmp_path=tmp_path / "b", num_sanity_val_steps=1)
    assert seen.train_batches == 0


def test_hooks_see_the_sanity_pass_and_it_is_short(tmp_path: Path) -> None:
    pm, seen = _pm()
    run_fit(pm=pm, tmp_path=tmp_path, num_sanity_val_steps=1, epochs=2, val_batches=3, test=False)
    assert seen.validations == [(True, 0), (False, 3), (False, 6)]
    assert seen.test_batches == [True] + [False] * 6  # 1 batch, then 3 per validation


def test_the_run_is_the_one_without_it(tmp_path: Path) -> None:
    def fit(folder: str, steps: int) -> Any:
        plugins = [
            ("logging", {"refresh_rate": 1}),
            ("early_stopping", {"monitor": "val/loss", "patience": 5}),
            ("checkpoint", {"monitor": "val/loss"}),
        ]
        return run_fit(plugins, tmp_path=tmp_path / folder, num_sanity_val_steps=steps, epochs=3)

    plain, checked = fit("plain", 0), fit("checked", 2)
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, checked.model.state_dict()[key]), key
    assert plain.metrics == checked.metrics
    csv = "metrics.csv"
    assert (plain.output_dir / csv).read_bytes() == (checked.output_dir / csv).read_bytes()
    names = sorted(p.name for p in plain.output_dir.rglob("*.ckpt"))
    assert names == sorted(p.name for p in checked.output_dir.rglob("*.ckpt"))
    stopping = checked.trainer.pm.get_plugin("early_stopping")
    assert stopping.state_dict() == plain.trainer.pm.get_plugin("early_stopping").state_dict()


# An expected manifest change: the resume adds a plugin that records the hooks.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_skipped_on_resume(tmp_path: Path) -> None:
    run_fit(["checkpoint"], tmp_path=tmp_path, epochs=1, test=False)
    pm, seen = _pm(("checkpoint", {}))
    run_fit(
        pm=pm, tmp_path=tmp_path, epochs=2, num_sanity_val_steps=2, resume_from="last", test=False
    )
    assert [sanity for sanity, _ in seen.validations] == [False]


def test_the_default_job_has_it_and_the_setting_is_checked() -> None:
    from hookwise import settings
    from hookwise.config import resolve_config

    assert resolve_config().trainer["sanity_val_steps"] == 2
    setting = settings.get("num_sanity_val_steps")
    assert setting.default == 0 and setting.flag == "--sanity-val-steps"
    with pytest.raises(ConfigError, match="sanity_val_steps"):
        resolve_config(overrides=["trainer.sanity_val_steps=-1"])


def test_the_pass_writes_no_images_or_predictions(tmp_path: Path) -> None:
    plugins = [
        ("visualizer", {"image_shape": [2, 2], "scale": 8}),
        ("evaluator", {"evaluator": "accuracy", "save_predictions": True}),
    ]
    result = run_fit(plugins, tmp_path=tmp_path, epochs=1, test=False, num_sanity_val_steps=1)
    written = sorted(str(p.relative_to(result.output_dir)) for p in result.output_dir.rglob("*"))
    assert not [w for w in written if "step=0" in w], written  # nothing of the pass (step 0)
    assert any("step=3" in w for w in written), written  # the real validation draws
