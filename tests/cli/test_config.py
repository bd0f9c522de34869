"""Configs: TOML errors, key checks, precedence (defaults < config < environment < command
line), plugin order, allow-lists, and the resolved config written back as TOML."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import tomllib
from hookwise.config import (
    PluginBlock,
    PluginSpec,
    default_config,
    dump_config,
    load_toml,
    resolve_config,
    resolve_plugins,
)
from hookwise.errors import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st

DEFAULTS: dict[str, Any] = {
    "trainer": {"epochs": 5, "seed": 0},
    "plugins": {
        "evaluator": {"evaluator": "accuracy"},
        "logging": {"plot": True},
        "checkpoint": {},
    },
    "model": {"target": "m:Default"},
    "data": {"train": {"target": "m:train"}},
    "optimizer": {"target": "torch.optim:SGD", "lr": 0.1},
    "scheduler": {"target": "m:Sched"},
    "loss": {"target": "m:Loss"},
}


def resolve(config: dict[str, Any] | None = None, env: dict[str, str] | None = None, **kwargs: Any):
    return resolve_config(
        config,
        source="cfg.toml",
        environ=env or {},
        use_environment=True,
        defaults=DEFAULTS,
        **kwargs,
    )


def plugins(resolved) -> list[tuple[str, dict[str, Any]]]:
    return [(spec.name, spec.params) for spec in resolved.plugins.specs]


# -- TOML files -------------------------------------------------------------------------------


def test_toml_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[trainer]\nepochs = 3\nseed = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_toml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3:8: invalid TOML: ")
    assert "seed = = 1\n" in message and message.endswith(" " * 11 + "^")


def test_toml_error_at_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "open.toml"
    path.write_text('[model]\ntarget = "a', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}:2:\d+: invalid TOML"):
        load_toml(path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_toml(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"trainr": {}}, "cfg.toml: unknown key 'trainr'. Did you mean 'trainer'?"),
        ({"trainer": {"epoch": 3}}, "[trainer]: unknown key 'epoch'. Did you mean 'epochs'?"),
        (
            {"trainer": {"epochs": "ten"}},
            "[trainer] epochs must be an integer >= 0 (-1: unlimited), got 'ten'",
        ),
        (
            {"trainer": {"epochs": True}},
            "[trainer] epochs must be an integer >= 0 (-1: unlimited), got True",
        ),
        (
            {"trainer": {"val_check_interval": True}},
            "val_check_interval must be an integer >= 1 or None, got True",
        ),
        (
            {"trainer": {"scheduler_interval": "batch"}},
            "scheduler_interval must be 'epoch' or 'step'",
        ),
        ({"model": {"hidden": 3}}, '[model] needs target = "package.module:callable"'),
        ({"optimizer": "sgd"}, "[optimizer] must be a table"),
        (
            {"data": {"train": {"target": "m:t"}, "tset": {}}},
            "unknown key 'tset'. Did you mean 'test'?",
        ),
        ({"data": {"val": {"target": "m:t"}}}, "[data] needs train = "),
        ({"data": {"train": {"target": "m:t"}, "connector": {"x": 1}}}, "connector must map"),
        ({"plugins": {"logging": 3}}, "must be a table of parameters, true (enable) or false"),
        ({"plugins": {"bad name": {}}}, "is not a plugin name"),
        ({"allowed_plugins": "logging"}, "allowed_plugins must be a list"),
        ({"loss": [{"target": "a:b"}, {}]}, "[[loss]] entry 2 needs target"),
    ],
)
def test_config_errors_name_the_file_table_and_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(config)
    assert message in str(caught.value)
    assert "cfg.toml" in str(caught.value)


def test_a_config_with_a_model_defines_the_whole_job() -> None:
    with pytest.raises(ConfigError, match=r"has no \[optimizer\], \[loss\]"):
        resolve({"model": {"target": "a:M"}, "data": {"train": {"target": "a:d"}}})
    job = {
        "model": {"target": "a:M"},
        "data": {"train": {"target": "a:d"}},
        "optimizer": {"target": "a:o"},
        "loss": {"target": "a:l"},
    }
    resolved = resolve(job)
    assert resolved.job["model"] == {"target": "a:M"}
    assert resolved.job["scheduler"] is None  # not the default's scheduler
    # Without [model], sections replace the default job's one by one.
    resolved = resolve({"optimizer": {"target": "torch.optim:Adam"}})
    assert resolved.job["optimizer"] == {"target": "torch.optim:Adam"}
    assert resolved.job["model"] == DEFAULTS["model"]
    assert resolved.job["scheduler"] == DEFAULTS["scheduler"]


# -- precedence -------------------------------------------------------------------------------


def test_each_layer_overrides_the_one_before_key_by_key() -> None:
    config = {"plugins": {"logging": {"plot": False, "refresh_rate": 5}}, "trainer": {"epochs": 7}}
    env = {"HOOKWISE_PLUGINS": "logging:refresh_rate=10,metrics_file=jsonl"}
    resolved = resolve(
        config, env, plugin_args=["logging:metrics_file=csv"], trainer_overrides={"epochs": 9}
    )
    assert dict(plugins(resolved))["logging"] == {
        "plot": False,  # config over the default's true
        "refresh_rate": 10,  # environment over config
        "metrics_file": "csv",  # command line over environment
    }
    assert resolved.trainer == {"epochs": 9, "seed": 0}
    # Each layer alone.
    assert dict(plugins(resolve()))["logging"] == {"plot": True}
    assert dict(plugins(resolve(config)))["logging"] == {"plot": False, "refresh_rate": 5}
    assert dict(plugins(resolve(None, env)))["logging"] == {
        "plot": True,
        "refresh_rate": 10,
        "metrics_file": "jsonl",
    }
    assert resolve(config).trainer["epochs"] == 7
    assert resolve(trainer_overrides={"epochs": None}).trainer["epochs"] == 5  # unset flag


def test_blocks_and_reenabling_follow_the_same_order() -> None:
    # The config blocks checkpoint; the environment enables it again; -p blocks it again.
    config = {"plugins": {"checkpoint": False}}
    assert "checkpoint" not in dict(plugins(resolve(config)))
    assert resolve(config).plugins.blocked["checkpoint"].source.startswith("cfg.toml")
    env = {"HOOKWISE_PLUGINS": "checkpoint:keep_last=2"}
    resolved = resolve(config, env)
    assert dict(plugins(resolved))["checkpoint"] == {"keep_last": 2}
    assert not resolved.plugins.blocked
    resolved = resolve(config, env, plugin_args=["no:checkpoint"])
    assert "checkpoint" not in dict(plugins(resolved))
    assert resolved.plugins.blocked["checkpoint"] == PluginBlock("checkpoint")
    # A block removes every instance; names compare like pip project names.
    resolved = resolve(plugin_args=["evaluator@top5:k=5", "no:Evaluator"])
    assert [name for name, _ in plugins(resolved)] == ["logging", "checkpoint"]


def test_named_plugins_run_before_the_defaults() -> None:
    resolved = resolve(
        {"plugins": {"early_stopping": {"monitor": "val/loss"}, "logging": {"plot": False}}},
        {"HOOKWISE_PLUGINS": "lr_monitor"},
        plugin_args=["throughput", "evaluator@top5"],
    )
    assert [name for name, _ in plugins(resolved)] == [
        "early_stopping",
        "lr_monitor",
        "throughput",
        "evaluator@top5",
        "evaluator",
        "logging",
        "checkpoint",
    ]


def test_autoload_off_drops_only_the_defaults() -> None:
    env = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1", "HOOKWISE_PLUGINS": "lr_monitor"}
    resolved = resolve({"plugins": {"early_stopping": {}}}, env, plugin_args=["logging"])
    assert [name for name, _ in plugins(resolved)] == ["early_stopping", "lr_monitor", "logging"]
    # ... and the saved config says so, so that it reproduces the run without the variable.
    saved = tomllib.loads(resolved.to_toml())
    assert saved["plugins"]["evaluator"] is False and saved["plugins"]["checkpoint"] is False
    assert saved["plugins"]["logging"] == {}
    for off in ("0", "", "false"):
        env = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": off}
        assert len(resolve(None, env).plugins.specs) == 3


def test_the_environment_is_read_only_when_asked() -> None:
    env = {"HOOKWISE_PLUGINS": "lr_monitor", "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    resolved = resolve_config(None, environ=env, defaults=DEFAULTS)
    assert [name for name, _ in plugins(resolved)] == ["evaluator", "logging", "checkpoint"]


def test_allow_lists_intersect_and_leave_out_defaults_outside_them() -> None:
    env = {"HOOKWISE_ALLOWED_PLUGINS": "logging, evaluator,early_stopping"}
    resolved = resolve({"allowed_plugins": ["logging", "early-stopping", "checkpoint"]}, env)
    assert resolved.allowed_plugins == ["logging", "early-stopping"]
    assert [name for name, _ in plugins(resolved)] == ["logging"]
    # A named plugin outside the list is not dropped here: enabling it is the error.
    resolved = resolve(None, env, plugin_args=["throughput"])
    assert [name for name, _ in plugins(resolved)] == ["throughput", "evaluator", "logging"]


def test_resolve_plugins_merges_by_normalized_name() -> None:
    plan = resolve_plugins(
        [PluginSpec("early_stopping", {"patience": 3})],
        [[PluginSpec("Early-Stopping", {"mode": "max"})], [PluginSpec("early.stopping")]],
    )
    assert plan.specs == [PluginSpec("early_stopping", {"patience": 3, "mode": "max"})]


# -- the default config and writing configs back ----------------------------------------------


def test_the_embedded_default_config_is_valid_and_names_the_default_plugins() -> None:
    config = default_config()
    resolved = resolve_config(config, source="default")
    assert [(s.name, s.params) for s in resolved.plugins.specs] == [
        ("evaluator", {"evaluator": "accuracy"}),
        ("logging", {"plot": True, "refresh_rate": 10}),
        ("checkpoint", {"keep_last": 2, "monitor": "val/accuracy/top1", "mode": "max"}),
    ]
    assert config["model"]["target"] == "hookwise.examples.digits:DigitsMLP"


def test_resolved_config_reads_back_to_the_same_run() -> None:
    resolved = resolve(
        {"plugins": {"early_stopping": {"monitor": "val/loss"}}},
        {"HOOKWISE_PLUGINS": 'evaluator@top5:top_k=[1, 5],test_connector={p = {pred = "logits"}}'},
        plugin_args=["no:checkpoint"],
        trainer_overrides={"epochs": 2},
    )
    text = resolved.to_toml()
    assert tomllib.loads(text) == resolved.to_dict()
    again = resolve(tomllib.loads(text))
    assert plugins(again) == plugins(resolved)
    assert again.plugins.blocked.keys() == resolved.plugins.blocked.keys()
    assert again.trainer == resolved.trainer and again.job == resolved.job


_KEYS = st.text(string.ascii_letters + string.digits + "_-. @", min_size=1, max_size=8)
_LEAF = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=10),
)
_VALUE = st.recursive(
    _LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=3)),
    max_leaves=6,
)


@given(
    top=st.dictionaries(
        st.sampled_from(["allowed_plugins", "x"]), st.lists(_LEAF, max_size=3), max_size=1
    ),
    tables=st.dictionaries(_KEYS, st.dictionaries(_KEYS, _VALUE, max_size=4), max_size=3),
    plugin_tables=st.dictionaries(
        _KEYS, st.one_of(st.just(False), st.dictionaries(_KEYS, _VALUE, max_size=3)), max_size=3
    ),
)
@settings(max_examples=200, deadline=None)
def test_dump_config_reads_back_equal(
    top: dict[str, Any], tables: dict[str, Any], plugin_tables: dict[str, Any]
) -> None:
    config: dict[str, Any] = {**top, **{k: v for k, v in tables.items() if k not in top}}
    config["plugins"] = plugin_tables
    assert tomllib.loads(dump_config(config)) == config
