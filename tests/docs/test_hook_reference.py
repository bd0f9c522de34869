"""Meta-tests that keep the hook reference and the test suite honest (datasette-style).

- Every hookspec has its entry in the hook reference (``docs/hooks.rst``), and the built page
  documents it: its anchor, every argument, and whether it is a vis4d hook or an extension.
- Every hookspec is exercised by at least one test (``hookscan.py`` defines precisely what
  counts: an implementation in a test module, a call of the hook, or an assertion on its
  recorded calls).
- The diagram of the hook order in a fit matches the order a real fit calls them in.
"""

from __future__ import annotations

import functools
import html
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from docskit import DOCS, REPO, DocsBuild
from hookscan import HookUse, scan, scan_source
from hookwise import Callback, hookspecs
from hookwise.hookspecs import EXTENSION_HOOKS, HOOK_NAMES, VIS4D_HOOKS

HOOKS_PAGE = DOCS / "hooks.rst"


def _autofunctions() -> list[str]:
    text = HOOKS_PAGE.read_text(encoding="utf-8")
    return re.findall(r"^\.\. autofunction::\s+(?:hookwise\.hookspecs\.)?(\w+)\s*$", text, re.M)


def test_every_hookspec_has_a_reference_entry() -> None:
    documented = _autofunctions()
    missing = [h for h in HOOK_NAMES if h not in documented]
    assert not missing, (
        f"hooks without an entry in {HOOKS_PAGE.relative_to(REPO)}: {missing}; add "
        f"'.. autofunction:: NAME' under 'vis4d hooks' or 'hookwise extensions'"
    )
    stale = [h for h in documented if h not in HOOK_NAMES]
    assert not stale, f"{HOOKS_PAGE.name} documents hooks that do not exist: {stale}"
    assert len(documented) == len(set(documented)), "a hook is documented twice"
    vis4d_part, _, extension_part = HOOKS_PAGE.read_text(encoding="utf-8").partition(
        "hookwise extensions\n"
    )
    for hook in VIS4D_HOOKS:
        assert f"autofunction:: {hook}\n" in vis4d_part, f"{hook} belongs under 'vis4d hooks'"
    for hook in EXTENSION_HOOKS:
        assert f"autofunction:: {hook}\n" in extension_part, f"{hook} is an extension"


def _entry(page: str, hook: str) -> str:
    """The HTML of one hook's entry (from its anchor to the next entry)."""
    start = page.find(f'id="hookwise.hookspecs.{hook}"')
    assert start != -1, f"the built hook reference has no entry for {hook!r}"
    end = page.find('<dl class="py', start)
    return page[start : end if end != -1 else len(page)]


@pytest.mark.slow
@pytest.mark.xdist_group("docs-build")  # the build test_docs_build.py checks, built once
@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_built_reference_documents_every_hook(docs_build: DocsBuild, hook: str) -> None:
    assert docs_build.returncode == 0, "the docs build failed; see test_docs_build"
    entry = _entry(docs_build.page("hooks"), hook)
    text = html.unescape(re.sub(r"<[^>]+>", "", entry))
    for argument in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert re.search(rf"\b{argument}\b[^\n]*[\u2013-]", text), (
            f"the reference of {hook!r} does not describe its argument {argument!r}; add "
            f"':param {argument}: ...' to the hookspec's docstring"
        )
    origin = "vis4d hook." if hook in VIS4D_HOOKS else "Extension of vis4d's hook set."
    assert origin in text.replace("\u2019", "'"), f"{hook!r}'s reference does not say {origin!r}"
    assert "return" in text.lower(), f"the reference of {hook!r} does not say what it returns"


@functools.cache
def _uses() -> dict[str, HookUse]:
    return scan(REPO, HOOK_NAMES)


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_every_hookspec_is_exercised_by_a_test(hook: str) -> None:
    places = _uses()[hook].places
    assert places, (
        f"no test exercises hook {hook!r}: no test module implements it, calls it, or asserts "
        f"on its calls (see tests/docs/hookscan.py for what counts)"
    )


