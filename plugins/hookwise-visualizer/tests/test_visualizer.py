"""The ``visualizer`` plugin in real tiny runs: PNG files at the right iterations, right size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import (
    ConfigError,
    DataConnector,
    PluginManager,
    Trainer,
)
from hookwise.testing import TinyData, TinyModel, tiny_loss
from hookwise_visualizer import ImageGridVisualizer, Visualizer, VisualizerCallback
from hookwise_visualizer.grid import BACKGROUND, RIGHT, WRONG
from PIL import Image
from torch.utils.data import DataLoader


def _fit(tmp_path: Path, plugins: Any, *, epochs: int = 2, test: bool = True) -> Trainer:
    torch.manual_seed(0)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path / "run",
        train_dataloader=DataLoader(TinyData(12, seed=0), batch_size=4, shuffle=True),
        test_dataloader=[DataLoader(TinyData(10, seed=1), batch_size=5)],
        train_data_connector=DataConnector({"inputs": "inputs"}),
        num_epochs=epochs,
        plugins=plugins,
        seed=0,
    )
    loss = tiny_loss()
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, loss)
    if test:
        trainer.test(model)
    return trainer


def _pngs(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.png"))


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.verify()  # a complete, valid PNG
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return image.copy()


# -- files at the right iterations -----------------------------------------------------------


def test_by_name_one_grid_per_evaluation_pass(run_fit: Any) -> None:
    result = run_fit([("visualizer", {"image_shape": [2, 2], "scale": 8})], epochs=2)
    root = result.output_dir / "vis"
    assert _pngs(root) == [
        "test/grid_000001.png",
        "val/epoch=0-step=3/grid_000001.png",
        "val/epoch=1-step=6/grid_000001.png",
    ]
    # 4 images per batch: 2 columns, 2 rows of 2x2 images enlarged 8 times, 12-pixel labels
    width, height = 2 * 16 + 3 * 2, 2 * (16 + 12) + 3 * 2
    for name in _pngs(root):
        assert _open(root / name).size == (width, height)
    # the pixels are the inputs of the first test batch, stretched per image
    batch = next(iter(result.trainer.test_dataloader[0]))
    grid = _open(root / "test" / "grid_000001.png").load()
    for index, image in enumerate(batch["inputs"].reshape(4, 2, 2)):
        row, col = divmod(index, 2)
        left, top = 2 + col * 18, 2 + row * 30
        low, high = image.min(), image.max()
        for y in range(2):
            for x in range(2):
                value = round(float((image[y, x] - low) / (high - low)) * 255)
                assert grid[left + x * 8 + 3, top + y * 8 + 3] == (value, value, value)


def test_plugin_is_valid(assert_plugin_valid: Any) -> None:
    report = assert_plugin_valid("visualizer", image_shape=[2, 2], visualize_train=True)
    assert report.hooks["visualizer"] == [
        "on_fit_end",
        "on_fit_start",
        "on_test_batch_end",
        "on_train_batch_end",
    ]


def test_vis_freq_and_training_batches(tmp_path: Path) -> None:
    _fit(
        tmp_path,
        [
            (
                "visualizer",
                {
                    "visualizer": {"target": "image_grid", "vis_freq": 2},
                    "image_shape": [1, 2, 2],
                    "visualize_train": True,
                    "save_prefix": str(tmp_path / "pictures"),
                },
            )
        ],
        test=False,
    )
    assert _pngs(tmp_path / "pictures" / "vis") == [
        "train/epoch=0/grid_000002.png",
        "train/epoch=1/grid_000002.png",
        "val/epoch=0-step=3/grid_000002.png",
        "val/epoch=1-step=6/grid_000002.png",
    ]
    assert not (tmp_path / "run" / "vis").exists()


def test_step_based_training_pictures_are_named_by_global_step(tmp_path: Path) -> None:
    pm = PluginManager()
    pm.enable(
        "visualizer",
        visualizer="image_grid",
        vis_freq=2,
        image_shape=[2, 2],
        visualize_train=True,
        epoch_based=False,
        max_images=2,
        ncols=2,
        scale=3,
        label_height=0,
        padding=1,
    )
    _fit(tmp_path, pm, epochs=2, test=False)
    root = tmp_path / "run" / "vis"
    assert [p for p in _pngs(root) if p.startswith("train/")] == [
        "train/grid_000002.png",
        "train/grid_000004.png",
        "train/grid_000006.png",
    ]
    assert _open(root / "train" / "grid_000004.png").size == (2 * 6 + 3 * 1, 6 + 2 * 1)


# -- what is drawn ---------------------------------------------------------------------------


def test_grid_pixels_labels_and_colours() -> None:
    images = torch.zeros(3, 8, 8)
    images[0, :4] = 16.0  # top half white
    images[1] = 8.0  # mid grey
    images[2, :, 4:] = 16.0  # right half white
    visualizer = ImageGridVisualizer(
        image_shape=[8, 8], value_range=[0, 16], scale=2, ncols=3, padding=1, label_height=12
    )
    visualizer.process(1, images.reshape(3, 64), torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))
    [(cur_iter, grid)] = visualizer.grids
    assert cur_iter == 1
    assert grid.size == (3 * 16 + 4 * 1, 16 + 12 + 2 * 1)
    pixels = grid.load()
    assert pixels[1, 1] == (255, 255, 255)  # first image, top
    assert pixels[1, 1 + 15] == (0, 0, 0)  # first image, bottom
    assert pixels[1 + 17 + 5, 5] == (128, 128, 128)  # second image: 8/16 of white
    assert pixels[1 + 34 + 2, 5] == (0, 0, 0)  # third image, left
    assert pixels[1 + 34 + 12, 5] == (255, 255, 255)  # third image, right
    assert pixels[0, 0] == BACKGROUND

    def strip_colours(column: int) -> set[tuple[int, int, int]]:
        left = 1 + column * 17
        return {pixels[x, y] for x in range(left, left + 16) for y in range(17, 29)}

    assert RIGHT in strip_colours(0) and RIGHT in strip_colours(1)
    assert WRONG in strip_colours(2) and RIGHT not in strip_colours(2)


def test_min_max_stretch_rgb_bgr_and_uint8() -> None:
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[0, 0] = 5.0  # red channel high: stretched to 255
    rgb[0, 2, 0, 0] = 2.5
    for mode, expected in (("RGB", (255, 0, 128)), ("BGR", (128, 0, 255))):
        visualizer = ImageGridVisualizer(image_mode=mode, scale=1, label_height=0, padding=0)
        visualizer.process(1, rgb)
        assert visualizer.grids[0][1].load()[0, 0] == expected
    raw = torch.tensor([[[[7, 200], [0, 255]]]], dtype=torch.uint8)
    visualizer = ImageGridVisualizer(scale=1, label_height=0, padding=0)
    visualizer.process(1, raw)
    grid = visualizer.grids[0][1]
    assert [grid.load()[x, y] for y in range(2) for x in range(2)] == [
        (7, 7, 7),
        (200, 200, 200),
        (0, 0, 0),
        (255, 255, 255),
    ]
    visualizer.reset()
    assert visualizer.grids == []


def test_max_images_and_default_scale() -> None:
    visualizer = ImageGridVisualizer(max_images=4, label_height=0, padding=0)
    visualizer.process(1, torch.rand(10, 1, 8, 16))
    grid = visualizer.grids[0][1]
    assert visualizer.cell_scale(8, 16) == 4
    assert grid.size == (2 * 64, 2 * 32)  # 4 images in a 2x2 grid, 16 px enlarged to 64


def test_show_opens_every_drawn_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[tuple[int, int]] = []
    monkeypatch.setattr(Image.Image, "show", lambda self, title=None: shown.append(self.size))
    _fit(tmp_path, [("visualizer", {"image_shape": [2, 2], "show": True, "save_to_disk": False})])
    assert len(shown) == 3  # two validation passes and the test
    assert not (tmp_path / "run" / "vis").exists()


# -- vis4d protocol --------------------------------------------------------------------------


class Recording(Visualizer):
    """A vis4d-style visualizer that records the callback's calls."""

    def __init__(self) -> None:
        super().__init__(vis_freq=2)
        self.calls: list[tuple[Any, ...]] = []

    def reset(self) -> None:
        self.calls.append(("reset",))

    def process(self, cur_iter: int, values: torch.Tensor) -> None:
        self.calls.append(("process", cur_iter, values.shape[0]))

    def show(self, cur_iter: int, blocking: bool = True) -> None:
        self.calls.append(("show", cur_iter))

    def save_to_disk(self, cur_iter: int, output_folder: str) -> None:
        self.calls.append(("save", cur_iter, Path(output_folder).name))
        Path(output_folder, f"{cur_iter}.txt").write_text("drawn")


