"""Never a silent overwrite: ``Trainer.fit`` refuses an ``output_dir`` that holds an earlier
run's outputs unless it resumes that run or is told to overwrite (DESIGN decision 18).

The command line makes a new run folder for every ``hookwise fit`` (or continues the resumed
run's own), so it never meets this check; a Python script run twice with the same
``output_dir`` does, instead of writing over the first run's metrics and checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from hookwise.errors import ConfigError

#: What a fit leaves in its output folder that a second fit would write over.
RUN_OUTPUTS = ("metrics.csv", "metrics.jsonl", "checkpoints")


def earlier_outputs(folder: Path) -> list[str]:
    """The names of an earlier run's outputs in ``folder`` (``checkpoints`` when it holds a
    file); empty when ``folder`` is new or holds none."""
    found: list[str] = []
    for name in RUN_OUTPUTS:
        path = folder / name
        if path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*"))):
            found.append(name)
    return found


def check_fresh_output_dir(folder: Path, *, overwrite: bool) -> None:
    """Refuse to start a new fit in ``folder`` when it holds an earlier run's outputs.

    :raises ConfigError: naming the folder, what it holds and the three ways on.
    """
    if overwrite:
        return
    found = earlier_outputs(folder)
    if found:
        raise ConfigError(
            f"Trainer: output_dir {str(folder)!r} holds an earlier run ({', '.join(found)}); "
            f"a new fit would write over it. Give a new output_dir, continue that run with "
            f"fit(..., resume_from='last'), or pass Trainer(overwrite=True) to write over it"
        )


__all__ = ["RUN_OUTPUTS", "check_fresh_output_dir", "earlier_outputs"]
