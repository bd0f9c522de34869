"""Any setting from the command line: ``KEY=VALUE`` (or ``--set KEY=VALUE``) overrides of any
config key, typed and checked like the config file, recorded in the run's ``config.toml``;
``"${trainer.epochs}"`` references follow them (the default job's cosine ``T_max``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise import ConfigError
from hookwise.cli.parser import parse_args
from hookwise.config import loads_toml, resolve_config
from hookwise.runs import run_dirs

NO_DEFAULTS = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}


def resolve(*overrides: str, config: str | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    given = loads_toml(config, "test.toml") if config is not None else None
    return resolve_config(given, overrides=overrides, **kwargs)  # type: ignore[arg-type]


def test_job_trainer_and_plugin_keys() -> None:
    resolved = resolve(
        "optimizer.lr=0.01",
        "data.train.batch_size=128",
        "model.hidden=64",
        "trainer.num_epochs=3",
        "trainer.seed=7",
        "plugins.checkpoint.keep_last=2",
        "plugins.logging=false",
    )
    assert resolved.job["optimizer"]["lr"] == 0.01
    assert resolved.job["data"]["train"]["batch_size"] == 128
    assert resolved.job["model"]["hidden"] == 64
    assert resolved.trainer["epochs"] == 3 and resolved.trainer["seed"] == 7
    specs = {spec.name: spec.params for spec in resolved.plugins.specs}
    assert specs["checkpoint"]["keep_last"] == 2
    assert "logging" not in specs and "logging" in resolved.plugins.blocked
    written = tomllib.loads(resolved.to_toml())
    assert written["optimizer"]["lr"] == 0.01 and written["trainer"]["epochs"] == 3


def test_an_int_for_a_float_is_a_float_and_lists_index() -> None:
    config = (
        TINY_CONFIG.replace("[loss]\n", "[[loss]]\n")
        + '\n[[loss]]\ntarget = "torch.nn:CrossEntropyLoss"\nweight = 0.5\n'
        + ('connector = { input = { pred = "logits" }, target = { data = "labels" } }\n')
    )
    resolved = resolve("optimizer.lr=1", "loss.1.weight=2", config=config)
    assert resolved.job["optimizer"]["lr"] == 1.0 and isinstance(
        resolved.job["optimizer"]["lr"], float
    )
    assert resolved.job["loss"][1]["weight"] == 2.0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lrr=0.1", "'torch.optim:SGD' takes no parameter 'lrr'. Did you mean 'lr'?"),
        ("optimizer.lr=fast", "the value there is float (0.05 in the config), got 'fast'"),
        ("model.hidden=1.5", "hidden must be int, got 1.5"),
        ("trainer.epoch=3", "[trainer] has no key 'epoch'. Did you mean 'epochs'?"),
        ("trainer.epochs=-3", "must be"),
        ("data.batch_size=12", "set data.train.batch_size=..., data.val.batch_size=..."),
        ("data.trian.batch_size=1", "data has no key 'trian'. Did you mean 'train'?"),
        ("foo=1", "starts with one of trainer, model, data"),
        ("plugins.checkpoint=3", "plugins.checkpoint.KEY=VALUE"),
        ("loss.0.weight=1", "loss has no key '0'. It has: target, connector"),
    ],
)
def test_wrong_overrides_say_what_is_wrong(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(override)
    assert message in str(info.value)
    assert repr(override) in str(info.value)


def test_scheduler_horizon_follows_the_epochs() -> None:
    assert resolve().job["scheduler"]["T_max"] == 12
    assert resolve("trainer.epochs=3").job["scheduler"]["T_max"] == 3
    flag = resolve_config(None, trainer_overrides={"epochs": 2})
    assert flag.job["scheduler"]["T_max"] == 2
    # The written config keeps the reference, so a resumed run follows its own epochs.
    written = tomllib.loads(flag.to_toml())
    assert written["scheduler"]["T_max"] == "${trainer.epochs}"
    assert resolve("scheduler.T_max=5").job["scheduler"]["T_max"] == 5


def test_references_to_nothing_are_errors() -> None:
    config = TINY_CONFIG.replace("lr = 0.1", 'lr = "${trainer.nope}"')
    with pytest.raises(ConfigError, match=r"\[trainer\] has no key 'nope'"):
        resolve(config=config)


def test_positional_and_set_forms_anywhere_after_the_command() -> None:
    args = parse_args(["fit", "run.toml", "-p", "ema", "optimizer.lr=0.1", "--set", "a.b=1"])
    assert args.config == "run.toml"
    assert args.overrides == ["a.b=1", "optimizer.lr=0.1"]
    bare = parse_args(["fit", "trainer.epochs=2", "model.hidden=8"])
    assert bare.config is None and bare.overrides == ["trainer.epochs=2", "model.hidden=8"]
    with pytest.raises(SystemExit):
        parse_args(["fit", "--epoch-count", "3"])


@pytest.mark.slow
def test_overrides_train_and_are_recorded_in_config_toml(tmp_path: Path) -> None:
    (tmp_path / "job.toml").write_text(TINY_CONFIG, encoding="utf-8")
    result = run_hookwise(
        "fit", "job.toml", "optimizer.lr=0.5", "--set", "trainer.epochs=1",
        cwd=tmp_path, env=NO_DEFAULTS,
    )  # fmt: skip
    assert result.returncode == 0, explain(result)
    (run,) = run_dirs(tmp_path / "hookwise-runs")
    saved = tomllib.loads((run / "config.toml").read_text(encoding="utf-8"))
    assert saved["optimizer"]["lr"] == 0.5 and saved["trainer"]["epochs"] == 1
    bad = run_hookwise("fit", "job.toml", "optimizer.lr=x", cwd=tmp_path, env=NO_DEFAULTS)
    assert bad.returncode == 2 and "override 'optimizer.lr=x'" in bad.stderr, explain(bad)
