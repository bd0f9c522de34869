"""What vis4d 0.1.2's trainer offered its callbacks through ``trainer_state["train_module"]``:
a ``str``-compatible output folder, a TensorBoard ``writer``, and ``train_engine == "vis4d"``
(so that vis4d's YOLOX callbacks, ported by changing imports only, run)."""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    Callback,
    DataConnector,
    LossConnector,
    LossModule,
    Trainer,
    data_key,
    pred_key,
)
from hookwise.trainer.vis4d_view import OutputDir
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset

PORTS = Path(__file__).with_name("vis4d_yolox_ports.py")


def _load_ports() -> Any:
    spec = importlib.util.spec_from_file_location("vis4d_yolox_ports", PORTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


yolox = _load_ports()


class VisualizerLike(Callback):
    """vis4d-style code that writes under the trainer's folder the way vis4d code did."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, Any] = {}

    def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        train_module = trainer_state["train_module"]
        folder = train_module.output_dir + "/vis"
        os.makedirs(folder, exist_ok=True)
        self.seen["folder"] = folder
        self.seen["prefixed"] = "file://" + train_module.output_dir
        self.seen["endswith"] = train_module.output_dir.endswith("run")
        self.seen["split"] = train_module.output_dir.split("/")[-1]
        self.seen["engine"] = trainer_state["train_engine"]
        train_module.writer.add_scalar("vis/epoch", trainer_state["current_epoch"], 0)


def test_output_dir_is_a_path_and_a_str(tmp_path: Path) -> None:
    folder = OutputDir(tmp_path / "run")
    assert isinstance(folder, Path) and folder == tmp_path / "run"
    assert folder / "x" == tmp_path / "run" / "x" and (folder / "x") + "/y" == f"{folder}/x/y"
    assert folder + "/ckpt" == f"{tmp_path}/run/ckpt" and "at " + folder == f"at {tmp_path}/run"
    assert "run" in folder and folder[-3:] == "run" and len(folder) == len(str(folder))
    assert folder.rstrip("n") == str(folder)[:-1] and folder.upper() == str(folder).upper()
    assert folder.replace("run", "walk") == f"{tmp_path}/walk"  # str.replace: two strings
    assert os.path.join(folder, "a") == f"{tmp_path}/run/a" and os.fspath(folder) == str(folder)
    assert bool(OutputDir("."))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_method'"):
        folder.no_such_method()  # type: ignore[attr-defined]


def test_train_module_offers_a_str_folder_and_a_writer(tmp_path: Path) -> None:
    callback = VisualizerLike()
    trainer = _trainer(tmp_path, [callback], num_epochs=1)
    trainer.fit(*_model_and_optimizer(), loss_module=_loss())
    seen = callback.seen
    assert seen["folder"] == f"{tmp_path}/run/vis" and Path(seen["folder"]).is_dir()
    assert seen["prefixed"] == f"file://{tmp_path}/run"
    assert seen["endswith"] is True and seen["split"] == "run"
    assert seen["engine"] == "vis4d"
    assert list((tmp_path / "run").glob("events.out.tfevents.*"))  # the writer wrote there
    assert trainer._vis4d_writer is None  # closed at the end of the fit
    assert isinstance(trainer.output_dir, OutputDir)


def test_no_event_file_unless_the_writer_is_used(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, [], num_epochs=1)
    trainer.fit(*_model_and_optimizer(), loss_module=_loss())
    assert not list((tmp_path / "run").glob("events.out.tfevents.*"))


def test_no_writer_on_other_ranks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trainer = _trainer(tmp_path, [], num_epochs=1)
    monkeypatch.setattr("hookwise.distributed.get_rank", lambda: 1)
    with pytest.raises(AttributeError, match="rank 0 only"):
        trainer.writer  # noqa: B018
    assert not hasattr(trainer, "writer")


# -- YOLOX ------------------------------------------------------------------------------------


class Boxes(Dataset[dict[str, Any]]):
    """Images of 32x32 with two boxes each, and a label."""

    def __init__(self, size: int, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.images = torch.rand(size, 3, 32, 32, generator=generator)
        self.labels = torch.randint(0, 2, (size,), generator=generator)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        boxes = torch.tensor([[2.0, 4.0, 10.0, 12.0], [0.0, 0.0, 32.0, 32.0]])
        return {"images": self.images[index], "labels": self.labels[index], "boxes2d": boxes}


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "images": torch.stack([s["images"] for s in samples]),
        "labels": torch.stack([s["labels"] for s in samples]),
        "boxes2d": [s["boxes2d"] for s in samples],
    }


class TinyDetector(nn.Module):
    """Any input size: a conv, batch norm, pooling and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 2)
        self.input_sizes: list[tuple[int, int]] = []

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        self.input_sizes.append((images.shape[-2], images.shape[-1]))
        features = self.norm(self.conv(images)).mean(dim=(-2, -1))
        return {"logits": self.head(features)}


