"""How hooks are called: a ``Callback``'s unmarked methods as vis4d 0.1.2's trainer calls them
(epoch hooks positionally, batch hooks by keyword), ``@hookimpl`` functions (methods of a
``Callback`` included) by pluggy's rules; an enabled object with no hook is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hookwise import Callback, PluginManager, Trainer, hookimpl
from hookwise.errors import PluginValidationError
from hookwise.testing import run_fit


class Vis4dStyle(Callback):
    """Parameter names and shapes vis4d's trainer accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[tuple[str, Any]] = []

    def on_train_epoch_start(self, *args: Any) -> None:  # type: ignore[override]
        self.got.append(("train_epoch_start", len(args)))

    def on_train_epoch_end(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.got.append(("train_epoch_end", (len(args), sorted(kwargs))))

    def on_test_epoch_start(self, state: Any, net: Any) -> None:  # type: ignore[override]
        self.got.append(("test_epoch_start", type(net).__name__))

    def on_test_epoch_end(self, state: Any, net: Any) -> None:  # type: ignore[override]
        self.got.append(("test_epoch_end", state["current_epoch"]))

    def on_train_batch_end(self, **kwargs: Any) -> None:  # type: ignore[override]
        self.got.append(("train_batch_end", sorted(kwargs)))

    def on_test_batch_end(  # type: ignore[override]
        self,
        model: Any,
        trainer_state: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.got.append(("test_batch_end", (type(model).__name__, dataloader_idx)))


def test_callback_hooks_are_called_as_vis4d_calls_them_by_the_trainer(tmp_path: Path) -> None:
    callback = Vis4dStyle()
    run_fit([callback], tmp_path=tmp_path, epochs=1, batches=2, val_batches=1, test=False)
    got = callback.got
    assert ("train_epoch_start", 3) in got
    assert ("train_epoch_end", (3, [])) in got
    assert ("test_epoch_start", "TinyModel") in got and ("test_epoch_end", 0) in got
    batch_args = ["batch", "batch_idx", "loss_module", "model", "outputs", "trainer_state"]
    assert got.count(("train_batch_end", batch_args)) == 2
    assert ("test_batch_end", ("TinyModel", 0)) in got


class MarkedMethods(Callback):
    """A ``Callback`` whose marked methods ask for arguments by name, as pluggy's rules say."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Any] = []

    @hookimpl
    def on_train_epoch_end(self, model: Any) -> None:  # type: ignore[override]
        self.got.append(("epoch_end", model))

    @hookimpl(tryfirst=True)
    def on_train_batch_end(self, batch_idx: int) -> None:  # type: ignore[override]
        self.got.append(("batch_end", batch_idx))

    def on_test_epoch_end(self, state: Any, net: Any) -> None:  # type: ignore[override]
        self.got.append(("unmarked", net))


def test_marked_methods_of_a_callback_follow_pluggy_on_every_path() -> None:
    plugin = MarkedMethods()
    pm = PluginManager()
    pm.register(plugin, "marked")
    batch = {"trainer_state": {}, "model": 1, "loss_module": 2, "outputs": 3, "batch": 4}
    for _ in range(2):  # pluggy's loop on the first call after a change, generated code after
        pm.hook.on_train_epoch_end(trainer_state={}, model="MODEL", loss_module="LOSS")
        pm.caller("on_train_epoch_end").call_ordered(
            trainer_state={}, model="MODEL", loss_module="LOSS"
        )
        pm.caller("on_train_batch_end").call_attributed(**batch, batch_idx=5)
        pm.hook.on_test_epoch_end(trainer_state={}, model="NET")
    assert plugin.got[:4] == [
        ("epoch_end", "MODEL"),  # by name: the model, not the first argument
        ("epoch_end", "MODEL"),
        ("batch_end", 5),
        ("unmarked", "NET"),  # unmarked: positionally, as vis4d
    ]
    assert plugin.got[4:] == plugin.got[:4]


def test_a_marked_method_is_validated_as_pluggy_validates() -> None:
    class Renamed(Callback):
        @hookimpl
        def on_test_epoch_end(self, state: Any, net: Any) -> None:  # type: ignore[override]
            pass

    with pytest.raises(
        PluginValidationError, match=r"(?s)'renamed'.*\['state', 'net'\] are not arguments"
    ):
        PluginManager().register(Renamed(), "renamed")


class Unported:
    """A vis4d callback whose import was not changed: its class is not hookwise's."""

    def __init__(self, interval: int = 1) -> None:
        self.interval = interval

    def on_train_batch_start(self, trainer_state: Any, model: Any, *rest: Any) -> None:
        pass


@pytest.mark.parametrize(
    "enable",
    [
        {"callbacks": [Unported()]},
        {"plugins": [(f"{__name__}:Unported", {"interval": 2})]},
    ],
)
def test_an_enabled_object_without_hooks_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enable: dict[str, Any]
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    with pytest.raises(PluginValidationError) as info:
        Trainer(device="cpu", output_dir=tmp_path / "run", **enable)
    message = str(info.value)
    assert "Unported" in message and "implements no hook" in message
    assert "hookwise.Callback subclass" in message and "@hookwise.hookimpl" in message
    PluginManager().register(Unported(), "plain")  # pm.register keeps pluggy's rules


@pytest.mark.parametrize("where", ["-p", "config"])
def test_the_command_line_refuses_an_object_without_hooks(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    from hookwise.cli import main

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    name = "test_vis4d_calling:Unported"
    if where == "-p":
        args = ["fit", "--dry-run", "-p", f"{name}:interval=2"]
    else:
        config = tmp_path / "job.toml"
        config.write_text(f'[plugins."{name}"]\ninterval = 2\n', encoding="utf-8")
        args = ["fit", str(config), "--dry-run"]
    assert main(args) != 0
    err = capsys.readouterr().err
    assert f"plugin {name!r}" in err and "implements no hook" in err
    assert "hookwise.Callback subclass" in err
    assert ("named in -p" in err) if where == "-p" else ("named in " + str(config)) in err
