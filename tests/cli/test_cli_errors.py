"""Errors a person can act on: a clear message naming what and where, exit status 2, no
traceback unless ``--debug``. A few run as subprocesses (as a user meets them); the others
call ``hookwise.cli.main`` in this process, which is the same code without the start-up cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hookwise.bundled
import hookwise.config.toml
import pytest
import torch
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise.cli import main


def run_main(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "HOOKWISE_PLUGINS",
        "HOOKWISE_ALLOWED_PLUGINS",
        "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


# -- as a subprocess --------------------------------------------------------------------------


def test_toml_error_with_file_line_and_column_and_debug_traceback(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[trainer]\nepochs = 3\n[plugins.logging]\nplot = yes\n")
    result = run_hookwise("fit", config, "--dry-run", cwd=tmp_path)
    assert result.returncode == 2, explain(result)
    assert result.stderr.startswith(f"hookwise: error: {config}:4:8: invalid TOML: "), result.stderr
    assert "    plot = yes\n           ^" in result.stderr
    assert "Traceback" not in result.stderr
    debug = run_hookwise("fit", config, "--dry-run", "--debug", cwd=tmp_path)
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr
    assert "tomllib.TOMLDecodeError" in debug.stderr


@pytest.mark.slow
def test_unknown_plugin_name_suggests_the_closest(tmp_path: Path) -> None:
    result = run_hookwise("fit", "--dry-run", "-p", "evaluater", cwd=tmp_path)
    assert result.returncode == 2, explain(result)
    assert (
        "no installed hookwise plugin is named 'evaluater'. Did you mean 'evaluator'?"
        in result.stderr
    )
    assert "(plugin 'evaluater' was named in -p)" in result.stderr
    assert "Traceback" not in result.stderr


# -- in this process --------------------------------------------------------------------------


def test_unknown_parameter_names_plugin_parameter_and_accepted_ones(capsys) -> None:
    code, _, err = run_main(
        capsys, "fit", "--dry-run", "-p", "early_stopping:monitor=val/loss,patiense=3"
    )
    assert code == 2
    assert "plugin 'early_stopping'" in err and "'patiense'" in err
    assert "It accepts:" in err and "patience" in err
    assert "Traceback" not in err


def test_ill_typed_parameter(capsys) -> None:
    code, _, err = run_main(
        capsys, "fit", "--dry-run", "-p", "early_stopping:monitor=val/loss,patience=three"
    )
    assert code == 2
    assert "plugin 'early_stopping': parameter 'patience' must be int, got 'three' (str)" in err


def test_ill_typed_parameter_in_a_config_names_the_file(capsys, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[plugins.early_stopping]\nmonitor = "val/loss"\npatience = "three"\n')
    code, _, err = run_main(capsys, "fit", config, "--dry-run")
    assert code == 2
    assert "parameter 'patience' must be int" in err
    assert f"(plugin 'early_stopping' was named in {config} [plugins.early_stopping])" in err


def test_import_paths_that_do_not_resolve(capsys, tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "fit", "--dry-run", "-p", "no_such_module_xyz:Thing")
    assert code == 2 and "cannot import module 'no_such_module_xyz'" in err
    code, _, err = run_main(capsys, "fit", "--dry-run", "-p", "cli_test_plugins:Recordr")
    assert code == 2 and "has no attribute 'Recordr'. Did you mean 'Recorder'?" in err
    config = tmp_path / "c.toml"
    config.write_text(TINY_CONFIG.replace('"torch.optim:SGD"', '"torch.optim:SDG"'))
    code, _, err = run_main(capsys, "fit", config, "--dry-run")
    assert code == 2
    assert "[optimizer].target: 'torch.optim' has no attribute 'SDG'. Did you mean 'SGD'" in err


def test_bad_values_in_the_job(capsys, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        TINY_CONFIG.replace(
            'target = "cli_test_plugins:TinyModel"', 'target = "builtins:dict"\nx = 2.5'
        )
    )
    code, _, err = run_main(capsys, "fit", config, "-p", "no:logging")
    assert code == 2 and "[model]: 'builtins:dict' returned dict, not a torch.nn.Module" in err
    config.write_text(TINY_CONFIG.replace("lr = 0.1", "lr = 0.1\nbeta = 3"))
    code, _, err = run_main(capsys, "fit", config, "-p", "no:logging")
    assert code == 2 and "[optimizer]: 'torch.optim:SGD' rejected the arguments" in err
    assert "beta" in err


def test_missing_or_foreign_checkpoints(capsys, tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "fit", "--resume", tmp_path / "nope.ckpt")
    assert code == 2 and f"checkpoint {str(tmp_path / 'nope.ckpt')!r} does not exist" in err
    assert f"\n  (given as --resume {tmp_path / 'nope.ckpt'})\n" in err
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    code, _, err = run_main(capsys, "test", "--weights", foreign)
    assert code == 2 and "is not a hookwise checkpoint" in err
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    code, _, err = run_main(capsys, "test", "--weights", junk)
    assert code == 2 and str(junk) in err and "Traceback" not in err
    code, _, err = run_main(capsys, "test", "--weights", "last", "--output-dir", tmp_path / "none")
    assert code == 2 and "no checkpoint for 'last'" in err and "it does not exist" in err


def test_weights_that_do_not_fit_the_model(capsys, tmp_path: Path) -> None:
    from cli_test_plugins import TinyModel
    from hookwise import checkpointing
    from hookwise.trainer import Trainer

    other = TinyModel(width=3)
    trainer = Trainer(output_dir=tmp_path, device="cpu")
    trainer._model = other  # a checkpoint of a model with another shape
    path = checkpointing.atomic_save(trainer.checkpoint_state(), tmp_path / "other.ckpt")
    config = tmp_path / "c.toml"
    config.write_text(TINY_CONFIG)
    code, _, err = run_main(capsys, "test", config, "--weights", path, "-p", "no:logging")
    assert code == 2 and "do not fit the config's [model]" in err and "size mismatch" in err


def test_allow_list_blocks_named_plugins(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "logging")
    code, out, err = run_main(capsys, "fit", "--dry-run", "-p", "early_stopping:monitor=x")
    assert code == 2 and "plugin 'early_stopping' is not in the allow-list ['logging']" in err
    code, out, err = run_main(capsys, "fit", "--dry-run")
    assert code == 0, err  # the defaults outside the list are left out
    assert "#   on_fit_end: logging\n" in out


def test_a_default_plugin_that_is_not_installed_names_the_pip_command(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hookwise.config.toml.default_config

    def with_missing_default() -> dict[str, Any]:
        config = real()
        config["plugins"]["hookwise_missing_thing"] = {}
        return config

    monkeypatch.setattr(hookwise.config.toml, "default_config", with_missing_default)
    code, _, err = run_main(capsys, "fit", "--dry-run")
    assert code == 2
    assert "default plugin 'hookwise_missing_thing' is not installed. Install it with: " in err
    assert "pip install hookwise-hookwise-missing-thing" in err
    assert "-p no:hookwise_missing_thing" in err
    # Blocking it, or turning the defaults off, is the way out.
    assert run_main(capsys, "fit", "--dry-run", "-p", "no:hookwise_missing_thing")[0] == 0
    monkeypatch.setenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert run_main(capsys, "fit", "--dry-run")[0] == 0
    monkeypatch.delenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD")
    # The listing's defaults (the same names, without parsing the config).
    defaults = hookwise.bundled.DEFAULT_PLUGINS
    monkeypatch.setattr(hookwise.bundled, "DEFAULT_PLUGINS", (*defaults, "hookwise_missing_thing"))
    code, out, _ = run_main(capsys, "plugins", "--all")
    assert code == 0
    assert (
        "hookwise_missing_thing" in out
        and "NOT INSTALLED (pip install hookwise-hookwise-missing-thing)" in out
    )


def test_bad_device(capsys, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(TINY_CONFIG)
    code, _, err = run_main(capsys, "fit", config, "--device", "gpu0")
    assert code == 2
    assert "--device must be 'cpu', 'cuda', 'cuda:N', 'auto' or a torch.device, got 'gpu0'" in err
    # The same setting, the same check, in a config (before anything is built).
    config.write_text(TINY_CONFIG.replace('device = "cpu"', 'device = "gpu0"'))
    code, _, err = run_main(capsys, "fit", config)
    assert code == 2
    assert f"{config}: [trainer] device must be 'cpu', 'cuda', 'cuda:N', 'auto'" in err


def test_usage_errors_exit_2(capsys) -> None:
    code, _, err = run_main(capsys, "fit", "--epochs", "many")
    assert code == 2
    assert "--epochs must be an integer >= 0 (-1: unlimited), got 'many'" in err
    with pytest.raises(SystemExit) as caught:
        main(["test"])
    assert caught.value.code == 2
    assert "--weights" in capsys.readouterr().err
    code, _, err = run_main(capsys, "fit", "--resume", "a.ckpt", "--weights", "b.ckpt")
    assert code == 2 and "give --resume (continue a run) or --weights" in err
