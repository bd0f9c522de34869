"""What a run tells the user it wrote: the "evaluate again" line only when this run wrote a
checkpoint, naming that file; and the Python API never writes over an earlier run silently."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import torch
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise import ConfigError, DataConnector, Trainer
from hookwise.runs import run_dirs
from hookwise.testing import TinyData, TinyModel, tiny_loss
from torch.utils.data import DataLoader

NO_DEFAULTS = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}
HINT = "Evaluate these weights again with: "


def _hint(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(HINT)]


@pytest.mark.slow
def test_evaluate_again_names_the_checkpoint_this_run_wrote(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text(TINY_CONFIG, encoding="utf-8")
    # An earlier run with checkpoints, so that "last" would find one.
    first = run_hookwise("fit", "job.toml", "-p", "checkpoint", cwd=tmp_path, env=NO_DEFAULTS)
    assert first.returncode == 0, explain(first)
    (line,) = _hint(first.stdout)
    command = shlex.split(line[len(HINT) :])
    run = run_dirs(tmp_path / "hookwise-runs")[0]
    assert command[:2] == ["hookwise", "test"]
    assert Path(command[2]) == run.relative_to(tmp_path) / "config.toml"
    weights = tmp_path / command[command.index("--weights") + 1]
    assert weights.is_file() and weights.parent == run / "checkpoints"
    assert weights.name != "last.ckpt"  # last.ckpt moves on when the run is resumed
    again = run_hookwise(*command[1:], cwd=tmp_path, env=NO_DEFAULTS)
    assert again.returncode == 0, explain(again)

    # A run that writes no checkpoint offers none (before: "--weights last", another run's).
    for flags in (["-p", "no:checkpoint"], ["--epochs", "0"]):
        plain = run_hookwise("fit", "job.toml", *flags, cwd=tmp_path, env=NO_DEFAULTS)
        assert plain.returncode == 0, explain(plain)
        assert _hint(plain.stdout) == [], plain.stdout
        assert "--weights last" not in plain.stdout


def _trainer(folder: Path, **kwargs: object) -> Trainer:
    options: dict[str, object] = {"num_epochs": 1, "seed": 0, **kwargs}
    return Trainer(
        device="cpu",
        output_dir=folder,
        train_dataloader=DataLoader(TinyData(n=8), batch_size=4),
        train_data_connector=DataConnector({"inputs": "inputs"}),
        plugins=["logging", "checkpoint"],
        **options,  # type: ignore[arg-type]
    )


def _fit(trainer: Trainer, **kwargs: object) -> None:
    model = TinyModel()
    trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), [], tiny_loss(), **kwargs)  # type: ignore[arg-type]


def test_python_api_refuses_to_write_over_an_earlier_run(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    _fit(_trainer(folder))
    first_metrics = (folder / "metrics.csv").read_bytes()
    with pytest.raises(ConfigError) as info:
        _fit(_trainer(folder))
    message = str(info.value)
    assert str(folder) in message and "metrics.csv" in message and "checkpoints" in message
    assert "resume_from='last'" in message and "overwrite=True" in message
    assert (folder / "metrics.csv").read_bytes() == first_metrics  # untouched

    # Told to: it writes over; resuming continues the run; a new folder is fine.
    _fit(_trainer(folder, overwrite=True))
    _fit(_trainer(folder, num_epochs=2), resume_from="last")
    _fit(_trainer(tmp_path / "other"))
    assert re.search(r"^1,", (folder / "metrics.csv").read_text(), re.MULTILINE)


def test_python_api_same_trainer_fits_again_into_its_own_folder(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path / "run")
    _fit(trainer)
    _fit(trainer)  # a second fit of this trainer continues its own outputs


def test_overwrite_is_a_setting() -> None:
    from hookwise import settings

    setting = settings.get("overwrite")
    assert setting.default is False and "refused" in setting.help
