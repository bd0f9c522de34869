"""Fixtures of the toolkit's own tests."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from support.dists import make_fake_distribution


def pytest_configure(config: pytest.Config) -> None:
    # pytester's fixtures, for these tests only. `pytest_plugins = ["pytester"]` is allowed in
    # the root conftest alone, and this folder's conftest is not always an initial one.
    if not config.pluginmanager.has_plugin("pytester"):
        config.pluginmanager.import_plugin("pytester")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``installed(dist, {entry_point: "module:Obj"}, {module: source})`` fakes an installed
    plugin distribution for this test; its modules are forgotten afterwards."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(
        name: str, entry_points: Mapping[str, str], sources: Mapping[str, str], **options: str
    ) -> Path:
        modules.extend(m.split("/")[0] for m in sources)
        return make_fake_distribution(site, name, entry_points, sources, **options)

    yield make
    for module in modules:
        for loaded in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[loaded]
