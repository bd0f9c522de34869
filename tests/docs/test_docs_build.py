"""The documentation builds with warnings as errors (what ``tox -e docs`` runs)."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "sphinx", reason="building the docs needs the docs extra: pip install -e .[docs]"
)
pytest.importorskip("myst_parser", reason="building the docs needs the docs extra")

from docskit import DocsBuild

# the Sphinx build (a session fixture), shared with test_hook_reference: slow, built by one worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docs-build")]


def test_sphinx_build_has_no_warnings(docs_build: DocsBuild) -> None:
    assert docs_build.returncode == 0, (
        f"`{' '.join(docs_build.command)}` failed (warnings are errors):\n{docs_build.output}"
    )
    assert "WARNING" not in docs_build.output, docs_build.output
    for page in (
        "index",
        "getting-started",
        "enabling-plugins",
        "writing-plugins",
        "hooks",
        "cli",
        "toolkit",
        "api",
    ):
        assert (docs_build.html / f"{page}.html").is_file(), f"{page}.html was not written"
