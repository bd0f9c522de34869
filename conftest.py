"""Settings for the whole test suite (tests/ and plugins/*/tests/).

One intra-op thread for torch, here and in every subprocess a test starts: the tiny models of
the tests gain nothing from more, and on a 2-core machine several torch processes with two
threads each contend for the cores (a 4-epoch tiny fit took 2.6 s instead of 0.16 s).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
