"""HookRecorder and the hook_recorder fixture, on real plugins in real fits."""

from __future__ import annotations

import types
from typing import Any

import pytest
import torch
from hookwise import Callback, PluginManager, Trainer, hookimpl
from hookwise.testing import HookRecorder, IsolatedPluginManager, run_fit


class Counter(Callback):
    """Returns the batch index as a log, and counts validation passes."""

    def __init__(self) -> None:
        super().__init__()
        self.validations = 0

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> dict[str, float]:
        return {"batch": float(batch_idx)}

    def on_validation_end(self, trainer_state: Any, model: Any, metrics: Any) -> None:
        self.validations += 1


def hookimpl_module() -> types.ModuleType:
    """A module of @hookimpl functions, as a plugin distribution would ship one."""
    module = types.ModuleType("epoch_watcher")
    seen: list[int] = []

    @hookimpl
    def on_train_epoch_end(trainer_state: Any) -> None:
        seen.append(trainer_state["current_epoch"])

    @hookimpl(trylast=True)
    def on_validation_end(metrics: Any) -> None:
        return None

    module.on_train_epoch_end = on_train_epoch_end  # type: ignore[attr-defined]
    module.on_validation_end = on_validation_end  # type: ignore[attr-defined]
    module.seen = seen  # type: ignore[attr-defined]
    return module


def test_every_hook_call_is_recorded_in_order_with_its_arguments(tmp_path: Any) -> None:
    result = run_fit([Counter()], epochs=2, batches=3, tmp_path=tmp_path)
    calls = result.calls
    epoch = [
        "on_train_epoch_start",
        *["on_train_batch_start", "on_before_optimizer_step", "on_train_batch_end"] * 3,
        "on_train_epoch_end",
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_test_batch_end",
        "on_test_epoch_end",
        "on_validation_end",
    ]
    test = ["on_test_epoch_start", "on_test_batch_end", "on_test_batch_end"]
    test += ["on_test_epoch_end", "on_validation_end"]
    assert calls.hooks() == ["setup", "on_fit_start", *epoch, *epoch, "on_fit_end", *test]
    calls.assert_called("on_train_batch_end", times=6, batch_idx=[0, 1, 2, 0, 1, 2])
    calls.assert_called("on_test_batch_end", times=6, dataloader_idx=0)
    calls.assert_called("on_train_epoch_end", **{"trainer_state.current_epoch": [0, 1]})
    assert calls.values("on_train_batch_end", "trainer_state.global_step") == [1, 2, 3, 4, 5, 6]
    calls.assert_order("on_test_epoch_end", "on_validation_end")
    calls.assert_order("on_fit_start", "on_train_epoch_end", "on_fit_end", "on_validation_end")
    # The arguments are the trainer's own objects.
    assert all(m is result.model for m in calls.values("on_fit_start", "model"))
    batch = calls.of("on_train_batch_end")[0].kwargs["batch"]
    assert set(batch) == {"inputs", "labels"} and batch["inputs"].shape == (4, 4)


def test_the_answering_plugin_and_its_result_are_recorded(tmp_path: Any) -> None:
    watcher = hookimpl_module()
    result = run_fit([Counter(), watcher], epochs=2, tmp_path=tmp_path, eval_loss=False)
    calls = result.calls
    calls.assert_called("on_train_batch_end", times=6, plugin="Counter")
    assert calls.results("on_train_batch_end", plugin="Counter") == [
        {"batch": float(i)} for i in (0, 1, 2, 0, 1, 2)
    ]
    calls.assert_called("on_train_epoch_end", times=2, plugin="epoch_watcher")
    assert watcher.seen == [0, 1]  # type: ignore[attr-defined]
    # on_validation_end is answered by both plugins: one record each, sharing the invocation;
    # without plugin= the helpers count hook calls.
    answers = [c for c in calls.calls if c.hook == "on_validation_end"]
    assert [c.plugin for c in answers] == ["Counter", "epoch_watcher"] * 3
    assert answers[0].invocation == answers[1].invocation != answers[2].invocation
    calls.assert_called("on_validation_end", times=3)
    assert calls.plugins("on_validation_end") == ["Counter", "epoch_watcher"]
    # A hook nobody implements is still recorded, once per call, with plugin None.
    starts = calls.of("on_train_batch_start")
    assert len(starts) == 6 and {c.plugin for c in starts} == {None}
    assert calls.hooks(plugin="epoch_watcher") == [
        "on_train_epoch_end",
        "on_validation_end",
    ] * 2 + ["on_validation_end"]


