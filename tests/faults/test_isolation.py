"""Isolation between plugins (trust.state-readonly): the trainer state a hook call gives its
implementations is one read-only view, so no plugin can change what the others see.

The reported bug: a plugin doing ``trainer_state["current_epoch"] += 1`` in
``on_train_epoch_end`` made a two-epoch run with the checkpoint plugin write no checkpoint at
all, exit 0, with no warning (the plugins of one hook call shared one mutable ``dict``).
"""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import fit, make_trainer
from hookwise import Callback, PluginManager
from hookwise.checkpointing import load_checkpoint
from hookwise.errors import StateWriteError
from hookwise.readonly import ReadOnlyState
from torch import nn


class BumpsEpoch(Callback):
    """The reported plugin: counts epochs in the trainer state."""

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        trainer_state["current_epoch"] += 1


def _run(folder: Path, policy: str | None) -> PluginManager:
    """Two epochs with the checkpoint plugin; with ``policy``, :class:`BumpsEpoch` runs first
    in every hook call, under that error policy."""
    pm = PluginManager()
    if policy is not None:
        pm.register(BumpsEpoch(), "bumps", on_error=policy)
    pm.enable("checkpoint")
    if policy is not None:
        assert pm.hook_order("on_train_epoch_end") == ["bumps", "checkpoint"]
    fit(make_trainer(folder, plugins=pm, epochs=2))
    return pm


def _checkpoints(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.name: load_checkpoint(p) for p in sorted((folder / "checkpoints").glob("*.ckpt"))}


@pytest.mark.fault("trust.state-readonly")
def test_the_reported_write_is_an_error_naming_the_plugin(tmp_path: Path) -> None:
    with pytest.raises(StateWriteError) as info:
        _run(tmp_path / "run", "raise")
    message = str(info.value)
    assert message.startswith(
        "plugin 'bumps' tried to set trainer_state['current_epoch'] in hook 'on_train_epoch_end'"
    ), message
    assert "read-only" in message and "request_stop(reason)" in message
    assert "dict(trainer_state)" in message and "self.<name>" in message
    assert (info.value.plugin, info.value.hook) == ("bumps", "on_train_epoch_end")
    assert isinstance(info.value, TypeError)  # what writing a read-only mapping raises in Python
    assert "plugin 'bumps' failed in hook 'on_train_epoch_end' at epoch 0, step 3" in (
        info.value.__notes__
    )


