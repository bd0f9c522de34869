"""``hookwise hooks``: the hook reference, from the hook specifications."""

from __future__ import annotations

import argparse

from hookwise.cli.app import EXIT_OK


def cmd_hooks(args: argparse.Namespace) -> int:
    """``hookwise hooks``: every hook's signature and reference text, from the hookspecs, as
    plain text (:func:`hookwise.plaintext.plain`)."""
    import inspect
    import textwrap

    from hookwise import hookspecs
    from hookwise.plaintext import plain

    blocks = []
    for name in hookspecs.HOOK_NAMES:
        function = getattr(hookspecs, name)
        arguments = ", ".join(inspect.signature(function).parameters)
        origin = "vis4d" if name in hookspecs.VIS4D_HOOKS else "hookwise"
        doc = plain(inspect.getdoc(function) or "")
        blocks.append(f"{name}({arguments})  [{origin}]\n{textwrap.indent(doc, '    ')}")
    print("\n\n".join(blocks))
    return EXIT_OK


__all__ = ["cmd_hooks"]