def test_recording_changes_no_result(tmp_path: Any) -> None:
    """Logs (and their attribution, which decides clash names) are the same with or without."""

    class Clash(Callback):
        def on_train_batch_end(self, *args: Any, **kwargs: Any) -> dict[str, float]:
            return {"batch": -1.0}

    recorded = run_fit([Counter(), Clash()], tmp_path=tmp_path / "a")
    pm = PluginManager()
    pm.register(Counter(), "Counter")
    pm.register(Clash(), "Clash")
    plain = Trainer(plugins=pm, output_dir=tmp_path / "b", **_tiny_trainer_kwargs())
    parts = _tiny_fit_parts()
    plain.fit(parts["model"], parts["optimizer"], None, parts["loss"])
    assert recorded.metrics["train/batch"] == plain.metrics["train/batch"] == 2.0
    assert recorded.metrics["train/batch@Clash"] == plain.metrics["train/batch@Clash"] == -1.0


def _tiny_fit_parts() -> dict[str, Any]:
    from hookwise.testing._fit import _tiny_parts

    return _tiny_parts(0, 3, 4, 2, 0.1)


def _tiny_trainer_kwargs() -> dict[str, Any]:
    parts = _tiny_fit_parts()
    return {
        "device": "cpu",
        "train_dataloader": parts["train"],
        "test_dataloader": [parts["val"]],
        "train_data_connector": parts["connector"],
        "num_epochs": 2,
        "seed": 0,
    }


