"""``hookwise consolidate``: turn a sharded checkpoint folder (``strategy="fsdp"``) into one
weights-only checkpoint file, through :func:`hookwise.sharded.to_single_file`."""

from __future__ import annotations

import argparse
from pathlib import Path

from hookwise.cli.app import EXIT_OK


def default_target(folder: Path) -> Path:
    """Where ``hookwise consolidate FOLDER`` writes: next to ``NAME.ckpt/``,
    ``NAME-full.ckpt``."""
    stem = folder.name[: -len(".ckpt")] if folder.name.endswith(".ckpt") else folder.name
    return folder.with_name(f"{stem}-full.ckpt")


def cmd_consolidate(args: argparse.Namespace) -> int:
    """``hookwise consolidate FOLDER [OUT] [--force]``: write the single file and say where."""
    from hookwise.errors import CheckpointError
    from hookwise.sharded import to_single_file

    folder = Path(args.folder)
    target = Path(args.out) if args.out else default_target(folder)
    if target.resolve() == folder.resolve():
        raise CheckpointError(
            f"consolidate: OUT {str(target)!r} is the sharded folder itself; name another file"
        )
    if (target.exists() or target.is_symlink()) and not args.force:
        raise CheckpointError(
            f"consolidate: {str(target)!r} exists; name another OUT, or pass --force to replace it"
        )
    if target.is_dir():
        raise CheckpointError(f"consolidate: OUT {str(target)!r} is a folder; name a file")
    written = to_single_file(folder, target)
    print(f"Wrote {written}: the full weights of {folder} (for hookwise test --weights)")
    return EXIT_OK


__all__ = ["cmd_consolidate", "default_target"]
