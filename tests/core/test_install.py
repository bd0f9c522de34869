"""A plugin distribution really installed with pip is listed and enabled by name in a fresh
process, and the trainer calls it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.venvs import PluginVenv, write_plugin_distribution

pytestmark = pytest.mark.slow

HELLO = '''
"""Says hello: prints at the start of the fit and writes a file at its end."""
from pathlib import Path

from hookwise import Callback


class Hello(Callback):
    """Prints a greeting when the fit starts and writes ``hello.txt`` into the run folder.

    :param greeting: what to say.
    """

    def __init__(self, greeting: str = "hello") -> None:
        super().__init__()
        self.greeting = greeting
        self.batches = 0

    def on_fit_start(self, trainer_state, model):
        print(f"{self.greeting} from the installed plugin", flush=True)

    def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch, batch_idx):
        self.batches += 1

    def on_fit_end(self, trainer_state, model):
        out = Path(trainer_state["train_module"].output_dir) / "hello.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(f"{self.greeting} after {self.batches} batches")
'''

FIT = """
import json, sys
from pathlib import Path

import hookwise

pm = hookwise.PluginManager()
listed = [
    {"name": p.name, "target": p.target, "distribution": p.distribution, "version": p.version}
    for p in pm.installed()
]
imported_by_listing = "hookwise_hello" in sys.modules

import torch
from torch.utils.data import DataLoader

class Data(torch.utils.data.Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(8, 4, generator=g)
        self.y = (self.x.sum(1) > 0).long()
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return {"inputs": self.x[i], "labels": self.y[i]}

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
    def forward(self, inputs):
        return {"logits": self.linear(inputs)}

class CE(torch.nn.Module):
    def forward(self, logits, labels):
        return torch.nn.functional.cross_entropy(logits, labels)

loss = hookwise.LossModule({
    "loss": CE(),
    "connector": hookwise.LossConnector(
        {"logits": hookwise.pred_key("logits"), "labels": hookwise.data_key("labels")}
    ),
})
trainer = hookwise.Trainer(
    device="cpu",
    output_dir=sys.argv[1],
    train_dataloader=DataLoader(Data(), batch_size=4),
    train_data_connector=hookwise.DataConnector({"inputs": "inputs"}),
    num_epochs=2,
    plugins=[("Hello-Plugin", {"greeting": "bonjour"})],  # names fold as pip's do
)
model = Model()
trainer.fit(model, torch.optim.SGD(model.parameters(), lr=0.1), None, loss)
print(json.dumps({
    "listed": listed,
    "imported_by_listing": imported_by_listing,
    "registered": trainer.pm.plugin_names(),
    "module": sys.modules["hookwise_hello"].__file__,
}))
"""


def test_pip_installed_plugin_is_listed_enabled_by_name_and_called(
    plugin_venv: PluginVenv, tmp_path: Path
) -> None:
    project = write_plugin_distribution(
        tmp_path / "hookwise-hello",
        "hookwise-hello",
        version="1.2.0",
        entry_points={"hello_plugin": "hookwise_hello:Hello"},
        files={"hookwise_hello/__init__.py": HELLO},
        dependencies=["hookwise", "torch>=2.1"],
    )
    plugin_venv.install(project)
    run_dir = tmp_path / "run"
    result = plugin_venv.run(["-c", FIT, str(run_dir)])
    lines = result.stdout.strip().splitlines()
    report = json.loads(lines[-1])

    assert {
        "name": "hello_plugin",
        "target": "hookwise_hello:Hello",
        "distribution": "hookwise-hello",
        "version": "1.2.0",
    } in report["listed"]
    assert report["imported_by_listing"] is False  # installed is not enabled
    assert report["registered"] == ["hello_plugin"]
    assert Path(report["module"]).is_relative_to(plugin_venv.root)  # the pip-installed copy
    assert "bonjour from the installed plugin" in lines
    assert (run_dir / "hello.txt").read_text() == "bonjour after 4 batches"

    # The parent environment never saw it.
    from hookwise.discovery import installed_plugins

    assert "hello_plugin" not in [p.name for p in installed_plugins()]
