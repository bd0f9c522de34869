"""The error a Lightning callback gets for what the adapter does not offer."""

from __future__ import annotations

from collections.abc import Iterable

GUIDE = "see 'Using a Lightning callback' in hookwise's docs for what is mapped"


class UnsupportedLightningFeature(AttributeError):
    """A Lightning callback asked for something hookwise's adapter does not offer.

    An ``AttributeError``, so ``getattr(trainer, name, default)`` and ``hasattr`` probing in
    Lightning code keep working; the message names the attribute, what the adapter offers on
    that object and why the attribute is missing, never a made-up value.

    :param what: the attribute as the callback wrote it, e.g. ``"trainer.datamodule"``.
    :param offered: the names the adapter offers on that object.
    :param reason: why it is not offered (default: hookwise has no such thing).
    """

    def __init__(self, what: str, offered: Iterable[str] = (), reason: str | None = None) -> None:
        names = sorted(offered)
        why = reason or "hookwise's trainer has no counterpart for it"
        listing = f" Offered: {', '.join(names)}." if names else ""
        super().__init__(
            f"hookwise-lightning: `{what}` is not supported: {why}.{listing} ({GUIDE})"
        )
        self.what = what
        self.offered = names


__all__ = ["UnsupportedLightningFeature"]
