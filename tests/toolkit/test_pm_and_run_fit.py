"""hookwise_pm (isolated from the environment) and run_fit (a real tiny fit)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import Callback, PluginBlockedError, PluginNotFoundError
from hookwise.testing import FitResult, IsolatedPluginManager, run_fit

RECORDER_MODULE = '''
"""Writes every training batch it sees to a file."""
from pathlib import Path
from hookwise import Callback

class BatchLog(Callback):
    """Appends ``epoch:batch_idx`` lines to ``{output_dir}/batches.txt``.

    :param prefix: written before each line.
    """

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):
        out = Path(trainer_state["train_module"].output_dir) / "batches.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as handle:
            handle.write(f"{self.prefix}{trainer_state['current_epoch']}:{batch_idx}\\n")
'''


# -- hookwise_pm ------------------------------------------------------------------------------


def test_hookwise_pm_reads_no_entry_points_and_no_environment(
    hookwise_pm: IsolatedPluginManager,
    installed: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed(
        "batch-log",
        {"batch_log": "toolkit_batch_log:BatchLog"},
        {"toolkit_batch_log": RECORDER_MODULE},
    )
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "something_else")
    assert hookwise_pm.installed() == []
    assert hookwise_pm.allowed is None
    with pytest.raises(
        PluginNotFoundError, match=r"isolated plugin manager.*use_installed_plugins"
    ):
        hookwise_pm.enable("batch_log")
    # An import path needs no entry point, and the allow-list of the shell does not apply.
    assert hookwise_pm.enable("toolkit_batch_log:BatchLog", prefix=">") == [
        "toolkit_batch_log:BatchLog"
    ]


def test_hookwise_pm_reads_them_when_asked(
    hookwise_pm: IsolatedPluginManager,
    installed: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed(
        "batch-log",
        {"batch_log": "toolkit_batch_log:BatchLog"},
        {"toolkit_batch_log": RECORDER_MODULE},
    )
    hookwise_pm.use_installed_plugins()
    [found] = [p for p in hookwise_pm.installed() if p.name == "batch_log"]
    assert (found.distribution, found.version) == ("batch-log", "1.0")
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "other")
    hookwise_pm.use_environment()
    with pytest.raises(PluginBlockedError, match="allow-list"):
        hookwise_pm.enable("batch_log")
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "batch-log")  # names fold like pip's
    hookwise_pm.use_environment()
    assert hookwise_pm.enable("batch_log") == ["batch_log"]


def test_hookwise_pm_fakes_an_entry_point(
    hookwise_pm: IsolatedPluginManager, tmp_path: Path
) -> None:
    hookwise_pm.add_entry_point("counter", f"{__name__}:Counter")
    assert [p.name for p in hookwise_pm.installed()] == ["counter"]
    assert hookwise_pm.enable("counter@second") == ["counter@second"]
    result = run_fit(pm=hookwise_pm, epochs=1, tmp_path=tmp_path)
    result.calls.assert_called("on_train_epoch_end", times=1, plugin="counter@second")


# -- run_fit ----------------------------------------------------------------------------------


class Counter(Callback):
    """Counts epochs.

    :param start: the first count.
    """

    def __init__(self, start: int = 0) -> None:
        super().__init__()
        self.count = start

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state: Any) -> None:
        self.count = state["count"]


class BatchShapes(Callback):
    """Remembers the shapes and dtypes of batches and outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[Any, ...]] = []

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.seen.append(
            (
                tuple(batch["inputs"].shape),
                batch["inputs"].dtype,
                tuple(batch["labels"].shape),
                batch["labels"].dtype,
                tuple(outputs["logits"].shape),
            )
        )


def test_run_fit_trains_a_tiny_model_on_dict_batches(
    run_fit: Callable[..., FitResult], tmp_path: Path
) -> None:
    shapes = BatchShapes()
    result = run_fit([shapes], epochs=3, batches=2, batch_size=5)
    assert shapes.seen == [((5, 4), torch.float32, (5,), torch.int64, (5, 2))] * 6
    assert result.output_dir == tmp_path / "run" == result.trainer.output_dir
    assert result.trainer.epoch == 3 and result.trainer.global_step == 6
    # Validation after every epoch, then the standalone test, each with the eval loss.
    assert len(result.calls.of("on_validation_end")) == 4
    losses = [m["val/loss"] for m in result.calls.values("on_validation_end", "metrics")[:3]]
    assert losses[-1] < losses[0]  # it learns
    assert result.test_metrics == {"test/loss": pytest.approx(result.metrics["test/loss"])}
    assert result.metrics["val/loss"] == pytest.approx(losses[-1])
    assert result.fit_metrics == {"val/loss": pytest.approx(losses[-1])}
    assert (
        isinstance(result.model, torch.nn.Module)
        and result.model is result.calls.values("on_fit_end", "model")[0]
    )