def test_exceptions_are_recorded_and_still_raised(tmp_path: Any) -> None:
    class Broken(Callback):
        def on_train_batch_end(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("broken on purpose")

    class Reporter(Callback):
        def on_exception(self, *args: Any, **kwargs: Any) -> None:
            pass

    pm = IsolatedPluginManager()
    recorder = HookRecorder().attach(pm)
    with pytest.raises(RuntimeError, match="broken on purpose") as info:
        run_fit([Broken(), Reporter()], pm=pm, tmp_path=tmp_path)
    assert "plugin 'Broken' failed in hook 'on_train_batch_end'" in "\n".join(info.value.__notes__)
    failed = recorder.of("on_train_batch_end", plugin="Broken")
    assert len(failed) == 1 and failed[0].exception is info.value
    # The trainer reports the failure to on_exception's implementations.
    recorder.assert_called("on_exception", times=1, fatal=True, plugin="Reporter")
    assert recorder.of("on_exception")[0].kwargs["exception"] is info.value
    recorder.assert_order("on_train_batch_end", "on_exception")


def test_assertion_messages_say_what_was_expected_and_what_happened(tmp_path: Any) -> None:
    calls = run_fit([Counter()], epochs=2, tmp_path=tmp_path).calls
    with pytest.raises(
        AssertionError, match=r"called 6 times, expected 5\. Recorded calls per hook: setup x1"
    ):
        calls.assert_called("on_train_batch_end", times=5)
    with pytest.raises(
        AssertionError,
        match=r"'batch_idx' was \[0, 1, 2, 0, 1, 2\] over 6 calls, expected \[0, 1, 2\]",
    ):
        calls.assert_called("on_train_batch_end", batch_idx=[0, 1, 2])
    with pytest.raises(AssertionError, match=r"expected to be 1 in every call; 5 of 6 differ"):
        calls.assert_called("on_train_batch_end", **{"trainer_state.global_step": 1})
    with pytest.raises(AssertionError, match="never called answered by plugin 'Nobody'"):
        calls.assert_called("on_fit_end", plugin="Nobody")
    with pytest.raises(AssertionError, match="no call of 'on_fit_start' came after 'on_fit_end'"):
        calls.assert_order("on_fit_end", "on_fit_start")
    with pytest.raises(AssertionError, match="'on_exception' was never called"):
        calls.assert_order("on_fit_start", "on_exception")
    with pytest.raises(AssertionError, match="called 6 times, expected never"):
        calls.assert_not_called("on_train_batch_end")
    calls.assert_not_called("on_exception")
    with pytest.raises(
        ValueError, match=r"no hook named 'on_train_batch_ends'\. Did you mean 'on_train_batch_end'"
    ):
        calls.assert_called("on_train_batch_ends")
    with pytest.raises(KeyError, match="has no argument 'batch_index'"):
        calls.values("on_train_batch_end", "batch_index")
    with pytest.raises(KeyError, match=r"'trainer_state\.epoch' has no 'epoch'; there are"):
        calls.values("on_train_batch_end", "trainer_state.epoch")


def test_values_compare_tensors_and_approx(tmp_path: Any) -> None:
    calls = run_fit([Counter()], epochs=1, tmp_path=tmp_path).calls
    inputs = [t.clone() for t in calls.values("on_train_batch_start", "batch.inputs")]
    calls.assert_called("on_train_batch_end", times=3, **{"batch.inputs": inputs})
    with pytest.raises(AssertionError, match=r"'batch.inputs' was \[tensor\(shape=\(4, 4\)"):
        calls.assert_called("on_train_batch_end", **{"batch.inputs": [torch.zeros(4, 4)] * 3})
    val_loss = calls.values("on_validation_end", "metrics")[0]["val/loss"]
    calls.assert_called(
        "on_validation_end",
        metrics=[{"val/loss": pytest.approx(val_loss)}, {"test/loss": pytest.approx(val_loss)}],
    )


def test_hook_recorder_fixture_records_every_manager_of_the_test(
    hook_recorder: HookRecorder, tmp_path: Any
) -> None:
    parts = _tiny_fit_parts()
    trainer = Trainer(output_dir=tmp_path, **_tiny_trainer_kwargs(), num_steps=2)
    trainer.pm.register(Counter(), "Counter")
    trainer.fit(parts["model"], parts["optimizer"], None, parts["loss"])
    hook_recorder.assert_called("on_train_batch_end", times=2, batch_idx=[0, 1], plugin="Counter")
    assert hook_recorder.managers == [trainer.pm]


def test_hook_recorder_fixture_records_hookwise_pm(
    hookwise_pm: IsolatedPluginManager, hook_recorder: HookRecorder, tmp_path: Any
) -> None:
    assert hookwise_pm in hook_recorder.managers
    counter = Counter()
    hookwise_pm.register(counter, "Counter")
    result = run_fit(pm=hookwise_pm, epochs=1, tmp_path=tmp_path)
    # Both the fixture's recorder and the run's own saw the same calls.
    assert hook_recorder.hooks() == result.calls.hooks()
    hook_recorder.assert_called("on_validation_end", times=2, plugin="Counter")
    assert counter.validations == 2


def test_detach_stops_recording_and_restores_the_plain_call_path(tmp_path: Any) -> None:
    pm = IsolatedPluginManager()
    pm.register(Counter(), "Counter")
    before = pm.hook_order("on_train_batch_end")
    recorder = HookRecorder().attach(pm)
    assert recorder.attach(pm) is recorder  # attaching twice is a no-op
    assert pm.caller("on_train_batch_start").wrappers  # the spy makes every hook run
    recorder.detach()
    assert pm.hook_order("on_train_batch_end") == before
    assert not pm.caller("on_train_batch_start").wrappers
    run_fit(pm=pm, epochs=1, tmp_path=tmp_path)
    assert len(recorder) == 0


def test_a_plugin_wrapper_still_wraps_and_sees_results(tmp_path: Any) -> None:
    seen: list[Any] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def on_train_batch_end(self, batch_idx: int) -> Any:
            result = yield
            seen.append((batch_idx, result))
            return result

    result = run_fit([Counter(), Wrapper()], epochs=1, tmp_path=tmp_path)
    assert seen == [(i, [{"batch": float(i)}]) for i in range(3)]
    assert result.metrics["train/batch"] == 2.0
