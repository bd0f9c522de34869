"""Makes this folder's helpers (``torchrun_kit``, ``dist_worker``) importable: pytest runs in
``--import-mode=importlib`` and does not put test folders on ``sys.path``."""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
