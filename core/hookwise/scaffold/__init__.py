"""``hookwise new-plugin NAME``: write a plugin distribution that installs and tests as is.

The distribution ``hookwise-<name>`` (folder of the same name) holds:

- ``pyproject.toml``: the entry point ``[project.entry-points."hookwise.plugins"]
  <name> = "hookwise_<name>:<Name>"``, dependencies ``hookwise`` and ``torch``;
- ``src/hookwise_<name>/__init__.py``: a ``Callback`` subclass ``<Name>`` implementing the
  plugin's hooks (``--hooks``, or hooks its name suggests: ``grad_norm`` gets
  ``on_before_optimizer_step``), each with a small working body
  (:mod:`hookwise.scaffold.recipes`) and the typed signature of the method it overrides;
- ``README.md``: its parameters, hooks and state;
- ``tests/test_<name>.py``: one test per hook with hookwise's pytest fixtures (``run_fit``,
  ``assert_plugin_valid``), which pass unchanged once it is installed.

A name whose plugin, distribution or package is already installed is refused
(:func:`check_name_free`): the new plugin would shadow it, or be shadowed.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from string import Template

from hookwise.discovery import normalize_name
from hookwise.errors import ConfigError

#: The files of a project, by path (``{package}`` and ``{name}`` filled in).
FILES: tuple[str, ...] = (
    "pyproject.toml",
    "README.md",
    "src/{package}/__init__.py",
    "tests/test_{name}.py",
)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*\Z")


def names_for(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` gets (entry point, distribution, package, class).

    :raises ConfigError: ``name`` is not letters, digits, ``-`` and ``_``, starting with a
        letter.
    """
    if not _NAME.match(name):
        raise ConfigError(
            f"new-plugin: {name!r} is not a usable plugin name; use letters, digits, '-' and "
            f"'_', starting with a letter (e.g. grad_norm)"
        )
    underscore = normalize_name(name).replace("-", "_")
    if keyword.iskeyword(underscore):
        raise ConfigError(f"new-plugin: {name!r} is a Python keyword; choose another name")
    words = underscore.split("_")
    return {
        "name": underscore,
        "dash_name": underscore.replace("_", "-"),
        "distribution": f"hookwise-{underscore.replace('_', '-')}",
        "package": f"hookwise_{underscore}",
        "class_name": "".join(w[:1].upper() + w[1:] for w in words),
        "title": " ".join(words).capitalize(),
    }


def render(template: str, names: dict[str, str]) -> str:
    """Fill one template in."""
    text = resources.files(__name__).joinpath("templates").joinpath(template).read_text("utf-8")
    return Template(text).substitute(names)


def check_name_free(names: dict[str, str]) -> None:
    """Refuse a name whose plugin would shadow, or be shadowed by, what is installed.

    :raises ConfigError: naming the installed plugin (and its distribution), distribution or
        importable package that has the name.
    """
    from importlib import metadata
    from importlib.util import find_spec

    from hookwise.discovery import installed_plugins

    taken = [p for p in installed_plugins() if p.key == normalize_name(names["name"])]
    if taken:
        owner = taken[0]
        raise ConfigError(
            f"new-plugin: a plugin named {owner.name!r} is already installed (distribution "
            f"{owner.distribution} {owner.version}, {owner.target}); a second one would make "
            f"-p {owner.name} ambiguous. Choose another name"
        )
    try:
        dist = metadata.distribution(names["distribution"])
    except metadata.PackageNotFoundError:
        pass
    else:
        raise ConfigError(
            f"new-plugin: the distribution {dist.metadata['Name']} {dist.version} is already "
            f"installed; installing a new {names['distribution']} would replace it. Choose "
            f"another name"
        )
    if find_spec(names["package"]) is not None:
        raise ConfigError(
            f"new-plugin: a module {names['package']!r} is already importable; the plugin's "
            f"package would shadow it or be shadowed. Choose another name"
        )


def write_plugin_project(
    name: str, directory: Path, hooks: str | None = None, *, check_installed: bool = True
) -> Path:
    """Write the distribution for plugin ``name`` into ``directory/hookwise-<name>``.

    :param hooks: the hooks to implement, comma-separated (default: what the name suggests,
        see :func:`hookwise.scaffold.recipes.hooks_for`).
    :param check_installed: refuse a name that is installed (:func:`check_name_free`).
    :returns: the project folder.
    :raises ConfigError: the name is unusable or taken, a hook does not exist, or the folder
        exists and is not empty.
    """
    from hookwise.scaffold.recipes import hooks_for
    from hookwise.scaffold.rendering import render_plugin, render_readme, render_tests

    names = names_for(name)
    try:
        chosen = hooks_for(names["name"], hooks)
    except ValueError as exc:
        raise ConfigError(f"new-plugin: {exc}") from None
    if check_installed:
        check_name_free(names)
    project = Path(directory) / names["distribution"]
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ConfigError(
            f"new-plugin: {str(project)!r} already exists and is not empty; choose another "
            f"--dir or name, or remove it"
        )
    texts = [
        render("pyproject.toml.tmpl", names),
        render_readme(names, chosen),
        render_plugin(names, chosen),
        render_tests(names, chosen),
    ]
    write_files(project, {f.format(**names): t for f, t in zip(FILES, texts, strict=True)})
    return project


def write_files(project: Path, contents: dict[str, str]) -> None:
    """Write ``contents`` (relative path -> text) under ``project``."""
    for relative, text in contents.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


__all__ = ["FILES", "check_name_free", "names_for", "render", "write_files", "write_plugin_project"]
