"""What vis4d 0.1.2's ``Trainer`` offered its callbacks (``trainer_state["train_module"]``)
beyond hookwise's own API: an output folder usable as a ``str``, and a TensorBoard ``writer``.

vis4d code reads ``train_module.output_dir + "/x"`` (vis4d's folder is the ``str`` it was
given) and logs with ``train_module.writer.add_scalar(...)`` (a ``SummaryWriter`` on the
output folder, on rank 0). The hookwise trainer's ``output_dir`` is an :class:`OutputDir`, a
``pathlib.Path`` that also behaves as that ``str``; :class:`Vis4dView` gives the trainer the
``writer``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    _PathBase = Path
else:  # Path itself is subclassable only from Python 3.12; its concrete class always is
    _PathBase = type(Path())

logger = logging.getLogger("hookwise")


class OutputDir(_PathBase):
    """The trainer's output folder: a ``Path`` (``/``, ``exists()``, ``mkdir()``), and where
    vis4d code treats it as the ``str`` vis4d kept, a ``str``: ``folder + "/x"``,
    ``"prefix" + folder``, ``"runs" in folder``, ``folder[-4:]``, ``len(folder)`` and the
    methods of ``str`` that ``Path`` does not have (``endswith``, ``split``, ``rstrip``, ...).
    ``replace`` with two strings is ``str.replace``; with one target it is ``Path.replace``
    (a rename). It compares equal to paths, not to strings (as a ``Path``); ``str(folder)``
    gives the plain string (for ``json`` or an ``isinstance(x, str)`` check).
    """

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __contains__(self, text: str) -> bool:
        return text in str(self)

    def __getitem__(self, index: int | slice) -> str:
        return str(self)[index]

    def __len__(self) -> int:
        return len(str(self))

    def __bool__(self) -> bool:
        return True  # a folder is a folder, even ".": len() must not decide

    def replace(self, *args: Any) -> Any:
        if len(args) >= 2 and all(isinstance(a, str) for a in args[:2]):
            return str(self).replace(*args)
        return super().replace(*args)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            try:
                return getattr(str(self), name)
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__name__!r} object (a Path and a str) has no attribute {name!r}"
                ) from None


class Vis4dView:
    """vis4d's ``Trainer.output_dir`` (as an :class:`OutputDir`) and ``Trainer.writer``, for
    the hookwise trainer (a mixin)."""

    _output_dir: OutputDir
    _vis4d_writer: Any = None

    @property
    def output_dir(self) -> OutputDir:
        """The run's folder: a ``Path`` that also works as vis4d's ``str`` (:class:`OutputDir`)."""
        return self._output_dir

    @output_dir.setter
    def output_dir(self, folder: str | os.PathLike[str]) -> None:
        self._output_dir = OutputDir(folder)

    @property
    def writer(self) -> Any:
        """A ``torch.utils.tensorboard.SummaryWriter`` writing into the output folder, on
        rank 0, as vis4d's trainer offered its callbacks; created on first use (installed is
        not enabled: a run whose callbacks never use it writes no event file) and closed at
        the end of each fit.

        :raises AttributeError: on ranks other than 0 (vis4d's trainer had no ``writer``
            there), or when TensorBoard is not installed (``hasattr(trainer, "writer")`` is
            then ``False``); the message says which.
        """
        if self._vis4d_writer is None:
            from hookwise.distributed import get_rank

            if get_rank() != 0:
                raise AttributeError(
                    "Trainer.writer exists on rank 0 only (as in vis4d); guard its use with "
                    "hookwise.distributed.is_rank_zero()"
                )
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise AttributeError(
                    f"Trainer.writer needs TensorBoard ({exc}); install it: pip install tensorboard"
                ) from None
            self._vis4d_writer = SummaryWriter(str(self.output_dir))
        return self._vis4d_writer

    def close_writer(self) -> None:
        """Close :attr:`writer` if it was created (the next use opens a new one)."""
        writer, self._vis4d_writer = self._vis4d_writer, None
        if writer is not None:
            writer.close()


__all__ = ["OutputDir", "Vis4dView"]
