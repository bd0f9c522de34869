"""``hookwise new-plugin NAME``: write a plugin distribution that installs and tests as is.

The distribution ``hookwise-<name>`` (folder of the same name) holds:

- ``pyproject.toml``: the entry point ``[project.entry-points."hookwise.plugins"]
  <name> = "hookwise_<name>:<Name>Callback"``, dependencies ``hookwise`` and ``torch``;
- ``src/hookwise_<name>/__init__.py``: a ``Callback`` subclass whose test connector selects
  the model's logits, reporting the mean confidence of each evaluation pass;
- ``README.md``: its parameters, hooks and files;
- ``tests/test_<name>.py``: tests with hookwise's pytest fixtures (``run_fit``,
  ``assert_plugin_valid``, ``hook_recorder``), which pass unchanged once it is installed.

The templates are the ``*.tmpl`` files beside this module (``string.Template`` syntax).
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path
from string import Template

from hookwise.discovery import normalize_name
from hookwise.errors import ConfigError

#: template file -> path in the project (``{package}`` and ``{name}`` filled in).
FILES: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "src/{package}/__init__.py",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}
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
        "class_name": "".join(w[:1].upper() + w[1:] for w in words) + "Callback",
        "title": " ".join(words).capitalize(),
    }


def render(template: str, names: dict[str, str]) -> str:
    """Fill one template in."""
    text = resources.files(__name__).joinpath("templates").joinpath(template).read_text("utf-8")
    return Template(text).substitute(names)


def write_plugin_project(name: str, directory: Path) -> Path:
    """Write the distribution for plugin ``name`` into ``directory/hookwise-<name>``.

    :returns: the project folder.
    :raises ConfigError: the name is unusable, or the folder exists and is not empty.
    """
    names = names_for(name)
    project = Path(directory) / names["distribution"]
    if project.exists() and (not project.is_dir() or any(project.iterdir())):
        raise ConfigError(
            f"new-plugin: {str(project)!r} already exists and is not empty; choose another "
            f"--dir or name, or remove it"
        )
    contents = {
        destination.format(**names): render(template, names)
        for template, destination in FILES.items()
    }
    for relative, text in contents.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project


__all__ = ["FILES", "names_for", "render", "write_plugin_project"]