def test_scan_counts_only_real_uses() -> None:
    """The scan is a real check: mentions, ``assert_not_called`` and modules without tests
    do not count; implementations, calls and recorder assertions do."""
    hooks = ["on_fit_start", "on_fit_end", "on_exception", "setup", "on_test_epoch_end"]
    source = '''
"""on_fit_end is mentioned here."""
from hookwise import Callback, hookimpl

class P(Callback):
    def on_fit_start(self, trainer_state, model):  # implements
        pass

@hookimpl
def setup():
    pass

def on_exception():  # a plain function: not a hook implementation
    pass

def test_it(recorder, pm):
    recorder.assert_not_called("on_exception")
    recorder.assert_called("on_test_epoch_end", times=1)
    x = "on_fit_end"
'''
    found = {(hook, how) for hook, _, how in scan_source(source, hooks)}
    assert found == {
        ("on_fit_start", "implements"),
        ("setup", "implements"),
        ("on_test_epoch_end", "asserts"),
    }
    calls = "def test_call(pm):\n    pm.hook.on_fit_end(trainer_state={}, model=None)\n"
    assert scan_source(calls, hooks) == [("on_fit_end", 2, "calls")]
    assert scan_source(calls.replace("test_call", "helper"), hooks) == []


def _diagram() -> str:
    text = HOOKS_PAGE.read_text(encoding="utf-8")
    section = text.split("Order of the hooks in a fit", 1)[1]
    block = section.split(".. code-block:: text", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line.strip() and not line.startswith("   "):
            break
        lines.append(line)
    return "\n".join(lines)


def _first_occurrences(names: list[str]) -> list[str]:
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    return seen


def test_order_diagram_names_every_hook() -> None:
    names = re.findall(r"\b(setup|on_\w+)\b", _diagram())
    unknown = sorted(set(names) - set(HOOK_NAMES))
    assert not unknown, f"the diagram names hooks that do not exist: {unknown}"
    assert set(HOOK_NAMES) <= set(names), (
        f"the diagram leaves out {sorted(set(HOOK_NAMES) - set(names))}"
    )


def test_order_diagram_matches_a_real_fit(tmp_path: Path) -> None:
    """The hooks of a real fit (with epoch validation) and a standalone test come in the order
    the diagram first names them; a failed fit calls ``on_exception`` instead of
    ``on_fit_end``."""
    from hookwise.testing import run_fit

    result = run_fit(epochs=2, batches=2, tmp_path=tmp_path / "ok")
    diagram = [n for n in re.findall(r"\b(setup|on_\w+)\b", _diagram()) if n != "on_exception"]
    recorded = result.calls.hooks()
    assert _first_occurrences(recorded) == _first_occurrences(diagram)
    fit_end = recorded.index("on_fit_end")
    assert recorded[fit_end + 1 :] == [  # the standalone test: two val batches of one loader
        "on_test_epoch_start",
        "on_test_batch_end",
        "on_test_batch_end",
        "on_test_epoch_end",
        "on_validation_end",
    ]

    class Boom(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.fatal: list[bool] = []
            self.ended = False

        def on_train_epoch_end(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
            raise RuntimeError("boom")

        def on_exception(
            self, trainer_state: Any, model: Any, exception: BaseException, fatal: bool
        ) -> None:
            self.fatal.append(fatal)

        def on_fit_end(self, trainer_state: Any, model: Any) -> None:
            self.ended = True

    boom = Boom()
    with pytest.raises(RuntimeError, match="boom"):
        run_fit([boom], epochs=1, tmp_path=tmp_path / "failed")
    assert boom.fatal == [True]
    assert not boom.ended


def test_reference_page_is_in_the_table_of_contents() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert re.search(r"^hooks$", index, re.M), "docs/index.md must list the hook reference"
