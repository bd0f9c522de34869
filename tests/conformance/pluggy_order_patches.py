"""The order assertions of pluggy's test suite, adapted to hookwise's documented difference.

pluggy calls implementations last registered first (LIFO, ``tryfirst`` ones first, ``trylast``
ones last); hookwise calls them in enabled (registration) order within the same groups, on every
call path (DESIGN decision 14). pluggy keeps a hook's implementations in a list it iterates in
reverse (``HookCaller.get_hookimpls()`` returns it), so in that list hookwise's order reads, per
group, in reverse registration order. Two implementations of one plugin on one hook count in
the order pluggy registers them (``dir()`` order).

Each patch below rewrites one expected order in one test (and nothing else) and says why.
:func:`apply` refuses to run pluggy's suite if a patch no longer matches its test exactly, so a
new pluggy version cannot silently change what is compared. A test a pluggy version does not
have is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    """Replace ``old`` (exactly ``count`` times) by ``new`` within test ``test`` of ``file``."""

    file: str
    test: str
    old: str
    new: str
    why: str
    count: int = 1


def _listing(names: str, tail: str) -> str:
    """A list literal as ruff formats it in pluggy's tests, one name a line."""
    return "[\n" + "".join(f"        {name},\n" for name in names.split()) + "    ]" + tail


FIFO = "hookwise calls implementations in registration order (pluggy: last registered first)"
LIST = (
    "get_hookimpls() is the list pluggy iterates in reverse: hookwise keeps each group "
    "(trylast, plain, tryfirst; wrappers likewise) in reverse registration order"
)