class Watcher(Callback):
    """Records the loader and validation setting each epoch starts with, and each training
    batch as the model saw it (the resize mutates it in place) with its loss terms."""

    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[tuple[Any, int | None]] = []
        self.sizes: list[tuple[int, int]] = []
        self.box_widths: list[float] = []
        self.loss_terms: list[list[str]] = []

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        trainer = trainer_state["train_module"]
        self.epochs.append(
            (type(trainer.train_dataloader.dataset), trainer.check_val_every_n_epoch)
        )

    def on_train_batch_end(
        self,
        trainer_state: Any,
        model: Any,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        first = batch["boxes2d"][0][0]
        self.box_widths.append(float(first[2] - first[0]))
        self.sizes.append(tuple(batch["images"].shape[-2:]))
        self.loss_terms.append(sorted(trainer_state["metrics"]))


def test_vis4d_yolox_callbacks_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    random.seed(0)
    head_loss = yolox.YOLOXHeadLoss()
    loss_module = LossModule(
        {
            "loss": head_loss,
            "connector": LossConnector(
                {"logits": pred_key("logits"), "labels": data_key("labels")}
            ),
        }
    )
    watcher = Watcher()
    callbacks = [
        yolox.YOLOXModeSwitchCallback(switch_epoch=2),
        yolox.YOLOXSyncNormCallback(),
        yolox.YOLOXSyncRandomResizeCallback(size_list=[(16, 16), (24, 24)], interval=1),
        watcher,
    ]
    train = DataLoader(
        ConcatDataset([Boxes(8, seed=1)]), batch_size=4, shuffle=True, collate_fn=collate
    )
    val = DataLoader(Boxes(4, seed=2), batch_size=4, collate_fn=collate)
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=train,
        test_dataloader=[val],
        train_data_connector=DataConnector({"images": "images"}),
        callbacks=callbacks,
        num_epochs=4,
        check_val_every_n_epoch=3,
        handle_signals=False,
        seed=0,
    )
    model = TinyDetector()
    with caplog.at_level(logging.INFO, logger="vis4d.common.logging"):
        trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), loss_module=loss_module)
    # the mode switch after epoch 1 (switch_epoch - 1): the new loader and validation setting
    # are used from epoch 2 on, and the L1 term is on
    assert watcher.epochs == [
        (ConcatDataset, 3),
        (ConcatDataset, 3),
        (yolox.DataPipe, 1),
        (yolox.DataPipe, 1),
    ]
    assert head_loss.loss_l1 is yolox.l1_loss
    before, after = ["YOLOXHeadLoss.cls", "loss"], ["YOLOXHeadLoss.cls", "YOLOXHeadLoss.l1", "loss"]
    assert watcher.loss_terms == [before] * 4 + [after] * 4
    # validation after epoch 1 (the switch sets every epoch before the trainer decides, as
    # in vis4d), 2 and 3, each preceded by the norm sync
    synced = [r for r in caplog.records if r.getMessage().startswith("Synced norm states")]
    assert len(synced) == 3
    # every training batch was resized in place before the forward pass, its boxes with it
    assert len(watcher.sizes) == 8 and set(watcher.sizes) <= {(16, 16), (24, 24)}
    assert [s for s in model.input_sizes if s not in watcher.sizes] == [(32, 32)] * 3
    assert all(width in (4.0, 6.0) for width in watcher.box_widths)  # 8 px scaled by 1/2, 3/4


def test_a_vis4d_callback_by_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.syspath_prepend(str(PORTS.parent))
    trainer = _trainer(
        tmp_path,
        [],
        num_epochs=1,
        plugins=["vis4d_yolox_ports:YOLOXSyncNormCallback"],
        test_dataloader=[DataLoader([_batch()], batch_size=None)],
        check_val_every_n_epoch=1,
    )
    with caplog.at_level(logging.INFO, logger="vis4d.common.logging"):
        trainer.fit(*_model_and_optimizer(), loss_module=_loss())
    assert [r.getMessage() for r in caplog.records if "Synced" in r.getMessage()] == [
        "Synced norm states across all processes."
    ]


def test_an_unknown_engine_still_fails_as_in_vis4d() -> None:
    callback = yolox.YOLOXModeSwitchCallback(switch_epoch=1)
    loader = DataLoader(ConcatDataset([Boxes(4, seed=1)]), batch_size=2, collate_fn=collate)
    state = {"current_epoch": 0, "train_dataloader": loader, "train_engine": "other"}
    state["train_module"] = type("Module", (), {})()
    with pytest.raises(ValueError, match="Unsupported training engine other"):
        callback.on_train_epoch_end(state, None, LossModule([]))  # type: ignore[arg-type]


# -- helpers ----------------------------------------------------------------------------------


def _batch() -> dict[str, torch.Tensor]:
    return {"inputs": torch.randn(4, 4), "labels": torch.tensor([0, 1, 0, 1])}


def _trainer(tmp_path: Path, callbacks: list[Any], **kwargs: Any) -> Trainer:
    torch.manual_seed(0)
    options: dict[str, Any] = {
        "device": "cpu",
        "output_dir": tmp_path / "run",
        "train_dataloader": DataLoader([_batch() for _ in range(3)], batch_size=None),
        "train_data_connector": DataConnector({"inputs": "inputs"}),
        "callbacks": callbacks,
        "check_val_every_n_epoch": None,
        "handle_signals": False,
    }
    return Trainer(**{**options, **kwargs})


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 2)

    def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.layer(inputs)}


def _model_and_optimizer() -> tuple[nn.Module, torch.optim.Optimizer]:
    model = _Linear()
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def _loss() -> LossModule:
    return LossModule(
        {
            "loss": nn.CrossEntropyLoss(),
            "connector": LossConnector({"input": pred_key("logits"), "target": data_key("labels")}),
        }
    )
