"""For plugins that watch a validation metric (early stopping, the best checkpoint).

Both name their metric with a ``monitor`` parameter and act after validation passes; these
helpers give them one meaning of ``monitor`` and one way of reading it, with the same errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from hookwise.errors import ConfigError


def validation_key(monitor: str, plugin: str) -> str:
    """The validation metric ``monitor`` names: ``"loss"`` and ``"val/loss"`` both mean
    ``"val/loss"``.

    :param monitor: the plugin's ``monitor`` parameter.
    :param plugin: the plugin's name, for the message.
    :raises ConfigError: ``monitor`` is empty or not a string, or names a ``train/`` or
        ``test/`` key (the plugin acts after validation passes, whose metrics are ``val/...``);
        the message says which key to use instead.
    """
    if not isinstance(monitor, str) or not monitor.strip():
        raise ConfigError(
            f"{plugin}: monitor must be the name of a validation metric such as 'val/loss', "
            f"got {monitor!r}"
        )
    for prefix in ("train/", "test/"):
        if monitor.startswith(prefix):
            raise ConfigError(
                f"{plugin}: monitor={monitor!r} cannot be watched: the plugin acts after "
                f"validation passes, whose metrics are named 'val/<key>'. Use "
                f"monitor='val/{monitor[len(prefix) :]}'."
            )
    return monitor if monitor.startswith("val/") else f"val/{monitor}"


def monitored_value(metrics: Mapping[str, float], monitor: str, plugin: str) -> float:
    """``metrics[monitor]`` as rank 0 has it, on every rank.

    In a distributed run this is one small broadcast, so every rank decides alike even when a
    plugin's metric is computed per rank.

    :param metrics: the validation pass's metrics (``on_validation_end``'s ``metrics``).
    :param monitor: the key, as :func:`validation_key` returned it.
    :param plugin: the plugin's name, for the message.
    :raises ConfigError: the pass has no ``monitor`` key (on every rank); the message lists the
        keys it has.
    """
    from hookwise import distributed

    value = metrics.get(monitor)
    found: tuple[float | None, list[str]] = (
        None if value is None else float(value),
        sorted(metrics),
    )
    if distributed.is_distributed():
        found = distributed.broadcast(found)
    if found[0] is None:
        raise ConfigError(
            f"{plugin}: monitor={monitor!r} is not among this validation pass's metrics "
            f"{found[1]}. Set monitor to one of them, or enable the plugin that logs it (an "
            f"evaluator)."
        )
    return found[0]


__all__ = ["monitored_value", "validation_key"]