@pytest.mark.fault("trust.state-readonly")
def test_warn_reports_it_and_checkpoints_are_those_of_a_run_without_the_plugin(
    tmp_path: Path, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    pm = _run(tmp_path / "warned", "warn")
    reports = [r.getMessage() for r in hookwise_logs.records if "failed in hook" in r.getMessage()]
    assert reports and "plugin 'bumps' failed in hook 'on_train_epoch_end'" in reports[0]
    assert "plugin 'bumps' tried to set trainer_state['current_epoch']" in reports[0]
    assert pm.failures["bumps"].count == 2  # once per epoch

    _run(tmp_path / "reference", None)
    warned, reference = _checkpoints(tmp_path / "warned"), _checkpoints(tmp_path / "reference")
    assert sorted(warned) == sorted(reference)
    assert {"epoch=0-step=3.ckpt", "epoch=1-step=6.ckpt", "last.ckpt"} <= set(warned)
    for name, saved in warned.items():
        assert (saved["epoch"], saved["global_step"]) == (
            reference[name]["epoch"],
            reference[name]["global_step"],
        ), name
        for key, tensor in saved["model"].items():
            assert torch.equal(tensor, reference[name]["model"][key]), (name, key)


# -- every mutator, in every hook; every read still works -----------------------------------------


def _set(state: Any) -> None:
    state["current_epoch"] = 99


def _augment(state: Any) -> None:
    state["global_step"] += 1


def _delete(state: Any) -> None:
    del state["num_epochs"]


def _update(state: Any) -> None:
    state.update(current_epoch=99)


def _pop(state: Any) -> None:
    state.pop("stage")


def _popitem(state: Any) -> None:
    state.popitem()


def _setdefault(state: Any) -> None:
    state.setdefault("extra", 1)


def _clear(state: Any) -> None:
    state.clear()


def _merge(state: Any) -> None:
    state |= {"current_epoch": 99}


MUTATORS: dict[str, Callable[[Any], None]] = {
    "state[k] = v": _set,
    "state[k] += 1": _augment,
    "del state[k]": _delete,
    "update": _update,
    "pop": _pop,
    "popitem": _popitem,
    "setdefault": _setdefault,
    "clear": _clear,
    "|=": _merge,
}
PLAIN_KEYS = ("current_epoch", "num_epochs", "global_step", "num_steps", "stage")


class Prober(Callback):
    """In every hook it implements: each mutator must raise :class:`StateWriteError` (caught
    here) and leave the state as it was; the reads vis4d code makes must work."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.hooks: set[str] = set()

    def _probe(self, hook: str, state: Any) -> None:
        self.hooks.add(hook)
        before = dict(state)
        for name, mutate in MUTATORS.items():
            try:
                mutate(state)
            except StateWriteError as error:
                if "trainer_state" not in str(error):
                    self.problems.append(f"{hook}: {name}: {error}")
            else:
                self.problems.append(f"{hook}: {name} did not raise")
        checks = {
            "unchanged": dict(state) == before and state == before,
            "isinstance dict": isinstance(state, dict),
            "reads": state["trainer"] is state["train_module"] and state.get("nope", 1) == 1,
            "json": json.loads(json.dumps({k: state[k] for k in PLAIN_KEYS}))["stage"]
            == state["stage"],
            "copies are plain dicts": all(
                type(c) is dict and c == before
                for c in (dict(state), state.copy(), copy.copy(state), {**state}, state | {})
            ),
        }
        mine = state.copy()
        mine["current_epoch"] = -1  # a copy is the plugin's own
        checks["a copy changes alone"] = state["current_epoch"] != -1
        self.problems += [f"{hook}: {name} failed" for name, ok in checks.items() if not ok]
        if "metrics" in state:
            self._probe_metrics(hook, state["metrics"], "trainer_state['metrics']")

    def _probe_metrics(self, hook: str, metrics: Mapping[str, Any], name: str) -> None:
        key = next(iter(metrics))
        value = metrics[key]
        for attempt in (
            lambda m: m.__setitem__(key, 0.0),
            lambda m: m.pop(key),
            lambda m: m.update({key: 0.0}),
            lambda m: m.clear(),
        ):
            try:
                attempt(metrics)
            except StateWriteError as error:
                if name not in str(error):
                    self.problems.append(f"{hook}: {error}")
            else:
                self.problems.append(f"{hook}: a write to {name} did not raise")
        if metrics[key] != value or not isinstance(metrics[key], float):
            self.problems.append(f"{hook}: {name}[{key!r}] changed or is not a float")

    def on_fit_start(self, trainer_state: Any, model: nn.Module) -> None:
        self._probe("on_fit_start", trainer_state)

    def on_train_epoch_start(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self._probe("on_train_epoch_start", trainer_state)

    def on_train_batch_start(
        self, trainer_state: Any, model: nn.Module, loss_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self._probe("on_train_batch_start", trainer_state)

    def on_before_optimizer_step(
        self, trainer_state: Any, model: nn.Module, optimizer: Any
    ) -> None:
        self._probe("on_before_optimizer_step", trainer_state)

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self._probe("on_train_batch_end", trainer_state)

    def on_train_epoch_end(self, trainer_state: Any, model: nn.Module, loss_module: Any) -> None:
        self._probe("on_train_epoch_end", trainer_state)
        optimizers = trainer_state["optimizers"]
        optimizers.clear()  # a copy: the trainer's own list is not changed
        if not trainer_state["trainer"].optimizers:
            self.problems.append("on_train_epoch_end: the optimizers list is the trainer's")

    def on_test_epoch_start(self, trainer_state: Any, model: nn.Module) -> None:
        self._probe("on_test_epoch_start", trainer_state)

    def on_test_batch_end(
        self,
        trainer_state: Any,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._probe("on_test_batch_end", trainer_state)

    def on_test_epoch_end(self, trainer_state: Any, model: nn.Module) -> dict[str, float]:
        self._probe("on_test_epoch_end", trainer_state)
        return {"probed": 1.0}  # on_validation_end's metrics

    def on_validation_end(
        self, trainer_state: Any, model: nn.Module, metrics: Mapping[str, float]
    ) -> None:
        self._probe("on_validation_end", trainer_state)
        self._probe_metrics("on_validation_end", metrics, "metrics")

    def on_fit_end(self, trainer_state: Any, model: nn.Module) -> None:
        self._probe("on_fit_end", trainer_state)


@pytest.mark.fault("trust.state-readonly")
def test_every_mutator_raises_in_every_hook_and_reads_copies_and_json_still_work(
    tmp_path: Path,
) -> None:
    prober = Prober()
    pm = PluginManager()
    pm.register(prober, "prober")
    trainer = make_trainer(tmp_path / "run", plugins=pm, epochs=2, batches=2)
    fit(trainer)
    assert prober.problems == []
    assert prober.hooks == {
        "on_fit_start",
        "on_train_epoch_start",
        "on_train_batch_start",
        "on_before_optimizer_step",
        "on_train_batch_end",
        "on_train_epoch_end",
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_test_epoch_end",
        "on_validation_end",
        "on_fit_end",
    }
    assert trainer.global_step == 4 and trainer.epoch == 2


@pytest.mark.fault("trust.state-readonly")
def test_a_write_in_on_exception_is_logged_naming_the_plugin(
    tmp_path: Path, hookwise_logs: pytest.LogCaptureFixture
) -> None:
    class Fails(Callback):
        def on_train_batch_start(self, trainer_state: Any, *args: Any) -> None:
            raise RuntimeError("injected")

    class WritesOnException(Callback):
        def on_exception(
            self, trainer_state: Any, model: nn.Module, exception: BaseException, fatal: bool
        ) -> None:
            trainer_state["fatal"] = fatal

    pm = PluginManager()
    pm.register(Fails(), "fails")
    pm.register(WritesOnException(), "writer")
    with pytest.raises(RuntimeError, match="injected"):
        fit(make_trainer(tmp_path / "run", plugins=pm, epochs=1))
    logged = [r for r in hookwise_logs.records if "failed in hook 'on_exception'" in r.message]
    assert len(logged) == 1 and logged[0].exc_info is not None
    error = logged[0].exc_info[1]
    assert isinstance(error, StateWriteError)
    assert str(error).startswith(
        "plugin 'writer' tried to set trainer_state['fatal'] in hook 'on_exception'"
    )


@pytest.mark.fault("trust.state-readonly")
def test_the_view_copies_and_pickles_as_a_plain_dict() -> None:
    state = ReadOnlyState({"current_epoch": 1, "nested": {"a": [1, 2]}}, global_step=7)
    assert json.loads(json.dumps(state)) == {
        "current_epoch": 1,
        "nested": {"a": [1, 2]},
        "global_step": 7,
    }
    for plain in (copy.deepcopy(state), pickle.loads(pickle.dumps(state)), copy.copy(state)):
        assert type(plain) is dict and plain == state
        plain["current_epoch"] = 2  # the copy is mutable
    assert state["current_epoch"] == 1
    deep = copy.deepcopy(state)
    deep["nested"]["a"].append(3)
    assert state["nested"] == {"a": [1, 2]}
    with pytest.raises(StateWriteError, match=r"^a plugin tried to set trainer_state\['x'\]:"):
        state["x"] = 1


@pytest.mark.fault("trust.state-readonly")
def test_get_state_stays_a_plain_dict_whose_lists_are_not_the_trainers(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path / "run", plugins=PluginManager())
    optimizers: list[Any] = []
    state = trainer.get_state(optimizers=optimizers)  # vis4d's Trainer.get_state: a dict to keep
    assert type(state) is dict
    state["current_epoch"] = 5
    assert trainer.epoch == 0
    assert state["optimizers"] == optimizers and state["optimizers"] is not optimizers
    assert state["test_dataloader"] == trainer.test_dataloader
    assert state["test_dataloader"] is not trainer.test_dataloader
