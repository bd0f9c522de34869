"""The recorder's assertions (``assert_called``, ``assert_not_called``, ``assert_order``) and
the helpers that show and compare recorded values (a mixin of
:class:`~hookwise.testing.HookRecorder`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hookwise.hookspecs import HOOK_NAMES
from hookwise.plugins import _closest

if TYPE_CHECKING:
    from hookwise.testing._recorder import HookCall


def short(value: Any, limit: int = 60) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor) and value.numel() > 4:
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def same(expected: Any, actual: Any) -> bool:
    """``expected == actual`` that also works for tensors (and ``pytest.approx``)."""
    torch = sys.modules.get("torch")
    if torch is not None and (
        isinstance(expected, torch.Tensor) or isinstance(actual, torch.Tensor)
    ):
        try:
            a = torch.as_tensor(expected)
            b = torch.as_tensor(actual)
        except (TypeError, ValueError, RuntimeError):
            return False
        if a.shape != b.shape:
            return False
        return bool(torch.equal(a.to(b.dtype), b)) if a.numel() else True
    try:
        return bool(expected == actual)
    except Exception:
        return False


class RecorderAssertions:
    """The assertions of :class:`~hookwise.testing.HookRecorder`."""

    if TYPE_CHECKING:

        def _select(self, hook: str | None, plugin: str | None) -> list[HookCall]: ...
        def hooks(self, plugin: str | None = None) -> list[str]: ...
        def plugins(self, hook: str | None = None) -> list[str]: ...

    # -- assertions -------------------------------------------------------------------------------

    def assert_called(
        self, hook: str, times: int | None = None, *, plugin: str | None = None, **args: Any
    ) -> list[HookCall]:
        """Assert that ``hook`` was called (``times`` times) with these arguments.

        An argument given as a list is the sequence of its values, one per call
        (``batch_idx=[0, 1, 2, 0, 1, 2]``); any other value must be its value in every call
        (``dataloader_idx=0``; wrap a list value as ``[[...]] * n``). Values compare with ``==``
        (``pytest.approx`` works; tensors compare element-wise). Dotted names read into an
        argument: ``**{"trainer_state.current_epoch": [0, 1]}``.

        :param plugin: count ``plugin``'s answers instead of hook calls.
        :returns: the matching records.
        :raises AssertionError: saying what was expected, what was recorded, and the hooks that
            were called.
        """
        records = self._select(hook, plugin)
        who = f" answered by plugin {plugin!r}" if plugin else ""
        if times is None and not records:
            raise AssertionError(f"hook {hook!r} was never called{who}. {self._overview(plugin)}")
        if times is not None and len(records) != times:
            raise AssertionError(
                f"hook {hook!r} was called {len(records)} times{who}, expected {times}. "
                f"{self._overview(plugin)}"
            )
        for arg, expected in args.items():
            actual = [record.value(arg) for record in records]
            if isinstance(expected, list):
                if len(expected) != len(actual) or not all(
                    same(e, a) for e, a in zip(expected, actual, strict=True)
                ):
                    raise AssertionError(
                        f"hook {hook!r}{who}: argument {arg!r} was "
                        f"[{', '.join(map(short, actual))}] over {len(actual)} calls, expected "
                        f"[{', '.join(map(short, expected))}]"
                    )
            else:
                wrong = [(i, a) for i, a in enumerate(actual) if not same(expected, a)]
                if wrong:
                    shown = ", ".join(f"call {i}: {short(a)}" for i, a in wrong[:5])
                    raise AssertionError(
                        f"hook {hook!r}{who}: argument {arg!r} was expected to be "
                        f"{short(expected)} in every call; {len(wrong)} of {len(actual)} "
                        f"differ ({shown})"
                    )
        return records

    def assert_not_called(self, hook: str, *, plugin: str | None = None) -> None:
        """Assert that ``hook`` was never called (never answered by ``plugin``)."""
        records = self._select(hook, plugin)
        if records:
            who = f" answered by plugin {plugin!r}" if plugin else ""
            first = records[0]
            raise AssertionError(
                f"hook {hook!r} was called {len(records)} times{who}, expected never; "
                f"first: {first!r}"
            )

    def assert_order(self, *hooks: str, plugin: str | None = None) -> None:
        """Assert that these hooks were called in this order (other calls may come between).

        ``assert_order("on_test_epoch_end", "on_validation_end")`` passes when a call of
        ``on_validation_end`` comes after a call of ``on_test_epoch_end``. To check a whole
        sequence exactly, compare :meth:`hooks` with a list.
        """
        if len(hooks) < 2:
            raise ValueError("assert_order needs at least two hook names")
        for hook in hooks:
            check_hook_name(hook)
        sequence = self.hooks(plugin)
        position = 0
        for index, hook in enumerate(hooks):
            try:
                position = sequence.index(hook, position) + 1
            except ValueError:
                relevant = [h for h in sequence if h in hooks]
                if hook not in sequence:
                    problem = f"{hook!r} was never called"
                else:
                    problem = f"no call of {hook!r} came after {hooks[index - 1]!r}"
                raise AssertionError(
                    f"expected the hooks in the order {list(hooks)}, but {problem}. The calls of "
                    f"these hooks, in order: {compress(relevant)}"
                ) from None

    def _overview(self, plugin: str | None) -> str:
        sequence = self.hooks(plugin)
        if not sequence:
            if plugin:
                return f"Nothing was recorded for plugin {plugin!r}; plugins that answered: " + (
                    f"{self.plugins()}" if self.plugins() else "none"
                )
            return "Nothing was recorded; is the recorder attached to the run's plugin manager?"
        counts: dict[str, int] = {}
        for hook in sequence:
            counts[hook] = counts.get(hook, 0) + 1
        listing = ", ".join(f"{hook} x{count}" for hook, count in counts.items())
        return f"Recorded calls per hook{f' (plugin {plugin!r})' if plugin else ''}: {listing}"


def compress(sequence: Sequence[str], limit: int = 40) -> str:
    """``["a", "b", "b", "b"]`` -> ``"a, b x3"``, shortened to ``limit`` runs."""
    runs: list[list[Any]] = []
    for name in sequence:
        if runs and runs[-1][0] == name:
            runs[-1][1] += 1
        else:
            runs.append([name, 1])
    parts = [f"{name} x{count}" if count > 1 else name for name, count in runs]
    if len(parts) > limit:
        parts = [*parts[:limit], f"... ({len(parts) - limit} more)"]
    return "[" + ", ".join(parts) + "]"


def check_hook_name(hook: str) -> None:
    if hook not in HOOK_NAMES:
        close = _closest(hook, HOOK_NAMES)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"there is no hook named {hook!r}.{hint} Hooks: {list(HOOK_NAMES)}")
