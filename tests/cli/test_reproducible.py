"""The same seed gives the same run, bit for bit on the CPU: from the command line (the job is
built after the seed is applied) and from Python (``hookwise.seed_everything`` before the model
is built, ``Trainer(seed=...)`` for dropout and the data order)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from clikit import TINY_CONFIG, explain, run_hookwise
from hookwise.runs import run_dirs

NO_DEFAULTS = {"HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1"}
#: The tiny job with dropout, so fit-time randomness matters too.
DROPOUT_CONFIG = TINY_CONFIG.replace(
    'target = "cli_test_plugins:TinyModel"', 'target = "repro_models:TinyDropoutModel"'
)


def _final_weights(run: Path) -> dict[str, torch.Tensor]:
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    return dict(state["model"])


def _fit_twice(tmp_path: Path, *flags: str) -> list[Path]:
    (tmp_path / "job.toml").write_text(DROPOUT_CONFIG, encoding="utf-8")
    for _ in range(2):
        result = run_hookwise(
            "fit", "job.toml", *flags, "-p", "logging", "-p", "checkpoint",
            cwd=tmp_path, env=NO_DEFAULTS,
        )  # fmt: skip
        assert result.returncode == 0, explain(result)
    runs = run_dirs(tmp_path / "hookwise-runs")
    assert len(runs) == 2, runs
    return runs


def _assert_same_run(first: Path, second: Path) -> None:
    assert (first / "metrics.csv").read_bytes() == (second / "metrics.csv").read_bytes()
    a, b = _final_weights(first), _final_weights(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_cli_same_seed_same_weights_and_metrics(tmp_path: Path) -> None:
    first, second = _fit_twice(tmp_path, "--seed", "123")
    _assert_same_run(first, second)


@pytest.mark.slow
def test_cli_seed_from_config_applies_before_the_model_and_another_seed_differs(
    tmp_path: Path,
) -> None:
    # The seed in [trainer] (not the flag) is the one applied before the job is built.
    (tmp_path / "seeded.toml").write_text(DROPOUT_CONFIG + "seed = 5\n", encoding="utf-8")
    for flags in ([], [], ["--seed", "6"]):
        result = run_hookwise(
            "fit", "seeded.toml", *flags, "-p", "checkpoint", cwd=tmp_path, env=NO_DEFAULTS
        )
        assert result.returncode == 0, explain(result)
    first, second, other = (_final_weights(r) for r in run_dirs(tmp_path / "hookwise-runs"))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_python_api_same_seed_same_run(tmp_path: Path) -> None:
    import hookwise
    from hookwise import DataConnector, Trainer
    from hookwise.testing import TinyData, tiny_loss
    from torch import nn
    from torch.utils.data import DataLoader

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5))
            self.head = nn.Linear(16, 2)

        def forward(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"logits": self.head(self.net(inputs))}

    def run(folder: Path) -> dict[str, torch.Tensor]:
        hookwise.seed_everything(11)
        model = Net()
        trainer = Trainer(
            device="cpu",
            output_dir=folder,
            train_dataloader=DataLoader(TinyData(n=32), batch_size=4, shuffle=True),
            train_data_connector=DataConnector({"inputs": "inputs"}),
            num_epochs=2,
            seed=11,
            plugins=["logging"],
        )
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        trainer.fit(model, optimizer, [], tiny_loss())
        return {k: v.clone() for k, v in model.state_dict().items()}

    a = run(tmp_path / "a")
    torch.rand(3)  # the global generator moved on between the runs, as in a longer script
    b = run(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "a" / "metrics.csv").read_bytes() == (
        tmp_path / "b" / "metrics.csv"
    ).read_bytes()


@pytest.mark.parametrize("seed", [0, 2**31 - 1])
def test_seed_everything_is_public(seed: int) -> None:
    import hookwise

    hookwise.seed_everything(seed)
    first = torch.rand(4)
    hookwise.seed_everything(seed)
    assert torch.equal(first, torch.rand(4))
