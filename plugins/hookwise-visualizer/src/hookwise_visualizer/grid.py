"""``ImageGridVisualizer``: a grid of input images with their true and predicted labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from hookwise_visualizer.base import Visualizer

BACKGROUND = (32, 32, 32)
RIGHT = (96, 220, 96)
WRONG = (240, 80, 80)
NEUTRAL = (230, 230, 230)


class ImageGridVisualizer(Visualizer):
    """Draw a batch's input images in a grid, each labelled with its true and predicted class.

    The label under each image reads ``<true> / <predicted>``, green when they agree and red
    when not (just one of them when only one is given). Short name ``"image_grid"``.

    :param vis_freq: draw on iterations where ``cur_iter % vis_freq == 0``; ``None`` (the
        default) draws the first batch of each pass (``cur_iter == 1``): one grid per
        validation pass, per test, and, with ``visualize_train``, per epoch.
    :param image_shape: how to read flat inputs ``[B, D]``: ``[H, W]`` or ``[C, H, W]`` with
        ``C * H * W == D`` (``[8, 8]`` for scikit-learn's digits). Images ``[B, C, H, W]``
        (``C`` 1 or 3, channels first) and ``[B, H, W]`` need none.
    :param max_images: draw at most this many images of a batch.
    :param ncols: images per row (default: a square grid).
    :param scale: enlarge each image by this integer factor, nearest neighbour (default: enough
        to make it at least 64 pixels on its longer side).
    :param value_range: ``[low, high]``: the input values shown black and white (e.g.
        ``[0, 1]`` for the default job's digits, ``[0, 16]`` for scikit-learn's raw digits).
        Default: each image is stretched from its own minimum to its maximum. ``uint8`` images
        are used as they are.
    :param class_names: label texts, in class-index order (default: the index).
    :param label_height: height in pixels of the text strip under each image (0 for none).
    :param padding: pixels between the images and around the grid.
    :param image_mode: ``"RGB"`` or ``"BGR"`` (the channel order of 3-channel inputs).
    :param file_prefix: saved files are ``<file_prefix>_<cur_iter:06d>.png``.

    ``process(cur_iter, images, labels=None, predictions=None)``: ``labels`` are ``[B]`` class
    indices (or one-hot ``[B, C]``), ``predictions`` are ``[B, C]`` scores or ``[B]`` indices.
    The default connector takes ``images`` from the batch's ``"inputs"``, ``labels`` from the
    batch's ``"labels"`` and ``predictions`` from the model output's ``"logits"``.

    The grid is ``ncols * W * scale + (ncols + 1) * padding`` pixels wide and
    ``nrows * (H * scale + label_height) + (nrows + 1) * padding`` high.
    """

    default_connector: ClassVar[dict[str, dict[str, str]]] = {
        "images": {"data": "inputs"},
        "labels": {"data": "labels"},
        "predictions": {"pred": "logits"},
    }

    def __init__(
        self,
        vis_freq: int | None = None,
        image_shape: Sequence[int] | None = None,
        max_images: int = 16,
        ncols: int | None = None,
        scale: int | None = None,
        value_range: Sequence[float] | None = None,
        class_names: Sequence[str] | None = None,
        label_height: int = 12,
        padding: int = 2,
        image_mode: str = "RGB",
        file_prefix: str = "grid",
    ) -> None:
        super().__init__(vis_freq if vis_freq is not None else 1, image_mode)
        self.first_batch_only = vis_freq is None
        if image_shape is not None:
            shape = list(image_shape)
            if len(shape) not in (2, 3) or any(not isinstance(s, int) or s < 1 for s in shape):
                raise ValueError(
                    f"image_shape must be [H, W] or [C, H, W] of positive ints, got {image_shape!r}"
                )
            if len(shape) == 3 and shape[0] not in (1, 3):
                raise ValueError(f"image_shape {shape}: images have 1 or 3 channels")
        self.image_shape = tuple(image_shape) if image_shape is not None else None
        _check_int("max_images", max_images, 1)
        _check_int("label_height", label_height, 0)
        _check_int("padding", padding, 0)
        _check_int("ncols", ncols, 1, optional=True)
        _check_int("scale", scale, 1, optional=True)
        if value_range is not None and (len(value_range) != 2 or value_range[0] >= value_range[1]):
            raise ValueError(
                f"value_range must be [low, high] with low < high, got {value_range!r}"
            )
        self.max_images = max_images
        self.ncols = ncols
        self.scale = scale
        self.value_range = (float(value_range[0]), float(value_range[1])) if value_range else None
        self.class_names = list(class_names) if class_names is not None else None
        self.label_height = label_height
        self.padding = padding
        self.file_prefix = file_prefix
        self._grids: list[tuple[int, Image.Image]] = []

    def _run_on_batch(self, cur_iter: int) -> bool:
        """``cur_iter == 1`` by default, else ``cur_iter % vis_freq == 0``."""
        return cur_iter == 1 if self.first_batch_only else super()._run_on_batch(cur_iter)

    def reset(self) -> None:
        """Forget the drawn grids."""
        self._grids = []

    @property
    def grids(self) -> list[tuple[int, Image.Image]]:
        """The grids drawn since the last :meth:`reset`, as ``(cur_iter, image)``."""
        return list(self._grids)

    # -- drawing -------------------------------------------------------------------------------

    def process(
        self,
        cur_iter: int,
        images: Tensor,
        labels: Tensor | None = None,
        predictions: Tensor | None = None,
    ) -> None:
        """Draw the grid of this batch when ``cur_iter`` is drawn (moves it to the CPU)."""
        if not self._run_on_batch(cur_iter):
            return
        pictures = self._pictures(images)  # [N, H, W, 3] uint8
        count = pictures.shape[0]
        true = _classes(labels, "labels", count)
        guessed = _classes(predictions, "predictions", count)
        self._grids.append((cur_iter, self._compose(pictures, true, guessed)))

    def _pictures(self, images: Any) -> Tensor:
        if not isinstance(images, Tensor):
            images = torch.as_tensor(images)
        images = images[: self.max_images].detach().cpu()
        if self.image_shape is not None and images.dim() >= 2:
            per_sample = math.prod(images.shape[1:])
            if per_sample != math.prod(self.image_shape):
                raise ValueError(
                    f"image_shape={list(self.image_shape)} holds {math.prod(self.image_shape)} "
                    f"values, but each input has {per_sample} (shape {tuple(images.shape)})"
                )
            images = images.reshape(images.shape[0], *self.image_shape)
        if images.dim() == 3:
            images = images[:, None]
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            hint = (
                "; flat inputs need image_shape, e.g. image_shape = [8, 8]"
                if images.dim() == 2
                else ""
            )
            raise ValueError(
                f"images must be [B, C, H, W] with 1 or 3 channels, or [B, H, W], got shape "
                f"{tuple(images.shape)}{hint}"
            )
        if images.shape[1] == 3 and self.image_mode == "BGR":
            images = images.flip(1)
        pixels: Tensor
        if images.dtype == torch.uint8:
            pixels = images
        else:
            values = images.double()
            if self.value_range is not None:
                low, high = self.value_range
                values = ((values - low) / (high - low)).clamp(0, 1)
            else:
                flat = values.reshape(values.shape[0], -1)
                low = flat.min(dim=1).values.reshape(-1, 1, 1, 1)
                span = (flat.max(dim=1).values.reshape(-1, 1, 1, 1) - low).clamp_min(1e-12)
                values = (values - low) / span
            pixels = (values * 255).round().to(torch.uint8)
        pixels = pixels.permute(0, 2, 3, 1)  # [N, H, W, C]
        if pixels.shape[3] == 1:
            pixels = pixels.expand(-1, -1, -1, 3)
        return pixels.contiguous()

    def cell_scale(self, height: int, width: int) -> int:
        """The enlargement factor for images of ``height`` x ``width`` pixels."""
        return self.scale if self.scale is not None else max(1, 64 // max(height, width))

    def _compose(
        self, pictures: Tensor, true: list[int] | None, guessed: list[int] | None
    ) -> Image.Image:
        count, height, width, _ = pictures.shape
        factor = self.cell_scale(height, width)
        ncols = self.ncols or math.ceil(math.sqrt(count))
        nrows = math.ceil(count / ncols)
        cell_w, cell_h = width * factor, height * factor + self.label_height
        pad = self.padding
        canvas = Image.new(
            "RGB",
            (ncols * cell_w + (ncols + 1) * pad, nrows * cell_h + (nrows + 1) * pad),
            BACKGROUND,
        )
        font = ImageFont.load_default()
        for index in range(count):
            row, col = divmod(index, ncols)
            left, top = pad + col * (cell_w + pad), pad + row * (cell_h + pad)
            picture = _to_image(pictures[index])
            if factor != 1:
                picture = picture.resize((cell_w, height * factor), Image.Resampling.NEAREST)
            canvas.paste(picture, (left, top))
            if self.label_height:
                strip = self._label(true, guessed, index, cell_w, font)
                canvas.paste(strip, (left, top + height * factor))
        return canvas

    def _label(
        self,
        true: list[int] | None,
        guessed: list[int] | None,
        index: int,
        width: int,
        font: Any,
    ) -> Image.Image:
        strip = Image.new("RGB", (width, self.label_height), BACKGROUND)
        parts = [self._name(c[index]) for c in (true, guessed) if c is not None]
        if not parts:
            return strip
        colour = NEUTRAL
        if true is not None and guessed is not None:
            colour = RIGHT if true[index] == guessed[index] else WRONG
        draw = ImageDraw.Draw(strip)
        draw.fontmode = "1"  # crisp text in the exact colour, no anti-aliasing
        draw.text((1, 0), " / ".join(parts), fill=colour, font=font)
        return strip

    def _name(self, index: int) -> str:
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return str(self.class_names[index])
        return str(index)

    # -- output --------------------------------------------------------------------------------

    def show(self, cur_iter: int, blocking: bool = True) -> None:
        """Open the grids in the system's image viewer (Pillow's ``Image.show``)."""
        for drawn_iter, grid in self._grids:
            grid.show(title=f"{self.file_prefix} {drawn_iter}")

    def save_to_disk(self, cur_iter: int, output_folder: str) -> None:
        """Write each grid to ``<output_folder>/<file_prefix>_<cur_iter:06d>.png``."""
        folder = Path(output_folder)
        for drawn_iter, grid in self._grids:
            folder.mkdir(parents=True, exist_ok=True)
            grid.save(folder / f"{self.file_prefix}_{drawn_iter:06d}.png", format="PNG")

    def __repr__(self) -> str:
        return (
            f"ImageGridVisualizer(vis_freq={None if self.first_batch_only else self.vis_freq}, "
            f"image_shape={self.image_shape}, max_images={self.max_images})"
        )


def _check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        allowed = f"an int >= {low}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _to_image(pixels: Tensor) -> Image.Image:
    """An ``[H, W, 3]`` uint8 tensor as a Pillow image (numpy is used when it is there)."""
    height, width, _ = pixels.shape
    try:
        return Image.fromarray(pixels.numpy())
    except (RuntimeError, ImportError):  # torch without numpy
        return Image.frombytes("RGB", (width, height), bytes(pixels.reshape(-1).tolist()))


def _classes(values: Any, what: str, count: int) -> list[int] | None:
    if values is None:
        return None
    if not isinstance(values, Tensor):
        values = torch.as_tensor(values)
    values = values.detach()
    if values.dim() == 2 and values.shape[1] > 1:
        values = values.argmax(dim=1)
    values = values.reshape(-1)
    if values.shape[0] < count:
        raise ValueError(
            f"{what} has {values.shape[0]} entries for {count} images; give one class per image"
        )
    return [int(v) for v in values[:count].cpu().tolist()]
