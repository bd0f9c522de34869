"""Fixtures of the documentation tests (helpers are in ``docskit.py``).

The Sphinx build runs once per test session (:func:`docs_build`); the build test checks that
it succeeded with warnings as errors, and the meta-tests read the HTML it wrote.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from docskit import DocsBuild, build_docs  # noqa: E402


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory: pytest.TempPathFactory) -> DocsBuild:
    """Build the site once per session, as ``tox -e docs`` does, into a temporary folder."""
    return build_docs(tmp_path_factory.mktemp("docs-build"))
