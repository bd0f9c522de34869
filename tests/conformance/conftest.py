"""The conformance tests import their helpers (the order patches) from this folder, which
``--import-mode=importlib`` does not put on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
