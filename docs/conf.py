"""Sphinx configuration of the hookwise documentation.

The build is offline and deterministic: no intersphinx inventories are fetched, the command
reference is rendered from ``hookwise.cli.build_parser()`` and the hook reference from the
docstrings of ``hookwise.hookspecs`` at build time (``docs/_ext/hookwise_docs.py``).

Build it with ``tox -e docs`` or ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT / "core"))  # the source tree, also when hookwise is not installed

import hookwise  # noqa: E402

project = "hookwise"
author = "hookwise developers"
copyright = "hookwise developers"
release = hookwise.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "hookwise_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# MyST: ```{directive} fences, $ dollar math off, heading anchors for [text](#anchor) links.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: signatures keep the source order; type hints go into the parameter descriptions.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_preserve_defaults = True
autodoc_default_options = {"show-inheritance": False}

html_theme = "furo"
html_title = f"hookwise {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
