"""Faults that came from seams in the command line (issue 12, item 6), each shown through the
``hookwise`` command itself: model weights whose keys start with ``model.``, a plugin error that
shares the name of hookwise's signal exception, errors rewritten instead of annotated, and a
summary built by parsing text the command had printed."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clikit import TINY_CONFIG
from hookwise import checkpointing
from hookwise.cli import main
from hookwise.errors import CheckpointError

WRAPPED = TINY_CONFIG.replace("cli_test_plugins:TinyModel", "cli_test_plugins:WrappedModel")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HOOKWISE_PLUGINS", raising=False)
    monkeypatch.delenv("HOOKWISE_ALLOWED_PLUGINS", raising=False)
    monkeypatch.setenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.chdir(tmp_path)


def run_main(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_checkpoint(path: Path, weights: dict[str, torch.Tensor]) -> Path:
    state = {
        "format": checkpointing.FORMAT,
        "format_version": checkpointing.FORMAT_VERSION,
        "epoch": 0,
        "global_step": 0,
        "model": weights,
    }
    return checkpointing.atomic_save(state, path)


def test_a_model_whose_only_child_is_self_model_loads_its_own_weights(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "wrapped.toml"
    config.write_text(WRAPPED, encoding="utf-8")
    code, _, err = run_main(capsys, "fit", config, "-p", "checkpoint")
    assert code == 0, err
    code, out, err = run_main(capsys, "test", config, "--weights", "last")
    assert code == 0, err  # its keys are model.linear.*, and stay so
    assert "Weights: hookwise-runs" in out


def test_weights_saved_from_a_ddp_wrapper_lose_module_only_when_they_do_not_fit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    weights = {"linear.weight": torch.ones(2, 4), "linear.bias": torch.ones(2)}
    wrapped = {f"module.{key}": value for key, value in weights.items()}
    path = write_checkpoint(tmp_path / "ddp.ckpt", wrapped)
    code, _, err = run_main(capsys, "test", config, "--weights", path)
    assert code == 0, err
    # A model prefix that is not DDP's is never removed: these keys fit nothing.
    renamed = {f"model.{key}": value for key, value in weights.items()}
    path = write_checkpoint(tmp_path / "renamed.ckpt", renamed)
    code, _, err = run_main(capsys, "test", config, "--weights", path)
    assert code == 2 and "do not fit the config's [model]" in err
    assert "Missing key(s) in state_dict" in err


def test_a_plugin_error_named_like_the_signal_exception_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    code, _, err = run_main(capsys, "fit", config, "-p", "cli_test_plugins:RaisesLookalike")
    assert code == 2, err  # an error a person can act on, not 128 + a signal
    assert "hookwise: error: a plugin's own error, not a signal" in err
    assert "resume with" not in err


def test_a_bad_checkpoint_option_keeps_the_error_and_adds_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from hookwise.cli.checkpoints import checkpoint_path
    from hookwise.cli.parser import build_parser

    missing = tmp_path / "nope.ckpt"
    args = build_parser().parse_args(["fit", "--resume", str(missing)])
    with pytest.raises(CheckpointError) as caught:
        checkpoint_path(str(missing), args, "--resume")
    assert caught.value.args == (
        f"checkpoint {str(missing)!r} does not exist; give the path of a .ckpt file",
    )
    assert caught.value.__notes__ == [f"(given as --resume {missing})"]
    code, _, err = run_main(capsys, "fit", "--resume", missing)
    assert code == 2
    assert err.splitlines() == [
        f"hookwise: error: checkpoint {str(missing)!r} does not exist; give the path of a "
        f".ckpt file",
        f"  (given as --resume {missing})",
    ]


def test_the_summary_labels_outputs_from_data_not_from_printed_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_CONFIG, encoding="utf-8")
    note = 'cli_test_plugins:Note:name="notes  (v2).txt"'
    code, out, err = run_main(capsys, "fit", config, "-p", note, "-p", "checkpoint")
    assert code == 0, err
    outputs = out[out.index("Outputs in ") :].splitlines()[1:]
    labels = {line.split(":", 1)[0].strip(): line for line in outputs if ":" in line}
    assert "notes  (v2).txt" in labels["file"]
    assert "checkpoints" in labels["checkpoints"] and "(" in labels["checkpoints"]
    assert labels["config"].endswith("config.toml")