def test_run_fit_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = run_fit(tmp_path=tmp_path / "a", seed=3)
    second = run_fit(tmp_path=tmp_path / "b", seed=3)
    other = run_fit(tmp_path=tmp_path / "c", seed=4)
    assert first.metrics == second.metrics
    assert first.metrics != other.metrics
    for a, b in zip(first.model.parameters(), second.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_run_fit_plugin_forms_steps_and_options(
    run_fit: Callable[..., FitResult], installed: Callable[..., Path], tmp_path: Path
) -> None:
    installed(
        "batch-log",
        {"batch_log": "toolkit_batch_log:BatchLog"},
        {"toolkit_batch_log": RECORDER_MODULE},
    )
    counter = Counter()
    result = run_fit(
        ["batch_log", (f"{__name__}:Counter", {"start": 10}), counter],
        epochs=-1,
        steps=4,
        test=False,
        eval_loss=False,
        val_check_interval=2,
    )
    assert (result.output_dir / "batches.txt").read_text().split() == ["0:0", "0:1", "0:2", "1:0"]
    assert result.pm.plugin_names()[-3:] == ["batch_log", f"{__name__}:Counter", "Counter"]
    assert counter.count == 2  # the epoch that num_steps ended early still ends
    assert result.pm.get_plugin(f"{__name__}:Counter").count == 12
    assert result.test_metrics == {} and result.metrics == {}
    # Step validation at steps 2 and 4, epoch validation after epochs 0 and 1.
    assert result.calls.values("on_validation_end", "trainer_state.global_step") == [2, 3, 4, 4]
    result.calls.assert_not_called("on_test_epoch_end", plugin="run_fit.eval_loss")


# An expected manifest change: the resume leaves out the saving plugin.
@pytest.mark.filterwarnings("ignore::hookwise.ManifestChangedWarning")
def test_run_fit_resumes_from_a_checkpoint(run_fit: Callable[..., FitResult]) -> None:
    class SaveEachEpoch(Callback):
        def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
            trainer = trainer_state["train_module"]
            trainer.save_checkpoint(
                trainer.output_dir / "checkpoints" / f"epoch{trainer.epoch}.ckpt"
            )

    first = run_fit([SaveEachEpoch(), Counter()], epochs=2, test=False)
    assert [p.name for p in first.checkpoints] == ["epoch0.ckpt", "epoch1.ckpt"]
    counter = Counter()
    second = run_fit([counter], epochs=3, resume_from="last", test=False)
    assert counter.count == 3  # 2 restored from the checkpoint, 1 more epoch
    second.calls.assert_called(
        "on_train_epoch_start", times=1, **{"trainer_state.current_epoch": 2}
    )
    straight = run_fit(
        [Counter()], epochs=3, test=False, output_dir=first.output_dir.parent / "straight"
    )
    for a, b in zip(second.model.parameters(), straight.model.parameters(), strict=True):
        assert torch.allclose(a, b)


def test_run_fit_scheduler_and_learning_rate(run_fit: Callable[..., FitResult]) -> None:
    class LearningRate(Callback):
        def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            pass

        def on_train_batch_end(
            self, trainer_state: Any, *args: Any, **kwargs: Any
        ) -> dict[str, float]:
            return {"lr": trainer_state["train_module"]._optimizers[0].param_groups[0]["lr"]}

    result = run_fit(
        [LearningRate()],
        epochs=3,
        lr=0.4,
        scheduler=lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, 1, 0.5),
        test=False,
    )
    lrs = [r["lr"] for r in result.calls.results("on_train_batch_end")]
    assert lrs == [0.4] * 3 + [0.2] * 3 + [0.1] * 3
    frozen = run_fit(lr=0.0, epochs=2, test=False, output_dir=result.output_dir.parent / "frozen")
    losses = [m["val/loss"] for m in frozen.calls.values("on_validation_end", "metrics")]
    assert losses[0] == losses[1] and not math.isnan(losses[0])


def test_run_fit_rejects_what_is_not_a_plugin(tmp_path: Path) -> None:
    with pytest.raises(
        TypeError, match=r"is a class or function; give an instance \(e\.g\. Counter\(\)\)"
    ):
        run_fit([Counter], tmp_path=tmp_path)
    with pytest.raises(TypeError, match="is not a plugin; give a name"):
        run_fit([42], tmp_path=tmp_path)
    with pytest.raises(ValueError, match="batches must be at least 1, got 0"):
        run_fit(batches=0, tmp_path=tmp_path)
    with pytest.raises(
        PluginNotFoundError, match="no installed hookwise plugin is named 'no_such_plugin'"
    ):
        run_fit(["no_such_plugin"], tmp_path=tmp_path)


def test_run_fit_without_tmp_path_writes_under_pytests_temporary_base(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Under pytest nothing is left in the system's temp folder: pytest removes its base."""
    first = run_fit(epochs=1, test=False)
    second = run_fit(epochs=1, test=False)
    base = tmp_path_factory.getbasetemp()
    for result in (first, second):
        assert result.output_dir.name == "run"
        assert result.output_dir.parent.parent == base
    assert first.output_dir != second.output_dir


def test_run_fit_outside_pytest_writes_into_a_new_temporary_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from hookwise.testing import _fit

    monkeypatch.setattr(_fit, "temp_factory", None)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    result = run_fit(epochs=1, test=False)
    assert result.output_dir.name == "run"
    assert result.output_dir.parent.parent == tmp_path
    assert result.output_dir.parent.name.startswith("hookwise-run-fit-")


def test_tiny_job_is_a_hookwise_fit_config_whose_targets_resolve() -> None:
    import tomllib
    from hookwise.targets import instantiate, resolve
    from hookwise.testing import TinyModel, tiny_job

    job = tiny_job(num_threads=1, epochs=1)
    config = tomllib.loads(job)
    assert config["trainer"] == {"epochs": 1, "device": "cpu", "num_threads": 1}
    assert resolve(config["model"]["target"]) is TinyModel
    loader = instantiate(config["data"]["train"])
    assert len(loader.dataset) == 12 and next(iter(loader))["inputs"].shape == (4, 4)
    # one setting a line: a test can change one by replacing its text
    assert "lr = 0.1\n" in job and 'device = "cpu"\n' in job
    assert tomllib.loads(job.replace("lr = 0.1", "lr = 0.5"))["optimizer"]["lr"] == 0.5
