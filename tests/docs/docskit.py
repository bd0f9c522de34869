"""Helpers of the documentation tests: find the code examples of a page and run them.

What is collected
-----------------
Every fenced code block of a Markdown page (```` ```python ````, and MyST's
```` ```{code-block} python ````), also inside other directives (a ``:::{list-table}`` cell), and
the blocks of the files a page includes with ```` ```{include} ````; every ``.. code-block::``
of a reStructuredText page.

How each language runs
----------------------
``python``
    The blocks of one page run in order, in one namespace (like a notebook), in a fresh
    temporary folder that is the working directory. A block whose first line is a comment
    naming a Python file (``# callbacks.py``) is that file: it is written to the page's folder
    (for the commands and blocks after it) and compiled, not run.
``toml``
    Parsed with ``tomllib``. A block whose first line is a comment naming a file
    (``# run.toml``) is also written to that file in the page's folder, for the shell
    commands after it. A block that is a hookwise config (only config tables at the top)
    goes through :func:`hookwise.config.check_config`.
``bash``, ``sh``, ``shell``, ``console``
    Every ``hookwise ...`` command (``python -m hookwise ...`` too, with leading
    ``VAR=value`` environment assignments) runs through :func:`hookwise.cli.main` in the
    page's folder and must exit with 0. ``hookwise fit`` and ``hookwise test`` run with
    ``--dry-run`` added: the whole config resolution and every plugin's enabling (names,
    parameters, types) but no training, which the command-line tests cover. Other commands
    (``pip install``, ``python -m pytest``, ``torchrun``) are not run.
anything else (``text``, output listings)
    Not run.

Not run on purpose
------------------
A block is left out only when the line before it (blank lines aside) is a comment
``% not-run: <reason>`` (Markdown) or ``.. not-run: <reason>`` (reStructuredText). The reason
is required; the tests list every such block.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from mdit_py_plugins.colon_fence import colon_fence_plugin

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

LANGUAGES = {
    "python": "python",
    "py": "python",
    "python3": "python",
    "toml": "toml",
    "bash": "shell",
    "sh": "shell",
    "shell": "shell",
    "console": "shell",
}
_NOT_RUN_MD = re.compile(r"^(?:[*-]\s+)*%\s*not-run:\s*(?P<reason>.*?)\s*$")  # also in a list cell
_NOT_RUN_RST = re.compile(r"^\.\.\s+not-run:\s*(?P<reason>.*?)\s*$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<argument>.*)$")
_CODE_DIRECTIVES = ("code-block", "code", "sourcecode", "code-cell")
_RST_CODE = re.compile(r"^(?P<indent>\s*)\.\.\s+(?:code-block|code|sourcecode)::\s*(?P<lang>\S*)")
_FILE_COMMENT = re.compile(r"^#\s*(?P<name>[\w./-]+\.toml)\s*$")
_PY_FILE_COMMENT = re.compile(r"^#\s*(?P<name>[\w./-]+\.py)\s*$")


@dataclass
class CodeBlock:
    """One code example.

    :param source: the file the block is written in (a page, or a file a page includes).
    :param page: the documentation page it appears on.
    :param line: the 1-based line of its first line of code in ``source``.
    :param language: ``python``, ``toml``, ``shell``, or the fence's own word when not run.
    :param code: the code.
    :param not_run: the reason given by a ``not-run`` marker (``None``: the block runs).
    :param fragment: a Python block of a file outside ``docs/`` that a page includes (a
        plugin's README): such files are not written for these tests and hold fragments
        (``Trainer(..., plugins=[...])``), so the block is compiled and its imports run, but
        the rest is not executed.
    """

    source: Path
    page: Path
    line: int
    language: str
    code: str
    not_run: str | None = None
    fragment: bool = False

    @property
    def where(self) -> str:
        """``docs/page.md:12`` (the source file, relative to the repository)."""
        return f"{_relative(self.source)}:{self.line}"

    @property
    def runs(self) -> bool:
        """Whether the tests execute this block."""
        return self.not_run is None and self.language in ("python", "toml", "shell")


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return str(path)


# -- collecting ------------------------------------------------------------------------------------


def _marker(lines: list[str], index: int, pattern: re.Pattern[str]) -> str | None:
    """The ``not-run`` reason on the line before ``lines[index]`` (blank lines skipped)."""
    index -= 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return None
    found = pattern.match(lines[index].strip())
    if found is None:
        return None
    reason = found.group("reason")
    if not reason:
        raise ValueError(
            f"line {index + 1}: a not-run marker needs a reason: '% not-run: <why this "
            f"example cannot run>'"
        )
    return reason


def markdown_blocks(source: Path, page: Path | None = None) -> list[CodeBlock]:
    """The code blocks of a Markdown file, in order (see the module docstring)."""
    page = page or source
    text = source.read_text(encoding="utf-8")
    blocks = _markdown_text_blocks(text, source, page, text.splitlines(), 0)
    if page != source and not _inside(source, DOCS):
        for block in blocks:
            block.fragment = block.language == "python"
    return blocks


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _markdown_text_blocks(
    text: str, source: Path, page: Path, all_lines: list[str], offset: int
) -> list[CodeBlock]:
    blocks: list[CodeBlock] = []
    parser = MarkdownIt("commonmark").use(colon_fence_plugin)  # MyST's ::: fences too
    for token in parser.parse(text):
        if token.type not in ("fence", "colon_fence") or token.map is None:
            continue
        start = offset + token.map[0]  # the opening fence's 0-based line in the file
        info = token.info.strip()
        directive = _DIRECTIVE.match(info)
        if directive is None:
            language = info.split()[0].lower() if info else ""
            code = token.content
        elif directive.group("name") in _CODE_DIRECTIVES:
            language = directive.group("argument").split()[0].lower()
            code = _strip_options(token.content)
        elif directive.group("name") == "include":
            included = (source.parent / directive.group("argument").strip()).resolve()
            blocks += markdown_blocks(included, page)
            continue
        else:  # another directive: its content is Markdown that may hold code blocks
            blocks += _markdown_text_blocks(token.content, source, page, all_lines, start + 1)
            continue
        first_code_line = start + 1 + (len(token.content.splitlines()) - len(code.splitlines()))
        reason = _marker(all_lines, start, _NOT_RUN_MD)
        blocks.append(
            CodeBlock(
                source=source,
                page=page,
                line=first_code_line + 1,
                language=LANGUAGES.get(language, language),
                code=code,
                not_run=reason,
            )
        )
    return blocks


def _strip_options(content: str) -> str:
    """A MyST directive's content without its leading ``:option: value`` lines."""
    lines = content.splitlines(keepends=True)
    index = 0
    while index < len(lines) and re.match(r"^:[\w-]+:", lines[index]):
        index += 1
    if index < len(lines) and not lines[index].strip() and index:
        index += 1
    return "".join(lines[index:])


def rst_blocks(source: Path) -> list[CodeBlock]:
    """The ``.. code-block::`` blocks of a reStructuredText file."""
    lines = source.read_text(encoding="utf-8").splitlines()
    blocks: list[CodeBlock] = []
    index = 0
    while index < len(lines):
        found = _RST_CODE.match(lines[index])
        if found is None:
            index += 1
            continue
        indent = len(found.group("indent"))
        body_start = index + 1
        while body_start < len(lines) and (
            not lines[body_start].strip() or re.match(r"^\s+:[\w-]+:", lines[body_start])
        ):
            body_start += 1
        end = body_start
        body: list[str] = []
        while end < len(lines) and (
            not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
        ):
            body.append(lines[end])
            end += 1
        while body and not body[-1].strip():
            body.pop()
        width = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        code = "\n".join(b[width:] for b in body) + "\n"
        language = found.group("lang").lower()
        blocks.append(
            CodeBlock(
                source=source,
                page=source,
                line=body_start + 1,
                language=LANGUAGES.get(language, language),
                code=code,
                not_run=_marker(lines, index, _NOT_RUN_RST),
            )
        )
        index = end
    return blocks


def page_blocks(page: Path) -> list[CodeBlock]:
    """The code blocks of a documentation page (Markdown or reStructuredText)."""
    return rst_blocks(page) if page.suffix == ".rst" else markdown_blocks(page)


def docs_pages() -> list[Path]:
    """Every source page of the documentation (``docs/**/*.md`` and ``*.rst``), sorted."""
    pages = [
        p
        for p in DOCS.rglob("*")
        if p.suffix in (".md", ".rst") and "_build" not in p.relative_to(DOCS).parts
    ]
    return sorted(pages)


# -- building --------------------------------------------------------------------------------------


@dataclass
class DocsBuild:
    """One ``sphinx-build -W --keep-going -b html`` of ``docs/``."""

    command: list[str]
    returncode: int
    output: str
    html: Path

    def page(self, name: str) -> str:
        """The HTML of page ``name`` (``"hooks"``, ``"plugins/checkpoint"``)."""
        return (self.html / f"{name}.html").read_text(encoding="utf-8")


def build_docs(out: Path) -> DocsBuild:
    """Build the site into ``out/html`` as ``tox -e docs`` does: ``-W --keep-going``."""
    html = out / "html"
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "-d",
        str(out / "doctrees"),
        str(DOCS),
        str(html),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKWISE_")}
    # third-party deprecation notices are not build warnings (-W decides those)
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning,ignore::PendingDeprecationWarning"
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    return DocsBuild(command, done.returncode, done.stdout + done.stderr, html)


# -- running ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def temporary_folder(folder: Path) -> Iterator[None]:
    """``tempfile``'s folders go into ``folder`` (the test's own) while the block runs: an
    example's ``tempfile.mkdtemp()`` is then removed with the test's ``tmp_path``."""
    folder.mkdir(parents=True, exist_ok=True)
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous


@contextlib.contextmanager
def working_directory(folder: Path) -> Iterator[None]:
    """Run the block with ``folder`` as the working directory."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (and unset every other ``HOOKWISE_*``) for a block."""
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("HOOKWISE_")]:
        del os.environ[key]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class ShellCommand:
    """One command line of a shell block."""

    line: int
    text: str
    env: dict[str, str]
    argv: list[str]

    @property
    def is_hookwise(self) -> bool:
        return bool(self.argv) and (
            self.argv[0] == "hookwise" or self.argv[:3] == ["python", "-m", "hookwise"]
        )

    @property
    def hookwise_args(self) -> list[str]:
        return self.argv[1:] if self.argv[0] == "hookwise" else self.argv[3:]