def test_custom_visualizer_object_and_connector(tmp_path: Path) -> None:
    recording = Recording()
    trainer_callback = VisualizerCallback(
        visualizer=recording, test_connector={"values": {"data": "labels"}}, show=True
    )
    torch.manual_seed(0)
    model = TinyModel()
    trainer = Trainer(
        device="cpu",
        output_dir=tmp_path,
        test_dataloader=[DataLoader(TinyData(20, seed=3), batch_size=4)],
        test_data_connector=DataConnector({"inputs": "inputs"}),
        callbacks=[trainer_callback],
    )
    trainer.test(model)
    drawn = [("process", i, 4) for i in (2, 4)]
    assert recording.calls == [
        drawn[0],
        ("show", 2),
        ("save", 2, "test"),
        ("reset",),
        drawn[1],
        ("show", 4),
        ("save", 4, "test"),
        ("reset",),
    ]
    assert sorted(p.name for p in (tmp_path / "vis" / "test").iterdir()) == ["2.txt", "4.txt"]


def test_only_rank_zero_draws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hookwise.distributed

    monkeypatch.setattr(hookwise.distributed, "get_rank", lambda: 1)
    _fit(tmp_path, [("visualizer", {"image_shape": [2, 2]})], epochs=1)
    assert not (tmp_path / "run" / "vis").exists()
    assert VisualizerCallback.rank_zero_only is True


