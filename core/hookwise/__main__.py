"""``python -m hookwise``: the same as the ``hookwise`` command (torchrun launches it so)."""

from hookwise.cli import main

raise SystemExit(main())
