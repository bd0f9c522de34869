"""``VisualizerCallback``: draws batches with a visualizer and saves or shows the pictures."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from hookwise import Callback, TrainerState
from hookwise.callback import default_output_folder
from hookwise.errors import ConfigError
from torch import nn

from hookwise_visualizer.registry import build_visualizer

_OWN_PARAMS = (
    "visualizer",
    "visualize_train",
    "show",
    "save_to_disk",
    "save_prefix",
    "epoch_based",
    "train_connector",
    "test_connector",
)


class VisualizerCallback(Callback):
    """Draw batches with a visualizer; save the pictures and/or show them (vis4d's callback).

    Every evaluation batch (and, with ``visualize_train``, every training batch) goes to the
    visualizer, which draws the iterations it is set to draw; the pictures are then shown
    and/or saved, and the visualizer is reset. Out of the box, the ``image_grid`` visualizer
    draws the inputs with their true and predicted labels::

        hookwise fit -p visualizer:image_shape=[8,8],value_range=[0,1]   # the digits job

    Pictures go to ``{save_prefix}/vis/``:

    - ``val/epoch=<e>-step=<s>/`` for the validation passes during fit (one folder per pass),
    - ``test/`` for a standalone test,
    - ``train/epoch=<e>/`` for training batches (``train/`` when ``epoch_based`` is false),

    plus ``loader=<i>/`` for a second evaluation loader. The iteration handed to the
    visualizer is the batch's position in its pass or epoch (``batch_idx + 1``), or, for
    training batches when ``epoch_based`` is false, the global step.

    Only rank 0 draws in a distributed run (the plugin is rank-zero-only).

    :param visualizer: a short name (``"image_grid"``, the default, or one declared in the
        ``hookwise.visualizers`` entry-point group), an import path
        ``"package.module:Visualizer"``, a table ``{target = NAME_OR_PATH, **params}``, or an
        object with vis4d's visualizer methods (``process``, ``show``, ``save_to_disk``,
        ``reset``).
    :param visualize_train: also draw training batches.
    :param show: show the pictures as they are drawn (``image_grid``: the system image viewer).
    :param save_to_disk: save the pictures under ``{save_prefix}/vis``.
    :param save_prefix: the folder under which ``vis/`` is written; defaults to the trainer's
        ``output_dir``.
    :param epoch_based: name training pictures by epoch and batch (``True``) or by global step.
    :param train_connector: selects ``process``'s arguments from a training batch and output;
        defaults to the visualizer's ``default_connector``.
    :param test_connector: the same for evaluation batches.
    :param visualizer_params: any other parameter goes to the visualizer named by
        ``visualizer`` (``image_shape = [8, 8]`` for ``image_grid``); an unknown one is an error
        listing what the visualizer and the plugin accept.

    vis4d faults fixed: ``save_prefix`` has a default, folders are made only when a picture is
    saved, validation and test pictures no longer overwrite each other pass after pass, and
    only one process writes.
    """

    #: It draws the outputs and batches, never the model's parameters.
    supports_fsdp = True

    #: Parameters other than the plugin's own go to the visualizer (checked there).
    accepts_extra_params: ClassVar[bool] = True
    #: Only rank 0 draws: the trainer may register the plugin on rank 0 alone.
    rank_zero_only: ClassVar[bool] = True

    def __init__(
        self,
        visualizer: Any = "image_grid",
        visualize_train: bool = False,
        show: bool = False,
        save_to_disk: bool = True,
        save_prefix: str | os.PathLike[str] | None = None,
        epoch_based: bool = True,
        train_connector: Any = None,
        test_connector: Any = None,
        **visualizer_params: Any,
    ) -> None:
        built = build_visualizer(visualizer, visualizer_params, plugin_params=_OWN_PARAMS)
        default = getattr(built, "default_connector", None)
        super().__init__(
            epoch_based,
            train_connector if train_connector is not None else default,
            test_connector if test_connector is not None else default,
        )
        self.visualizer = built
        self.visualize_train = bool(visualize_train)
        self.show = bool(show)
        self.save_to_disk = bool(save_to_disk)
        self.save_prefix = Path(save_prefix) if save_prefix is not None else None
        #: ``{save_prefix}/vis`` once known (``None`` until the first picture when it defaults
        #: to the trainer's folder, and when not saving).
        self.output_dir: Path | None = (
            self.save_prefix / "vis" if self.save_to_disk and self.save_prefix else None
        )
        if self.test_connector is None or (self.visualize_train and self.train_connector is None):
            which = "test_connector" if self.test_connector is None else "train_connector"
            raise ConfigError(
                f"plugin 'visualizer': {type(built).__name__} has no default connector; give "
                f"{which}, e.g. {which} = {{images = {{data = 'images'}}}} naming the "
                f"arguments of its process method"
            )
        self._in_fit = False

    # -- hooks ---------------------------------------------------------------------------------

    def on_fit_start(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Evaluation passes from now on are validation passes."""
        self._in_fit = True

    def on_fit_end(self, trainer_state: TrainerState, model: nn.Module) -> None:
        """Evaluation passes from now on are tests."""
        self._in_fit = False

    def on_train_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        loss_module: Any,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """With ``visualize_train``, draw the training batch."""
        if not self.visualize_train:
            return
        if self.epoch_based:
            cur_iter = batch_idx + 1
            folder = Path("train") / f"epoch={trainer_state.get('current_epoch', 0)}"
        else:
            cur_iter = int(trainer_state.get("global_step", batch_idx + 1))
            folder = Path("train")
        if self._skips(cur_iter):
            return
        self._draw(trainer_state, cur_iter, folder, self.get_train_callback_inputs(outputs, batch))

    def on_test_batch_end(
        self,
        trainer_state: TrainerState,
        model: nn.Module,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Draw the evaluation batch."""
        if trainer_state.get("sanity_check"):
            return  # the sanity pass before training writes nothing
        cur_iter = batch_idx + 1
        if self._skips(cur_iter):
            return
        if self._in_fit:
            epoch = trainer_state.get("current_epoch", 0)
            step = trainer_state.get("global_step", 0)
            folder = Path("val") / f"epoch={epoch}-step={step}"
        else:
            folder = Path("test")
        if dataloader_idx:
            folder = folder / f"loader={dataloader_idx}"
        self._draw(trainer_state, cur_iter, folder, self.get_test_callback_inputs(outputs, batch))

    # -- drawing -------------------------------------------------------------------------------

    def _skips(self, cur_iter: int) -> bool:
        from hookwise.distributed import get_rank

        if get_rank() != 0:
            return True
        should_draw = getattr(self.visualizer, "_run_on_batch", None)
        return should_draw is not None and not should_draw(cur_iter)

    def _draw(
        self,
        trainer_state: Mapping[str, Any],
        cur_iter: int,
        folder: Path,
        inputs: Mapping[str, Any],
    ) -> None:
        self.visualizer.process(cur_iter=cur_iter, **inputs)
        if self.show:
            self.visualizer.show(cur_iter=cur_iter)
        if self.save_to_disk:
            output = self._root(trainer_state) / folder
            output.mkdir(parents=True, exist_ok=True)
            self.visualizer.save_to_disk(cur_iter=cur_iter, output_folder=str(output))
        self.visualizer.reset()

    def _root(self, trainer_state: Mapping[str, Any]) -> Path:
        if self.output_dir is None:
            self.output_dir = default_output_folder(
                trainer_state, "vis", plugin="visualizer", setting="save_to_disk=True"
            )
        return self.output_dir

    def __repr__(self) -> str:
        return (
            f"VisualizerCallback(visualizer={self.visualizer!r}, "
            f"visualize_train={self.visualize_train}, save_to_disk={self.save_to_disk})"
        )
