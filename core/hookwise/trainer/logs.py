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

from hookwise.values import as_scalar

logger = logging.getLogger("hookwise")

#: Hooks whose return value vis4d's trainer ignores but hookwise logs (``train/<key>``): what
#: is not a log there (``True``, ``{"note": "done"}``) is ignored with a warning, as vis4d
#: ignores it, instead of failing the plugin.
LENIENT_HOOKS = ("on_train_epoch_end",)

LogListener = Callable[[Mapping[str, Any]], None]
#: ``(plugin name, exception)`` -> None: the failed plugin's error policy decides.
FailureHandler = Callable[[str, str, Exception], None]


def check_log_value(plugin: str, hook: str, key: Any, value: Any) -> Any:
    """``value`` as logged (a numpy scalar or one-element array becomes the Python number it
    holds); ``TypeError`` unless ``key`` is a string and ``value`` a number, a numpy scalar or
    a tensor or array of one element; ``ValueError`` for an integer no float can hold (every
    logged value is read as a float by the trainer and the log writers)."""
    if not isinstance(key, str):
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: returned a log key {key!r} that is not a string"
        )
    scalar = as_scalar(value)
    if isinstance(scalar, int):
        try:
            float(scalar)
        except OverflowError:
            raise ValueError(
                f"plugin {plugin!r}, hook {hook!r}: log {key!r} is an integer of "
                f"{scalar.bit_length()} bits, too large for a float (the largest is about "
                f"1.8e308); log a float, or a smaller number (for example its logarithm)"
            ) from None
    if scalar is not None:
        return scalar
    if isinstance(value, torch.Tensor) or type(value).__module__ == "numpy":
        kind = "tensor" if isinstance(value, torch.Tensor) else f"numpy {type(value).__name__}"
        raise TypeError(
            f"plugin {plugin!r}, hook {hook!r}: log {key!r} is a {kind} of "
            f"shape {tuple(getattr(value, 'shape', ()))} and dtype {value.dtype}; return a "
            f"number, or a tensor or numpy array of one number"
        )
    raise TypeError(
        f"plugin {plugin!r}, hook {hook!r}: log {key!r} is {type(value).__name__}; hooks "
        f"return a mapping of names to numbers or 0-d tensors"
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
        #: The training hook whose logs are merged once a call returns (its name and caller,
        #: whose ``partial`` holds the results while a call runs): see :meth:`unmerged`.
        self.in_progress: tuple[str, Any] | None = None
        #: The unmerged logs of the checkpoint a fit resumed from, merged at its start.
        self.resumed: Mapping[str, Any] | None = None
        self._clash_warned: set[tuple[str, str, str]] = set()
        self._ignored_warned: set[tuple[str, str]] = set()

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
            if hook in LENIENT_HOOKS:
                logs = self._loggable(plugin, hook, logs)
            try:
                if not isinstance(logs, Mapping):
                    raise TypeError(
                        f"plugin {plugin!r}, hook {hook!r}: returned {type(logs).__name__}; "
                        f"hooks return None or a mapping of names to numbers"
                    )
                checked = [(k, check_log_value(plugin, hook, k, v)) for k, v in logs.items()]
            except (TypeError, ValueError) as exc:  # the plugin's policy decides; logs dropped
                self._on_failure(hook, plugin, exc)
                continue
            for key, value in checked:
                self._put(merged, owners, prefix + key, plugin, hook, value)
        self.latest.update(merged)
        if merged:
            for listener in self.listeners:
                listener(merged)
        return merged

    def unmerged(self) -> dict[str, Any] | None:
        """The logs returned so far in the hook call in progress (``in_progress``), which
        reach :attr:`latest` and the listeners only when the call returns: a checkpoint
        written inside the call (a step checkpoint, in ``on_train_batch_end``) saves them, and
        a fit resumed from it merges them at its start (:meth:`merge_resumed`), as the killed
        process would have done after the checkpoint. ``{"hook": name, "logs": [{"plugin":
        name, "logs": {key: value}}, ...]}`` (values as logged, tensors on the CPU; logs that
        the merge would drop are left out), or ``None`` outside such a call."""
        hook, caller = self.in_progress or ("", None)
        partial = None if caller is None else caller.partial
        if partial is None:
            return None
        kept = []
        for plugin, logs in list(partial):
            try:
                if not isinstance(logs, Mapping):
                    continue
                checked = {k: check_log_value(plugin, hook, k, v) for k, v in logs.items()}
            except (TypeError, ValueError):
                continue  # the merge applies the plugin's error policy, then drops them
            values = {
                k: v.detach().cpu() if isinstance(v, torch.Tensor) else v
                for k, v in checked.items()
            }
            kept.append({"plugin": plugin, "logs": values})
        return {"hook": hook, "logs": kept}

    def merge_resumed(self, prefix: str) -> None:
        """Merge the unmerged logs of the checkpoint resumed from (see :meth:`unmerged`),
        once; a malformed entry (the file is not trusted) is skipped with a warning."""
        saved, self.resumed = self.resumed, None
        if saved is None:
            return
        hook, entries = saved.get("hook"), saved.get("logs")
        if not (
            isinstance(hook, str)
            and isinstance(entries, list)
            and all(
                isinstance(e, Mapping)
                and isinstance(e.get("plugin"), str)
                and isinstance(e.get("logs"), Mapping)
                for e in entries
            )
        ):
            logger.warning(
                "the checkpoint's 'unmerged_logs' (%.80r) is not a hook name and a list of "
                "{plugin, logs}; the logs of its step are not written again",
                saved,
            )
            return
        self.merge(prefix, hook, [(e["plugin"], dict(e["logs"])) for e in entries])

    def ignore(self, hook: str, results: list[tuple[str, Any]]) -> None:
        """``(plugin, value)`` pairs a hook returned that the trainer does not use, as vis4d's
        trainer does not: ignored, with one warning per plugin and hook."""
        for plugin, value in results:
            self._warn_ignored(
                plugin, hook, value, "the trainer does not use what this hook returns"
            )

    def _loggable(self, plugin: str, hook: str, logs: Any) -> Mapping[str, Any]:
        """What of a lenient hook's return value is a log; the rest is ignored, with a
        warning (vis4d ignores the whole value)."""
        if not isinstance(logs, Mapping):
            self._warn_ignored(
                plugin, hook, logs, "the trainer logs a mapping of names to numbers from this hook"
            )
            return {}
        kept = {k: v for k, v in logs.items() if isinstance(k, str) and as_scalar(v) is not None}
        if len(kept) < len(logs):
            dropped = {k: v for k, v in logs.items() if k not in kept}
            self._warn_ignored(plugin, hook, dropped, "the trainer logs only numbers")
        return kept

    def _warn_ignored(self, plugin: str, hook: str, value: Any, why: str) -> None:
        if (plugin, hook) in self._ignored_warned:
            return
        self._ignored_warned.add((plugin, hook))
        shown = repr(value)
        logger.warning(
            "plugin %r, hook %r returned %s, which is ignored (%s; vis4d's trainer ignored it "
            "too). Return None to silence this warning, shown once per plugin and hook.",
            plugin,
            hook,
            shown if len(shown) <= 80 else shown[:77] + "...",
            why,
        )

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