PATCHES: tuple[Patch, ...] = (
    Patch(
        "test_hookcaller.py",
        "test_adding_nonwrappers",
        "== [he_method1, he_method2, he_method3]",
        "== [he_method3, he_method2, he_method1]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_nonwrappers_trylast",
        "== [he_method1, he_method1_middle, he_method1_b]",
        "== [he_method1, he_method1_b, he_method1_middle]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_nonwrappers_trylast3",
        "he_method1_d,\n        he_method1_b,\n        he_method1_a,\n        he_method1_c,",
        "he_method1_d,\n        he_method1_b,\n        he_method1_c,\n        he_method1_a,",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_nonwrappers_trylast2",
        "== [he_method1, he_method1_middle, he_method1_b]",
        "== [he_method1, he_method1_b, he_method1_middle]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_nonwrappers_tryfirst",
        "== [he_method1_middle, he_method1_b, he_method1]",
        "== [he_method1_b, he_method1_middle, he_method1]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_ordering",
        "he_method1_middle,\n        he_method1,\n        he_method1_fun,\n"
        "        he_method3_fun,\n        he_method3,",
        "he_method1_middle,\n        he_method3,\n        he_method3_fun,\n"
        "        he_method1_fun,\n        he_method1,",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_ordering_tryfirst",
        "== [he_method2, he_method1, he_method3]",
        "== [he_method2, he_method3, he_method1]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        "    assert funcs(hc.get_hookimpls()) == [m3, m2, m7, m6, m1, m4, m5]\n",
        "    assert funcs(hc.get_hookimpls()) == [m3, m7, m2, m6, m1, m4, m5]\n",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        "    assert funcs(hc.get_hookimpls()) == [m3, m2, m7, m6, m1, m4, m8, m5]\n",
        "    assert funcs(hc.get_hookimpls()) == [m3, m7, m2, m6, m1, m8, m4, m5]\n",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        "    assert funcs(hc.get_hookimpls()) == [m9, m3, m2, m7, m6, m1, m4, m8, m5]\n",
        "    assert funcs(hc.get_hookimpls()) == [m9, m3, m7, m2, m6, m1, m8, m4, m5]\n",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        "    assert funcs(hc.get_hookimpls()) == [m9, m3, m2, m7, m6, m10, m1, m4, m8, m5]\n",
        "    assert funcs(hc.get_hookimpls()) == [m9, m3, m7, m2, m10, m6, m1, m8, m4, m5]\n",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        "== [m9, m3, m2, m7, m6, m10, m11, m1, m4, m8, m5]",
        "== [m9, m3, m7, m2, m10, m6, m11, m1, m8, m4, m5]",
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        _listing("m9 m3 m2 m7 m6 m10 m11 m1 m4 m8 m12 m5", "\n\n    @addmeth()"),
        _listing("m9 m3 m7 m2 m10 m6 m11 m1 m12 m8 m4 m5", "\n\n    @addmeth()"),
        LIST,
    ),
    Patch(
        "test_hookcaller.py",
        "test_adding_wrappers_complex",
        _listing("m9 m3 m2 m7 m13 m6 m10 m11 m1 m4 m8 m12 m5", "\n"),
        _listing("m9 m3 m13 m7 m2 m10 m6 m11 m1 m12 m8 m4 m5", "\n"),
        LIST,
    ),
    Patch(
        "test_invocations.py", "test_opt_in_args", "results == [2, 1]", "results == [1, 2]", FIFO
    ),
    Patch("test_invocations.py", "test_call_order", "[3, 2, 1]", "[1, 2, 3]", FIFO, count=3),
    Patch(
        "test_invocations.py",
        "test_firstresult_definition",
        "    pm.register(Plugin1())  # discarded - not the last registered plugin\n"
        "    pm.register(Plugin2())  # used as result\n"
        "    pm.register(Plugin3())  # None result is ignored\n",
        "    pm.register(Plugin3())  # None result is ignored\n"
        "    pm.register(Plugin2())  # used as result\n"
        "    pm.register(Plugin1())  # discarded - not the first registered plugin\n",
        FIFO + "; the registrations are mirrored so the same plugin gives the first result",
    ),
    Patch(
        "test_invocations.py",
        "test_non_wrapper_generator",
        "== [2, 3, 1]",
        "== [1, 2, 3]",
        FIFO,
        count=2,
    ),
    Patch(
        "test_invocations.py",
        "test_basic",
        '[("old", 1), ("new", 1, default)]',
        '[("new", 1, default), ("old", 1)]',
        FIFO,
    ),
    Patch(
        "test_invocations.py",
        "test_basic",
        '[("old", 1), ("new", 1, "call")]',
        '[("new", 1, "call"), ("old", 1)]',
        FIFO,
    ),
    Patch(
        "test_pluginmanager.py",
        "test_register_historic",
        "out == [1, 10, 120, 12]",
        "out == [1, 10, 12, 120]",
        FIFO,
    ),
    Patch(
        "test_pluginmanager.py",
        "test_with_callbacks_immediately_executed",
        "out == [20, 10]\n",
        "out == [10, 20]\n",
        FIFO,
    ),
    Patch(
        "test_pluginmanager.py",
        "test_with_callbacks_immediately_executed",
        "out == [20, 10, 30]",
        "out == [10, 20, 30]",
        FIFO,
    ),
    Patch(
        "test_pluginmanager.py", "test_subset_hook_caller", "out == [10, 1]", "out == [1, 10]", FIFO
    ),
    Patch(
        "test_pluginmanager.py",
        "test_get_hookimpls",
        "hook_plugins == [plugin1, plugin2]",
        "hook_plugins == [plugin2, plugin1]",
        LIST,
    ),
    Patch(
        "test_pluginmanager.py",
        "test_add_tracefuncs",
        '    assert out[1] == "he_method1-api2"\n    assert out[2] == "he_method1-api1"\n',
        '    assert out[1] == "he_method1-api1"\n    assert out[2] == "he_method1-api2"\n',
        FIFO,
    ),
    Patch(
        "test_pluginmanager.py",
        "test_register_while_calling",
        "        result = pm.hook.configure()\n        assert result == [3, 2, 1]\n"
        "        result = pm.hook.configure()\n        assert result == [4, 5, 3, 2, 1, 6]\n",
        "        result = pm.hook.configure()\n        assert result == [1, 2, 3]\n"
        "        result = pm.hook.configure()\n        assert result == [4, 1, 2, 3, 5, 6]\n",
        FIFO + " (tryfirst 4 first, trylast 6 last)",
    ),
    Patch(
        "test_pluginmanager.py",
        "test_register_while_calling",
        "        assert result == [4, 5, 6, 3, 2, 1]\n",
        "        assert result == [4, 5, 6, 1, 2, 3]\n",
        FIFO + " (4, 5, 6 come first: their history replay reports when they register)",
    ),
    Patch(
        "test_pluginmanager.py",
        "test_register_while_calling",
        "        pm.hook.configure.call_historic(result.append)\n"
        "        assert result == [4, 5, 3, 2, 1, 6]\n",
        "        pm.hook.configure.call_historic(result.append)\n"
        "        assert result == [4, 1, 2, 3, 5, 6]\n",
        FIFO + " (tryfirst 4 first, trylast 6 last)",
    ),
    Patch(
        "test_pluginmanager.py",
        "test_get_hookcallers_no_duplicates",
        "pm.hook.hello(arg=1) == [101, 2]",
        "pm.hook.hello(arg=1) == [2, 101]",
        FIFO + " (one plugin's two implementations: hello, then hello_again)",
    ),
    Patch("test_tracer.py", "test_dbl_plugin_tracing", "[103, 4]", "[4, 103]", FIFO, count=2),
)


def _block(text: str, test: str) -> tuple[int, int] | None:
    """The span of ``def test`` (top level or in a class) up to the next definition at the
    same or a lower indentation."""
    match = re.search(rf"^(?P<indent>[ ]*)def {re.escape(test)}\(", text, re.MULTILINE)
    if match is None:
        return None
    indent = len(match.group("indent"))
    end_pattern = re.compile(rf"^[ ]{{0,{indent}}}(?:def |class |@)", re.MULTILINE)
    following = end_pattern.search(text, match.end())
    return match.start(), following.start() if following else len(text)


def apply(testing: Path, patches: tuple[Patch, ...] = PATCHES) -> list[Patch]:
    """Apply ``patches`` to the test files in ``testing``; return those applied.

    :raises RuntimeError: a patch's test exists but its text does not occur there exactly
        ``count`` times (pluggy changed the test; the patch must be reviewed).
    """
    applied = []
    for patch in patches:
        path = testing / patch.file
        text = path.read_text(encoding="utf-8")
        span = _block(text, patch.test)
        if span is None:
            continue
        start, end = span
        block = text[start:end]
        found = block.count(patch.old)
        if found != patch.count:
            raise RuntimeError(
                f"{patch.file}::{patch.test}: expected {patch.count} occurrence(s) of "
                f"{patch.old!r}, found {found}; review this order patch for this pluggy version"
            )
        path.write_text(text[:start] + block.replace(patch.old, patch.new) + text[end:], "utf-8")
        applied.append(patch)
    return applied
