"""Every code example in the documentation runs (``docskit.py`` says what "runs" means).

Each page is one test: its Python blocks run in order in one namespace, in a fresh temporary
folder; its TOML blocks parse (and configs pass hookwise's config check); its ``hookwise ...``
commands exit with 0 (``fit``/``test`` with ``--dry-run``). A block is left out only behind a
``% not-run: <reason>`` marker in the page; :func:`test_not_run_blocks_are_explained` checks
and lists them. The Python blocks of the plugins' READMEs, which the plugin pages include, are
fragments written for reading (``Trainer(..., plugins=[...])``): they are compiled and their
imports run.

The repository's README runs the same way, with a short prelude that defines the names its
Python example leaves to the reader (``train``, ``val``, ``model``, ``optimizer``,
``loss_module``).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

pytest.importorskip("markdown_it", reason="the docs tests need the docs extra")

from docskit import DOCS, REPO, CodeBlock, PageRun, docs_pages, page_blocks

PAGES = docs_pages()

#: What the README's Python example expects to exist: tiny dict data (``{"inputs": float [B, 4],
#: "labels": long [B]}``), a model called as ``model(batch)`` that returns ``{"logits"}``, an
#: optimizer and a loss module. Run before the README's first block.
README_PRELUDE = """
import torch
from torch.utils.data import DataLoader

class _Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 4, generator=g)
        self.y = (self.x.sum(1) > 0).long()
    def __len__(self):
        return len(self.x)
    def __getitem__(self, i):
        return {"inputs": self.x[i], "labels": self.y[i]}

class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)
    def forward(self, batch):
        return {"logits": self.linear(batch["inputs"])}

def loss_module(outputs, batch):
    return torch.nn.functional.cross_entropy(outputs["logits"], batch["labels"])

train = DataLoader(_Data(16, 0), batch_size=4, shuffle=True)
val = DataLoader(_Data(8, 1), batch_size=4)
model = _Model()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def _make_checkpoint(folder: Path) -> None:
    """A hookwise checkpoint in a run folder of ``./hookwise-runs``, for ``--weights last`` and
    ``--resume last`` (the commands run with ``--dry-run``: they read it but train nothing)."""
    from hookwise.testing import run_fit

    target = folder / "hookwise-runs" / "2024-01-01_00-00-00" / "checkpoints" / "last.ckpt"
    if target.exists():
        return
    result = run_fit(["checkpoint"], epochs=1, test=False, tmp_path=folder / "_checkpoint_run")
    target.parent.mkdir(parents=True)
    result.trainer.save_checkpoint(target)


def _runner(folder: Path) -> PageRun:
    return PageRun(folder, checkpoint_factory=_make_checkpoint)


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(DOCS).as_posix() for p in PAGES])
def test_page_examples_run(page: Path, tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    for block in page_blocks(page):
        if block.runs:
            runner.run(block)


def test_not_run_blocks_are_explained() -> None:
    """Every block left out says why, in the page; the list is printed (``pytest -s``)."""
    skipped = [b for page in PAGES for b in page_blocks(page) if b.not_run is not None]
    for block in skipped:
        reason = block.not_run or ""
        assert len(reason.split()) >= 3, f"{block.where}: give a real reason, not {reason!r}"
    print("\n".join(f"not run: {b.where}: {b.not_run}" for b in skipped))


def test_marker_reason_is_required(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("% not-run:\n```python\nraise SystemExit\n```\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs a reason"):
        page_blocks(page)


def test_a_failing_example_fails_naming_its_line(tmp_path: Path) -> None:
    """The runner is not a formality: a wrong example fails, and says where it is."""
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n```python\nx = 1\n```\n\ntext\n\n```python\nassert x == 2\n```\n\n"
        "% not-run: this one would fail and is left out on purpose\n"
        "```python\nraise RuntimeError\n```\n\n"
        "```bash\nhookwise fit -p early_stoping\n```\n",
        encoding="utf-8",
    )
    blocks = page_blocks(page)
    assert [(b.line, b.language, b.runs) for b in blocks] == [
        (4, "python", True),
        (10, "python", True),
        (15, "python", False),
        (19, "shell", True),
    ]
    runner = _runner(tmp_path)
    runner.run(blocks[0])
    with pytest.raises(AssertionError) as failed:
        runner.run(blocks[1])
    assert f'{page}", line 10' in "".join(traceback.format_tb(failed.value.__traceback__))
    with pytest.raises(
        AssertionError,
        match=r"page.md:19: `hookwise fit -p early_stoping` "
        r"exited with 2[\s\S]*Did you mean 'early_stopping'",
    ):
        runner.run(blocks[3])


def test_a_python_block_naming_a_file_is_written_not_run(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n# tools/plugin.py\nraise SystemExit('not run')\n```\n\n"
        "```python\nfrom pathlib import Path\nassert Path('tools/plugin.py').exists()\n```\n",
        encoding="utf-8",
    )
    runner = _runner(tmp_path)
    for block in page_blocks(page):
        runner.run(block)
    assert (tmp_path / "tools" / "plugin.py").read_text().startswith("# tools/plugin.py\n")
    assert "python file tools/plugin.py (written)" in runner.ran[0]


#: README examples known to be wrong and reported to the README's owner: a piece of the failing
#: block -> what is wrong. While exactly these fail, the README test marks itself xfail; it fails
#: on any other failure, and once one of these passes (remove it from here then). Empty: every
#: README example runs.
KNOWN_README_FAILURES: dict[str, str] = {}


def test_readme_examples_run(tmp_path: Path) -> None:
    """The README's examples, each block run even when an earlier one failed, so that the
    report lists every wrong example at once."""
    runner = _runner(tmp_path)
    prelude = Path("<README prelude in tests/docs/test_docs_examples.py>")
    runner.run(CodeBlock(prelude, REPO / "README.md", 1, "python", README_PRELUDE))
    failures: dict[str, str] = {}
    for block in page_blocks(REPO / "README.md"):
        if not block.runs:
            continue
        try:
            runner.run(block)
        except Exception as exc:
            lines = traceback.format_exception_only(type(exc), exc)
            known = next((k for k in KNOWN_README_FAILURES if k in block.code), None)
            failures[known or block.where] = f"{block.where}: {''.join(lines).strip()}"
    unknown = {k: v for k, v in failures.items() if k not in KNOWN_README_FAILURES}
    assert not unknown, "README examples that fail:\n" + "\n\n".join(unknown.values())
    fixed = [k for k in KNOWN_README_FAILURES if k not in failures]
    assert not fixed, f"README examples now pass; remove them from KNOWN_README_FAILURES: {fixed}"
    if KNOWN_README_FAILURES:
        pytest.xfail(
            "README examples reported as wrong: " + "; ".join(KNOWN_README_FAILURES.values())
        )
    assert runner.ran, "the README has no example that runs"
