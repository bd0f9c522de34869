"""``write_plugin_distribution``: a pip-installable plugin distribution from a dict of files."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path

from hookwise.discovery import ENTRY_POINT_GROUP


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def write_plugin_distribution(
    root: str | Path,
    name: str,
    *,
    entry_points: Mapping[str, str],
    files: Mapping[str, str],
    version: str = "0.1.0",
    dependencies: Iterable[str] = (),
    group: str = ENTRY_POINT_GROUP,
    scripts: Mapping[str, str] | None = None,
) -> Path:
    """Write a pip-installable plugin distribution (a ``pyproject.toml`` and its sources), to
    test discovery, name clashes or packaging with a real ``pip install``::

        project = write_plugin_distribution(
            tmp_path / "hello",
            "hookwise-hello",
            entry_points={"hello": "hookwise_hello:Hello"},
            files={"hookwise_hello/__init__.py": '''
                from hookwise import Callback
                class Hello(Callback):
                    def on_fit_start(self, trainer_state, model):
                        print("hello")
            '''},
        )
        # then: pip install --no-deps --no-build-isolation <project>

    :param root: the project folder to create (it must not exist or be empty).
    :param name: the distribution's name.
    :param entry_points: entry-point name -> ``"package.module:Object"`` in ``group``.
    :param files: path relative to the project's ``src/`` folder -> text (dedented). Top-level
        ``*.py`` files become modules, top-level folders packages.
    :param version: the distribution's version.
    :param dependencies: its requirements (``pip install --no-deps`` ignores them).
    :param group: the entry-point group (default ``hookwise.plugins``).
    :param scripts: console scripts, name -> ``"module:function"``.
    :returns: the project folder.
    :raises ValueError: ``root`` holds files already, ``files`` is empty or a path leaves ``src/``.
    """
    if (project := Path(root)).exists() and any(project.iterdir()):
        raise ValueError(f"write_plugin_distribution: {project} is not empty; give a new folder")
    if not files:
        raise ValueError(
            f"write_plugin_distribution({name!r}): files is empty; give at least the module "
            f"the entry points point at"
        )
    packages, modules = _write_sources(project / "src", name, files)
    pyproject = _pyproject(
        name,
        version,
        dependencies,
        group=group,
        entry_points=entry_points,
        scripts=scripts or {},
        packages=packages,
        modules=modules,
    )
    project.mkdir(parents=True, exist_ok=True)
    (project / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return project


def _write_sources(src: Path, name: str, files: Mapping[str, str]) -> tuple[set[str], set[str]]:
    """Write ``files`` under ``src``; return the top-level packages and modules."""
    packages: set[str] = set()
    modules: set[str] = set()
    for relative, text in files.items():
        path = Path(relative)
        if path.is_absolute() or ".." in path.parts:
            raise ValueError(
                f"write_plugin_distribution({name!r}): file {relative!r} must be a relative "
                f"path inside src/"
            )
        if len(path.parts) == 1:
            if path.suffix == ".py":
                modules.add(path.stem)
        else:
            packages.add(path.parts[0])
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    for package in packages:
        init = src / package / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    return packages, modules


def _pyproject(
    name: str,
    version: str,
    dependencies: Iterable[str],
    *,
    group: str,
    entry_points: Mapping[str, str],
    scripts: Mapping[str, str],
    packages: set[str],
    modules: set[str],
) -> str:
    """The project's ``pyproject.toml`` (setuptools, sources under ``src/``)."""
    requirements = ", ".join(_toml_string(d) for d in dependencies)
    points = "\n".join(f"{_toml_string(k)} = {_toml_string(v)}" for k, v in entry_points.items())
    commands = "\n".join(f"{_toml_string(k)} = {_toml_string(v)}" for k, v in scripts.items())
    setuptools = ['package-dir = { "" = "src" }']
    if modules:
        setuptools.append("py-modules = [" + ", ".join(map(_toml_string, sorted(modules))) + "]")
    if packages:
        setuptools.append("packages = [" + ", ".join(map(_toml_string, sorted(packages))) + "]")
    return (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f"[project]\nname = {_toml_string(name)}\nversion = {_toml_string(version)}\n"
        f"dependencies = [{requirements}]\n\n"
        f"[project.entry-points.{_toml_string(group)}]\n{points}\n\n"
        + (f"[project.scripts]\n{commands}\n\n" if commands else "")
        + "[tool.setuptools]\n"
        + "\n".join(setuptools)
        + "\n"
    )
