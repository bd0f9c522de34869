"""Installed plugins from metadata: each distribution's name and version, read from the two
header lines without the ``email`` package, are those ``importlib_metadata`` parses."""

from __future__ import annotations

from pathlib import Path

import importlib_metadata
import pytest
from hookwise.plugins.discovery import _name_and_version

UNUSUAL = {
    "crlf": "Metadata-Version: 2.1\r\nName: crlf-dist\r\nVersion: 1.0\r\n\r\nName: not-this\r\n",
    "lower-case": "metadata-version: 2.1\nname: lower-dist\nversion: 2.0\n",
    "no-space": "Metadata-Version: 2.1\nName:tight-dist\nVersion:3.0\n",
    "repeated": "Name: first-dist\nName: second-dist\nVersion: 4.0\n",
    "description": "Name: described\nVersion: 5.0\n\nName: body-text\nVersion: 9\n",
    "folded": "Name: folded\n  -name\nVersion: 6.0\n",
}


def _distribution(site: Path, key: str, text: str, filename: str = "METADATA") -> Path:
    info = site / f"{key.replace('-', '_')}-0.dist-info"
    info.mkdir(parents=True)
    (info / filename).write_bytes(text.encode())
    return info


@pytest.mark.parametrize("key", sorted(UNUSUAL))
def test_name_and_version_are_those_importlib_metadata_parses(tmp_path: Path, key: str) -> None:
    dist = importlib_metadata.PathDistribution(_distribution(tmp_path, key, UNUSUAL[key]))
    assert _name_and_version(dist) == (dist.name, dist.version)


def test_an_egg_info_pkg_info_is_read_too(tmp_path: Path) -> None:
    info = _distribution(tmp_path, "old", "Name: old-dist\nVersion: 0.9\n", "PKG-INFO")
    assert _name_and_version(importlib_metadata.PathDistribution(info)) == ("old-dist", "0.9")


def test_a_missing_version_is_importlib_metadatas_error(tmp_path: Path) -> None:
    dist = importlib_metadata.PathDistribution(_distribution(tmp_path, "bad", "Name: bad\n"))
    with pytest.raises(KeyError, match="Version"):
        _name_and_version(dist)


def test_every_installed_distribution_reads_as_importlib_metadata_reads_it() -> None:
    dists = list(importlib_metadata.distributions())
    assert dists
    for dist in dists:
        assert _name_and_version(dist) == (dist.name, dist.version), dist
    assert _name_and_version(None) == (None, None)
