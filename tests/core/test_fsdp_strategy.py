"""``strategy``, ``fsdp_wrap`` and ``checkpoint_format`` in one process: the settings
(Python, config, command line), the wrapping policy, the optimizer rebinding rule and which
plugins ``fsdp`` (and sharded checkpoints under ``ddp``) refuse.

Training under FSDP with real processes is ``tests/distributed/test_fsdp.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from hookwise import ConfigError, PluginManager, Trainer
from hookwise.cli.parser import parse_args
from hookwise.cli.run_config import setting_overrides, trainer_kwargs
from hookwise.config import resolve_config
from hookwise.trainer.fsdp import FSDPStrategy, wrap_units
from hookwise.trainer.strategy import DDPStrategy, Strategy, select_strategy
from torch import nn


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 32)
        self.blocks = nn.Sequential(Block(32), Block(32))
        self.head = nn.Linear(32, 2)


def test_strategy_and_fsdp_wrap_from_python_config_and_command_line(tmp_path: Path) -> None:
    trainer = Trainer(device="cpu", output_dir=tmp_path, strategy="fsdp", fsdp_wrap=["Block"])
    assert trainer.run_settings["strategy"] == "fsdp"
    assert trainer.run_settings["fsdp_wrap"] == ("Block",)
    assert Trainer(device="cpu", output_dir=tmp_path).run_settings["strategy"] == "ddp"
    args = parse_args(["fit", "--strategy", "fsdp", "--fsdp-wrap", "Block,Linear"])
    resolved = resolve_config(
        {"trainer": {"strategy": "ddp", "fsdp_wrap": 1000}},
        trainer_overrides=setting_overrides(args),
        overrides=args.overrides,
        defaults={},
    )
    assert trainer_kwargs(resolved) == {"strategy": "fsdp", "fsdp_wrap": ("Block", "Linear")}
    config = {"trainer": {"strategy": "fsdp", "fsdp_wrap": 1000}}
    assert trainer_kwargs(resolve_config(config, defaults={})) == {
        "strategy": "fsdp",
        "fsdp_wrap": 1000,
    }
    assert parse_args(["fit", "--fsdp-wrap", "5000"]).__dict__  # an int on the command line


def test_checkpoint_format_from_python_config_and_command_line(tmp_path: Path) -> None:
    assert Trainer(device="cpu", output_dir=tmp_path).run_settings["checkpoint_format"] == "full"
    trainer = Trainer(device="cpu", output_dir=tmp_path, checkpoint_format="sharded")
    assert trainer.run_settings["checkpoint_format"] == "sharded"
    args = parse_args(["fit", "--checkpoint-format", "sharded"])
    resolved = resolve_config(
        {"trainer": {"checkpoint_format": "full"}},
        trainer_overrides=setting_overrides(args),
        overrides=args.overrides,
        defaults={},
    )
    assert trainer_kwargs(resolved) == {"checkpoint_format": "sharded"}
    with pytest.raises(ConfigError, match=r"\[trainer\] checkpoint_format must be 'full' or"):
        resolve_config({"trainer": {"checkpoint_format": "zip"}}, defaults={})
    with pytest.raises(ConfigError, match="checkpoint_format must be 'full' or 'sharded', got"):
        Trainer(device="cpu", output_dir=tmp_path, checkpoint_format="dcp")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("strategy", "deepspeed", "'ddp' or 'fsdp'"),
        ("fsdp_wrap", 0, "a list of module class names, a parameter count >= 1, or None"),
        ("fsdp_wrap", ["not a name"], "a list of module class names"),
    ],
)
def test_bad_strategy_values_name_the_setting(
    tmp_path: Path, key: str, value: Any, expected: str
) -> None:
    with pytest.raises(ConfigError, match=f"Trainer {key} must be {expected}"):
        Trainer(device="cpu", output_dir=tmp_path, **{key: value})


def test_the_strategy_is_chosen_by_the_setting_under_torchrun() -> None:
    cpu = torch.device("cpu")
    kwargs: dict[str, Any] = {"use_distributed_sampler": True, "ddp_kwargs": {}}
    assert type(select_strategy(1, cpu, name="fsdp", **kwargs)) is Strategy  # one process
    assert type(select_strategy(2, cpu, **kwargs)) is DDPStrategy
    fsdp = select_strategy(2, cpu, name="fsdp", fsdp_wrap=("Block",), **kwargs)
    assert isinstance(fsdp, FSDPStrategy) and fsdp.wrap == ("Block",)
    assert fsdp.sharded_checkpoints and not select_strategy(2, cpu, **kwargs).sharded_checkpoints
    ddp = select_strategy(2, cpu, checkpoint_format="sharded", **kwargs)
    assert type(ddp) is DDPStrategy and ddp.sharded_checkpoints
    # one process writes one file whatever the setting says
    assert not select_strategy(1, cpu, checkpoint_format="sharded", **kwargs).sharded_checkpoints
    fsdp_full = select_strategy(2, cpu, name="fsdp", checkpoint_format="full", **kwargs)
    assert fsdp_full.sharded_checkpoints  # fsdp's checkpoints are always sharded


def test_wrap_units_by_class_and_by_size_children_first() -> None:
    net = Net()
    assert wrap_units(net, None) == []
    blocks = list(net.blocks)
    assert wrap_units(net, ("Block",)) == [blocks[1], blocks[0]]
    assert wrap_units(net, ("Block", "Linear")).index(blocks[0].inner) < wrap_units(
        net, ("Block", "Linear")
    ).index(blocks[0])
    # 32*32+32 = 1056 parameters in each inner Linear: those are units; the Blocks then hold
    # only their LayerNorm's 64, below the threshold, and so does the Sequential
    assert wrap_units(net, 1000) == [blocks[0].inner, blocks[1].inner]
    assert wrap_units(net, 10**9) == []
    with pytest.raises(ConfigError, match=r"fsdp_wrap names module classes .*: Blok; its"):
        wrap_units(net, ("Blok",))


def test_optimizers_are_bound_to_the_sharded_parameters_by_name() -> None:
    net = Net()
    strategy = FSDPStrategy(2, torch.device("cpu"))
    strategy._names = {id(p): name for name, p in net.named_parameters()}
    old = dict(net.named_parameters())
    optimizer = torch.optim.SGD(list(old.values()), lr=0.1)
    for name in old:  # what fully_shard does: new Parameter objects under the same names
        module_name, _, attr = name.rpartition(".")
        module = net.get_submodule(module_name)
        setattr(module, attr, nn.Parameter(old[name].detach().clone()))
    strategy.bind_optimizers(net, [optimizer])
    bound = optimizer.param_groups[0]["params"]
    assert [id(p) for p in bound] == [id(p) for p in net.parameters()]
    stepped = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match="optimizer 0 holds a parameter that is not the model"):
        strategy.bind_optimizers(net, [stepped])


PARAMS: dict[str, dict[str, Any]] = {"evaluator": {"evaluator": "accuracy"}}


def _enabled(*names: str) -> PluginManager:
    pm = PluginManager()
    for name in names:
        pm.enable(name, **PARAMS.get(name, {}))
    return pm


@pytest.mark.parametrize(("plugin", "reason"), [("ema", "full copy of the model's weights")])
def test_plugins_that_need_full_parameters_are_refused_at_start(plugin: str, reason: str) -> None:
    strategy = FSDPStrategy(2, torch.device("cpu"))
    with pytest.raises(
        ConfigError, match=f"plugin '{plugin}' does not work with strategy='fsdp'"
    ) as caught:
        strategy.prepare_plugins(_enabled("evaluator", plugin))
    assert reason in str(caught.value) and f"-p no:{plugin}" in str(caught.value)
    DDPStrategy(2, torch.device("cpu")).prepare_plugins(_enabled(plugin))  # fine under DDP


class OneRankWriter:
    """A plugin that saves from rank 0 alone, and says so."""

    supports_sharded_checkpoints = "it saves from rank 0 alone"


def test_plugins_that_cannot_take_part_in_a_sharded_save_are_refused() -> None:
    pm = _enabled("evaluator", "checkpoint", "ema")  # every rank is whole under DDP: EMA works
    DDPStrategy(2, torch.device("cpu"), sharded_checkpoints=True).prepare_plugins(pm)
    pm.register(OneRankWriter(), name="writer")
    with pytest.raises(
        ConfigError, match="plugin 'writer' does not work with checkpoint_format='sharded'"
    ) as caught:
        DDPStrategy(2, torch.device("cpu"), sharded_checkpoints=True).prepare_plugins(pm)
    assert "saves from rank 0 alone" in str(caught.value)
    assert "checkpoint_format='full'" in str(caught.value)
    DDPStrategy(2, torch.device("cpu")).prepare_plugins(pm)  # fine with one-file checkpoints
    alone = PluginManager()
    alone.register(OneRankWriter(), name="writer")
    with pytest.raises(ConfigError, match=r"'writer' does not work with strategy='fsdp' \(its"):
        FSDPStrategy(2, torch.device("cpu")).prepare_plugins(alone)


def test_a_lightning_callback_is_refused_under_fsdp() -> None:
    lightning = pytest.importorskip("lightning.pytorch")
    from hookwise_lightning import adapt

    pm = PluginManager()
    pm.register(adapt(lightning.callbacks.LearningRateMonitor()), name="lr")
    with pytest.raises(ConfigError, match="may read or copy the model's full parameters"):
        FSDPStrategy(2, torch.device("cpu")).prepare_plugins(pm)


def test_a_lightning_checkpoint_callback_is_refused_with_sharded_checkpoints(
    tmp_path: Path,
) -> None:
    lightning = pytest.importorskip("lightning.pytorch")
    from hookwise_lightning import adapt

    pm = PluginManager()
    pm.register(adapt(lightning.callbacks.LearningRateMonitor()), name="lr")
    strategy = DDPStrategy(2, torch.device("cpu"), sharded_checkpoints=True)
    strategy.prepare_plugins(pm)  # a callback that does not save is fine
    pm.register(adapt(lightning.callbacks.ModelCheckpoint(dirpath=tmp_path)), name="ckpt")
    with pytest.raises(ConfigError, match="'ckpt' does not work with checkpoint_format='sharded'"):
        strategy.prepare_plugins(pm)


def test_plugins_that_support_fsdp_are_accepted() -> None:
    pm = _enabled("evaluator", "nan_guard", "visualizer", "checkpoint")
    FSDPStrategy(2, torch.device("cpu")).prepare_plugins(pm)
    assert pm.plugin_names() == ["evaluator", "nan_guard", "visualizer", "checkpoint"]