def shell_commands(block: CodeBlock) -> list[ShellCommand]:
    """The command lines of a shell block: continuations joined, comments and prompts removed."""
    commands: list[ShellCommand] = []
    pending = ""
    start = 0
    for number, raw in enumerate(block.code.splitlines()):
        if not pending:
            start = number
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = (pending + line).strip()
        pending = ""
        if text.startswith("$ "):
            text = text[2:]
        words = shlex.split(text, comments=True)
        env: dict[str, str] = {}
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            key, _, value = words.pop(0).partition("=")
            env[key] = value
        if words:
            commands.append(ShellCommand(block.line + start, text, env, words))
    return commands


@dataclass
class PageRun:
    """Runs the blocks of one page, in order, in ``folder``."""

    folder: Path
    namespace: dict[str, Any] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    checkpoint_factory: Any = None

    def __post_init__(self) -> None:
        self.namespace.setdefault("__name__", "docs_example")

    def run(self, block: CodeBlock) -> None:
        """Run one block (raising ``AssertionError`` naming the block when it fails)."""
        with working_directory(self.folder), temporary_folder(self.folder / "tmp"):
            if block.language == "python":
                self._python(block)
            elif block.language == "toml":
                self._toml(block)
            elif block.language == "shell":
                self._shell(block)

    def _python(self, block: CodeBlock) -> None:
        text = "\n" * (block.line - 1) + block.code
        code = compile(text, str(block.source), "exec")
        first = block.code.splitlines()[0] if block.code.strip() else ""
        named = _PY_FILE_COMMENT.match(first.strip())
        if named is not None and not block.fragment:
            target = self.folder / named.group("name")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
            self.ran.append(f"{block.where} python file {named.group('name')} (written)")
            return
        if block.fragment:
            imports = ast.Module(
                body=[
                    n for n in ast.parse(text).body if isinstance(n, (ast.Import, ast.ImportFrom))
                ],
                type_ignores=[],
            )
            exec(compile(imports, str(block.source), "exec"), {"__name__": "docs_fragment"})
            self.ran.append(f"{block.where} python fragment (compiled, imports run)")
            return
        exec(code, self.namespace)
        self.ran.append(f"{block.where} python")

    def _toml(self, block: CodeBlock) -> None:
        from hookwise.config import TOP_LEVEL_KEYS, check_config

        try:
            data = tomllib.loads(block.code)
        except tomllib.TOMLDecodeError as exc:
            raise AssertionError(f"{block.where}: the TOML example does not parse: {exc}") from exc
        first = block.code.splitlines()[0] if block.code.strip() else ""
        named = _FILE_COMMENT.match(first.strip())
        if named is not None:
            target = self.folder / named.group("name")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.code, encoding="utf-8")
        if (
            data
            and set(data) <= set(TOP_LEVEL_KEYS)
            and (named is None or "pyproject" not in named.group("name"))
        ):
            check_config(data, block.where)
        self.ran.append(f"{block.where} toml")

    def _shell(self, block: CodeBlock) -> None:
        from hookwise.cli import main

        for command in shell_commands(block):
            if not command.is_hookwise:
                continue
            args = list(command.hookwise_args)
            if args and args[0] in ("fit", "test") and "--dry-run" not in args:
                args.append("--dry-run")
            if "last" in args and self.checkpoint_factory is not None:
                self.checkpoint_factory(self.folder)
            out, err = io.StringIO(), io.StringIO()
            with (
                environment(command.env),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                try:
                    status = main(args)
                except SystemExit as exc:  # argparse: a usage error
                    status = exc.code if isinstance(exc.code, int) else 2
            if status != 0:
                raise AssertionError(
                    f"{_relative(block.source)}:{command.line}: `{command.text}` exited with "
                    f"{status} (run as `hookwise {' '.join(args)}`)\n--- stdout\n"
                    f"{out.getvalue()}--- stderr\n{err.getvalue()}"
                )
            self.ran.append(f"{_relative(block.source)}:{command.line} hookwise {' '.join(args)}")


__all__ = [
    "DOCS",
    "REPO",
    "CodeBlock",
    "DocsBuild",
    "PageRun",
    "ShellCommand",
    "build_docs",
    "docs_pages",
    "environment",
    "markdown_blocks",
    "page_blocks",
    "rst_blocks",
    "shell_commands",
]
