"""Log merging: the logs hooks return, and those plugins log, under one set of names.

Every value logged in a run gets a prefixed name: ``train/<key>`` for training hooks,
``val/<key>`` for a validation pass and ``test/<key>`` for a standalone test. When two plugins
log the same name in one hook call, the first keeps it and the later one's value is kept as
``<name>@<plugin>`` (with a warning, once per clash). Values are kept as they came (numbers, or
detached 0-d tensors): nothing here synchronises host and device; :attr:`LogMerger.metrics`
converts on read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import torch

logger = logging.getLogger("hookwise")

LogListener = Callable[[Mapping[str, Any]], None]
#: ``(plugin name, exception)`` -> None: the failed plugin's error policy decides.
FailureHandler = Callable[[str, str, Exception], None]


def check_log_value(plugin: str, hook: str, key: Any, value: Any) -> None:
    """Raise ``TypeError`` unless ``key`` is a string and ``value`` a number or 0-d tensor."""
    if not isinstance(key, str):
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: returned a log key {key!r} that is not a string"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: log {key!r} is {type(value).__name__}; hooks "
            f"return a mapping of names to numbers or 0-d tensors"
        )
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: log {key!r} is a tensor of shape "
            f"{tuple(value.shape)}; return a number or a 0-d tensor"
        )


def to_float(value: Any) -> float:
    """A logged value as a float (reads a tensor off its device)."""
    if isinstance(value, torch.Tensor):
        return float(value.detach().float().cpu().reshape(()).item())
    return float(value)


class LogMerger:
    """Merges logs into prefixed names, keeps the latest value of each, tells listeners.

    :param on_failure: called as ``on_failure(hook, plugin, exc)`` when a plugin returned
        something that is not a mapping of names to numbers; its logs are dropped.
    """

    def __init__(self, on_failure: FailureHandler) -> None:
        self._on_failure = on_failure
        #: The latest value of every logged name.
        self.latest: dict[str, Any] = {}
        #: Called with each merge's result (names -> values as logged), right after it.
        self.listeners: list[LogListener] = []
        self._clash_warned: set[tuple[str, str, str]] = set()

    @property
    def metrics(self) -> dict[str, float]:
        """The latest value of every logged name, as floats."""
        return {key: to_float(value) for key, value in self.latest.items()}

    def merge(self, prefix: str, hook: str, results: list[tuple[str, Any]]) -> dict[str, Any]:
        """Merge ``(plugin, logs)`` pairs returned by ``hook`` under ``prefix``; return this
        merge's names and values."""
        merged: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for plugin, logs in results:
            try:
                if not isinstance(logs, Mapping):
                    raise TypeError(
                        f"plugin {plugin!r}, hook {hook!r}: returned {type(logs).__name__}; "
                        f"hooks return None or a mapping of names to numbers"
                    )
                for key, value in logs.items():
                    check_log_value(plugin, hook, key, value)
            except TypeError as exc:  # the plugin's error policy decides; its logs are dropped
                self._on_failure(hook, plugin, exc)
                continue
            for key, value in logs.items():
                self._put(merged, owners, prefix + key, plugin, hook, value)
        self.latest.update(merged)
        if merged:
            for listener in self.listeners:
                listener(merged)
        return merged

    def _put(
        self,
        merged: dict[str, Any],
        owners: dict[str, str],
        name: str,
        plugin: str,
        hook: str,
        value: Any,
    ) -> None:
        if name in merged:
            first = owners[name]
            if (name, first, plugin) not in self._clash_warned:
                self._clash_warned.add((name, first, plugin))
                logger.warning(
                    "plugins %r and %r both returned %r from %s; the later one is kept as %r",
                    first,
                    plugin,
                    name,
                    hook,
                    f"{name}@{plugin}",
                )
            name = f"{name}@{plugin}"
        else:
            owners[name] = plugin
        merged[name] = value.detach() if isinstance(value, torch.Tensor) else value
