"""``hookwise plugins NAME``: a plugin's distribution, version, parameters (name, type,
default, one line of doc) and hooks, before it is enabled; ``--json`` too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hookwise.cli.app import main
from hookwise.plugin_details import describe, param_docs, parameters_of, render


def test_the_command_shows_an_installed_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "early_stopping"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("early_stopping  (hookwise-early-stopping ")
    assert "target: hookwise_early_stopping:EarlyStopping" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["monitor"].split()[1:3] == ["str", "(required)"]
    assert lines["patience"].split()[1:3] == ["int", "3"]
    assert "how many validation passes" in lines["patience"]
    assert "Hooks: on_fit_start, on_fit_end, on_validation_end" in out
    assert "Enable: hookwise fit -p early_stopping:monitor=..." in out
    assert "``" not in out  # plain text, not reStructuredText


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "checkpoint", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["distribution"] == "hookwise-checkpoint" and data["version"]
    params = {p["name"]: p for p in data["parameters"]}
    assert params["save_last"] == {
        "name": "save_last",
        "type": "bool",
        "default": True,
        "doc": params["save_last"]["doc"],
        "required": False,
    }
    assert params["save_last"]["doc"]
    assert "on_validation_end" in data["hooks"]


def test_unknown_names_say_what_there_is(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "early_stoping"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'early_stopping'?" in err


def test_a_config_file_is_still_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[trainer]\nepochs = 1\n", encoding="utf-8")
    assert main(["plugins", str(config)]) == 0
    assert "NAME" in capsys.readouterr().out  # the table, not one plugin


def test_import_paths_and_factories() -> None:
    details = describe("hookwise.examples.digits:DigitsMLP")
    assert details.distribution is None and details.kind == "a class"
    hidden = next(p for p in details.parameters if p.name == "hidden")
    assert (hidden.type, hidden.default, hidden.doc) == (
        "int",
        128,
        "the width of each hidden layer.",
    )
    assert "no distribution" in render(details)


def test_docstring_styles() -> None:
    sphinx = """Summary.

    :param a: the first. Its second sentence is left out.
    :param b: spans
        two lines.
    """
    assert param_docs(sphinx) == {"a": "the first.", "b": "spans two lines."}
    google = """Summary.

    Args:
        a (int): first, e.g. `1`.
        b: second
            continued.

    Returns:
        nothing
    """
    assert param_docs(google) == {"a": "first, e.g. `1`.", "b": "second continued."}

    def factory(a: int, b: str = "x", *, c: list[int] | None = None) -> None:
        """:param a: A.
        :param c: the :class:`~hookwise.Trainer` list."""

    params = parameters_of(factory)
    assert [(p.name, p.type, p.default_text, p.doc) for p in params] == [
        ("a", "int", "(required)", "A."),
        ("b", "str", '"x"', ""),
        ("c", "list[int] | None", "None", "the Trainer list."),
    ]
