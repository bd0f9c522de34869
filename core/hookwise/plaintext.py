"""reStructuredText docstrings as plain text, for the terminal (``hookwise hooks``,
``hookwise plugins NAME``): roles become their text, fields read as words.

- ``:class:`~hookwise.TrainerState``` -> ``TrainerState``; ``:meth:`~hookwise.Trainer.fit``` ->
  ``Trainer.fit()`` (a member keeps its class); ``:doc:`Title <page>``` -> ``Title``;
- double backquotes are dropped (``model.train()`` -> model.train());
- ``:param name: text`` -> ``name: text``; ``:returns:`` -> ``Returns:``; ``:raises E:`` ->
  ``Raises E:``; ``.. versionadded:: 0.2`` -> ``(added in 0.2)``, other directives -> ``Note:``.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(\w+):`(~?)([^`<]*?)\s*(?:<([^>]*)>)?`")
_FIELD = re.compile(r"^(\s*):(param|parameter|arg|key)\s+(?:[^:]*\s)?(\w+):", re.MULTILINE)
_RETURNS = re.compile(r"^(\s*):(returns?|rtype|yields?):", re.MULTILINE)
_RAISES = re.compile(r"^(\s*):raises?\s+([^:]+):", re.MULTILINE)
_VERSION = re.compile(r"^(\s*)\.\. version(added|changed)::\s*(\S+)", re.MULTILINE)
_DIRECTIVE = re.compile(r"^(\s*)\.\. (\w+)::\s*", re.MULTILINE)
_CALLABLE_ROLES = ("meth", "func")
_VERSION_WORDS = {"added": "added", "changed": "changed"}


def _role(match: re.Match[str]) -> str:
    role, short, text, target = match.groups()
    if target is not None and text:
        return text  # :doc:`Title <page>`
    parts = (target or text).split(".")
    # A member keeps its class (Trainer.fit()), which the terminal has no link to show.
    kept = 2 if role in ("meth", "attr") and len(parts) > 1 else 1
    shown = ".".join(parts[-kept:]) if short else (text or target or "")
    return f"{shown}()" if role in _CALLABLE_ROLES and not shown.endswith(")") else shown


def plain(text: str) -> str:
    """``text`` with reStructuredText roles, fields and directives made plain."""
    text = _ROLE.sub(_role, text)
    text = text.replace("``", "")
    text = _FIELD.sub(lambda m: f"{m.group(1)}{m.group(3)}:", text)
    text = _RETURNS.sub(lambda m: f"{m.group(1)}Returns:", text)
    text = _RAISES.sub(lambda m: f"{m.group(1)}Raises {m.group(2).strip()}:", text)
    text = _VERSION.sub(
        lambda m: f"{m.group(1)}({_VERSION_WORDS[m.group(2)]} in {m.group(3)})", text
    )
    return _DIRECTIVE.sub(lambda m: f"{m.group(1)}{m.group(2).capitalize()}: ", text)


__all__ = ["plain"]
