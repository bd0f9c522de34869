"""The public API: Callback compatibility, hookspecs, the light import."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from pathlib import Path

import hookwise
import pytest
from hookwise import HOOK_NAMES, Callback, CallbackConnector, data_key, hookspecs


def test_callback_signature_matches_vis4d() -> None:
    signature = inspect.signature(Callback.__init__)
    assert list(signature.parameters) == [
        "self",
        "epoch_based",
        "train_connector",
        "test_connector",
    ]
    assert signature.parameters["epoch_based"].default is True
    callback = Callback()
    assert callback.train_connector is None and callback.epoch_based is True
    with pytest.raises(AssertionError, match="Train connector is None"):
        callback.get_train_callback_inputs({}, {})
    with pytest.raises(AssertionError, match="Test connector is None"):
        callback.get_test_callback_inputs({}, {})
    connected = Callback(train_connector=CallbackConnector({"y": data_key("y")}))
    assert connected.get_train_callback_inputs({}, {"y": 1}) == {"y": 1}
    assert callback.setup() is None
    assert callback.state_dict() == {}


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hook_has_a_spec_with_documented_arguments_and_a_callback_method(hook: str) -> None:
    spec = getattr(hookspecs, hook)
    spec_params = [p for p in inspect.signature(spec).parameters]
    method_params = [p for p in inspect.signature(getattr(Callback, hook)).parameters][1:]
    assert method_params == spec_params
    assert all(
        p.default is inspect.Parameter.empty for p in inspect.signature(spec).parameters.values()
    )
    doc = inspect.getdoc(spec) or ""
    for name in spec_params:
        assert f":param {name}:" in doc, f"{hook} does not document {name}"
    assert ("vis4d hook." in doc) != ("Extension of vis4d's hook set." in doc)


def test_vis4d_hook_signatures_are_the_seeds() -> None:
    expected = {
        "setup": [],
        "on_train_epoch_start": ["trainer_state", "model", "loss_module"],
        "on_train_batch_start": ["trainer_state", "model", "loss_module", "batch", "batch_idx"],
        "on_train_batch_end": [
            "trainer_state",
            "model",
            "loss_module",
            "outputs",
            "batch",
            "batch_idx",
        ],
        "on_train_epoch_end": ["trainer_state", "model", "loss_module"],
        "on_test_epoch_start": ["trainer_state", "model"],
        "on_test_batch_end": [
            "trainer_state",
            "model",
            "outputs",
            "batch",
            "batch_idx",
            "dataloader_idx",
        ],
        "on_test_epoch_end": ["trainer_state", "model"],
    }
    for hook, params in expected.items():
        assert list(inspect.signature(getattr(hookspecs, hook)).parameters) == params
    assert inspect.signature(Callback.on_test_batch_end).parameters["dataloader_idx"].default == 0


def test_import_hookwise_does_not_import_torch() -> None:
    code = (
        "import sys, hookwise; hookwise.PluginManager().installed(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_hookwise_imports_only_its_init_and_every_public_name_resolves() -> None:
    code = (
        "import json, sys, hookwise\n"
        "before = sorted(m for m in sys.modules if m.startswith(('hookwise', 'pluggy')))\n"
        "from hookwise import *\n"
        "print(json.dumps([before, [n for n in hookwise.__all__ if n not in globals()]]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [["hookwise"], []]
    assert set(hookwise.__all__) <= set(dir(hookwise))
    assert hookwise.plugins.PluginManager is hookwise.PluginManager  # a submodule, as before


def test_the_type_checking_imports_are_the_lazy_names() -> None:
    tree = ast.parse(Path(hookwise.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n))
    typed = {
        (node.module, alias.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    lazy = {(module, name) for name, module in hookwise._LAZY.items()}
    assert typed == lazy
    assert {name for _, name in lazy} == set(hookwise.__all__) - {"__version__"}


def test_lazy_names_resolve() -> None:
    assert hookwise.Trainer.__name__ == "Trainer"
    assert hookwise.LossModule.__name__ == "LossModule"
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        hookwise.Nope  # noqa: B018


def test_default_output_folder_is_in_the_trainers_run_folder(tmp_path: Path) -> None:
    from hookwise import ConfigError
    from hookwise.callback import default_output_folder

    class Trainer:
        output_dir = tmp_path

    state = {"trainer": Trainer()}
    assert default_output_folder(state, "vis", plugin="v", setting="x") == tmp_path / "vis"
    with pytest.raises(
        ConfigError, match=r"plugin 'v': save_to_disk=True needs a folder: pass save_prefix"
    ):
        default_output_folder({}, "vis", plugin="v", setting="save_to_disk=True")
