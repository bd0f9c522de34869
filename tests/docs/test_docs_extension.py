"""The documentation's Sphinx extension (``docs/_ext/hookwise_docs.py``) does its three jobs:
the command help comes from the parser, included READMEs get links that work on the site, and a
cross-reference written in a page that resolves to nothing fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
from docskit import DOCS, REPO

pytest.importorskip("sphinx", reason="the docs tests need the docs extra: pip install -e .[docs]")
sys.path.insert(0, str(DOCS / "_ext"))
import hookwise_docs


@pytest.mark.parametrize(
    "command", [None, "plugins", "hooks", "fit", "test", "new-plugin", "consolidate"]
)
def test_cli_help_is_the_parsers_help(command: str | None) -> None:
    from hookwise.cli import build_parser

    text = hookwise_docs.cli_help(command)
    parser = build_parser()
    if command is None:
        assert text.startswith("usage: hookwise ")
        for name in ("plugins", "hooks", "fit", "test", "new-plugin"):
            assert name in text
        return
    assert text.startswith(f"usage: hookwise {command}")
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for action in subparsers.choices[command]._actions:
        for option in action.option_strings:
            assert option in text, f"`hookwise {command} --help` lists {option}"
    assert all(len(line) <= hookwise_docs.HELP_WIDTH for line in text.splitlines()[:3])


def test_cli_help_names_an_unknown_subcommand() -> None:
    from sphinx.errors import ExtensionError

    with pytest.raises(
        ExtensionError, match=r"no subcommand 'trian'; it has \['consolidate', 'fit', 'hooks'"
    ):
        hookwise_docs.cli_help("trian")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("[hookwise](../../README.md)", "[hookwise](/index.md)"),
        (
            "[the ema plugin](../hookwise-ema/README.md#state)",
            "[the ema plugin](/plugins/ema.md#state)",
        ),
        (
            "[the tests](tests/test_resume.py)",
            "the tests (`plugins/hookwise-checkpoint/tests/test_resume.py`)",
        ),
        ("[site](https://example.org/x.md)", "[site](https://example.org/x.md)"),
        ("[anchor](#files-written)", "[anchor](#files-written)"),
        ("![picture](grid.png)", "![picture](grid.png)"),
    ],
)
def test_readme_links_are_rewritten_for_the_site(link: str, expected: str) -> None:
    included = PurePosixPath("../plugins/hookwise-checkpoint/README.md")
    assert hookwise_docs.rewrite_links(f"See {link}.", included, DOCS, REPO) == f"See {expected}."


def _mini_site(tmp_path: Path, page: str) -> subprocess.CompletedProcess[str]:
    source = tmp_path / "src"
    source.mkdir()
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(DOCS / '_ext')!r})\n"
        "extensions = ['myst_parser', 'sphinx.ext.autodoc', 'hookwise_docs']\n",
        encoding="utf-8",
    )
    (source / "index.md").write_text(page, encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            str(source),
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_unresolved_reference_in_a_page_fails_the_build(tmp_path: Path) -> None:
    page = (
        "# Page\n\n```{eval-rst}\n.. autofunction:: hookwise.data_key\n```\n\n"
        "{func}`hookwise.data_key` resolves; {class}`hookwise.NoSuchThing` does not.\n"
    )
    done = _mini_site(tmp_path, page)
    assert done.returncode != 0
    assert "reference class:`hookwise.NoSuchThing` resolves to nothing" in done.stderr
    assert "data_key" not in done.stderr.split("NoSuchThing")[0].split("WARNING")[-1]


def test_a_page_with_generated_content_builds(tmp_path: Path) -> None:
    done = _mini_site(tmp_path, "# Page\n\n```{hookwise-cli-help} fit\n```\n")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "usage: hookwise fit" in html


def test_the_settings_table_lists_every_setting(tmp_path: Path) -> None:
    from hookwise import settings

    done = _mini_site(tmp_path, "# Page\n\n```{hookwise-settings-table}\n```\n")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    for setting in settings.all_settings():
        assert f">{setting.name}<" in html, setting.name
    assert "--epochs" in html