# -- errors a user can act on ----------------------------------------------------------------


def test_flat_inputs_without_image_shape_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        _fit(tmp_path, ["visualizer"], epochs=1)
    text = str(info.value) + "".join(getattr(info.value, "__notes__", []))
    assert "got shape (5, 4); flat inputs need image_shape, e.g. image_shape = [8, 8]" in text
    assert "plugin 'visualizer' failed in hook 'on_test_batch_end'" in text
    with pytest.raises(ValueError, match=r"image_shape=\[3, 3\] holds 9 values, but each input"):
        ImageGridVisualizer(image_shape=[3, 3]).process(1, torch.zeros(2, 4))


def test_bad_names_and_parameters_are_explained() -> None:
    pm = PluginManager()
    with pytest.raises(
        ConfigError, match=r"no visualizer named 'image_gird'\. Did you mean 'image_grid'"
    ):
        pm.enable("visualizer", visualizer="image_gird")
    with pytest.raises(ConfigError) as info:
        pm.enable("visualizer", image_shap=[8, 8])
    assert "unknown parameter(s) ['image_shap']" in str(info.value)
    assert "Did you mean 'image_shape'" in str(info.value)
    assert "visualize_train" in str(info.value)
    with pytest.raises(ConfigError, match="must be an int >= 1, got 0"):
        pm.enable("visualizer", max_images=0)
    with pytest.raises(ConfigError, match=r"is not a visualizer: it lacks \['process'"):
        VisualizerCallback(visualizer=object())
    with pytest.raises(ConfigError, match="already built"):
        VisualizerCallback(visualizer=ImageGridVisualizer(), image_shape=[2, 2])
    with pytest.raises(ConfigError, match="has no default connector; give test_connector"):
        VisualizerCallback(visualizer=Recording())
