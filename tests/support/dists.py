"""Fake installed distributions: a ``.dist-info`` folder and modules on ``sys.path``, no pip.

Discovery reads entry points from ``.dist-info`` metadata wherever it is on ``sys.path``, so a
folder holding ``NAME-VERSION.dist-info/{METADATA,entry_points.txt}`` and the modules is, for
``importlib.metadata`` and for ``import``, an installed distribution. Use a real
``pip install`` (``support.venvs``) where installation itself is what is tested.
"""

from __future__ import annotations

import importlib
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

from hookwise.discovery import ENTRY_POINT_GROUP

__all__ = ["make_fake_distribution"]


def make_fake_distribution(
    site: Path,
    name: str,
    entry_points: Mapping[str, str],
    modules: Mapping[str, str] | None = None,
    *,
    version: str = "1.0",
    group: str = ENTRY_POINT_GROUP,
) -> Path:
    """Write distribution ``name`` into the folder ``site`` (which must be on ``sys.path``).

    :param entry_points: entry-point name -> ``"module:Object"`` in ``group``.
    :param modules: module name (``"pkg_mod"`` or ``"pkg/__init__"``) -> source (dedented).
    :returns: the ``.dist-info`` folder.
    """
    folder_name = re.sub(r"[-_.]+", "_", name)
    info = site / f"{folder_name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n", encoding="utf-8")
    for module, source in (modules or {}).items():
        path = site / f"{module}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    importlib.invalidate_caches()
    return info
