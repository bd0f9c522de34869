"""Throwaway virtual environments that see this environment's packages, and pip installs into them.

A child venv does not see its parent's packages (not even with ``--system-site-packages``, which
points at the base interpreter, not at the parent venv). :class:`PluginVenv` creates a bare venv
(no pip of its own, a fraction of a second) and puts a ``.pth`` file in its ``site-packages``
that runs ``site.addsitedir(<parent site-packages>)``, so torch, pip and the editable hookwise
install (its own ``.pth`` files are processed too) are importable there. A distribution installed
into the child with ``pip install --no-deps --no-build-isolation`` is visible only to the child:
the parent environment is never changed, so each test sees exactly the plugins it installed.

Typical use (the ``plugin_venv`` fixture of ``tests/conftest.py`` gives a fresh one)::

    dist = write_plugin_distribution(tmp_path / "src", "hookwise-hello",
                                     entry_points={"hello": "hookwise_hello:Hello"},
                                     files={"hookwise_hello/__init__.py": SOURCE})
    plugin_venv.install(dist)
    result = plugin_venv.run(["-c", "import hookwise; print(hookwise.PluginManager().installed())"])
    assert "hello" in result.stdout
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sysconfig
import textwrap
import venv
from collections.abc import Mapping, Sequence
from pathlib import Path

from hookwise.testing import write_plugin_distribution

__all__ = ["PluginVenv", "parent_site_dirs", "write_plugin_distribution"]

#: Environment variables that would make the child see or do something the test did not ask for.
_SCRUBBED_ENV = (
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "VIRTUAL_ENV",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "HOOKWISE_PLUGINS",
    "HOOKWISE_ALLOWED_PLUGINS",
    "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD",
)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parent_site_dirs() -> list[str]:
    """The ``site-packages`` folders of the running interpreter, in ``sys.path`` order."""
    found: list[str] = []
    candidates = [*site.getsitepackages()]
    paths = sysconfig.get_paths()
    candidates += [paths["purelib"], paths["platlib"]]
    if site.ENABLE_USER_SITE and site.USER_SITE and os.path.isdir(site.USER_SITE):
        candidates.append(site.USER_SITE)
    for candidate in candidates:
        resolved = os.path.realpath(candidate)
        if os.path.isdir(resolved) and resolved not in found:
            found.append(resolved)
    return found


class PluginVenv:
    """A throwaway venv at ``root`` that sees the running interpreter's packages.

    :param root: the folder to create it in (created; must not hold another venv).
    :param inherit: the ``site-packages`` folders to make visible (default:
        :func:`parent_site_dirs`); ``()`` gives a bare venv.

    Creating one takes well under a second; each :meth:`install` runs pip once.
    """

    def __init__(self, root: Path, *, inherit: Sequence[str] | None = None) -> None:
        self.root = Path(root)
        builder = venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt", clear=False)
        builder.create(self.root)
        self.site_packages = self._site_packages()
        inherited = list(parent_site_dirs() if inherit is None else inherit)
        if inherited:
            lines = "; ".join(f"site.addsitedir({path!r})" for path in inherited)
            # A .pth line that starts with "import" is executed by site.py at start-up.
            (self.site_packages / "_hookwise_parent_site.pth").write_text(
                f"import site; {lines}\n", encoding="utf-8"
            )
        self.inherited: tuple[str, ...] = tuple(inherited)

    # -- paths ------------------------------------------------------------------------------------

    @property
    def bin_dir(self) -> Path:
        """The folder of the venv's executables (``bin``, or ``Scripts`` on Windows)."""
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.bin_dir / ("python.exe" if os.name == "nt" else "python")

    def _site_packages(self) -> Path:
        scheme = "nt_venv" if os.name == "nt" else "posix_venv"
        try:
            path = sysconfig.get_path("purelib", scheme, vars={"base": str(self.root)})
        except KeyError:  # Python < 3.11 has no *_venv schemes
            path = sysconfig.get_path(
                "purelib", vars={"base": str(self.root), "platbase": str(self.root)}
            )
        result = Path(path)
        if not result.is_dir():
            raise RuntimeError(f"venv at {self.root}: site-packages {result} was not created")
        return result

    def bin(self, name: str) -> Path:
        """The console script ``name`` as this venv runs it.

        Scripts of distributions installed into this venv are in :attr:`bin_dir`. A console
        script of an inherited distribution (``hookwise`` itself) lives in the parent's ``bin``
        with the parent's interpreter in its shebang and would not see this venv's packages, so
        a launcher running this venv's interpreter is written for it on first use.

        :raises LookupError: no visible distribution declares a console script ``name``.
        """
        script = self.bin_dir / name
        if script.exists():
            return script
        probe = (
            "import sys, importlib.metadata as m\n"
            "eps = [e for e in m.entry_points(group='console_scripts') if e.name == sys.argv[1]]\n"
            "print(eps[0].value if eps else '')\n"
        )
        target = self.run(["-c", probe, name]).stdout.strip()
        if not target:
            raise LookupError(
                f"no console script {name!r} is installed in the venv at {self.root} or in the "
                f"environments it inherits; install the distribution that declares it"
            )
        module, _, attribute = target.partition(":")
        call = attribute.strip() or "main"
        source = textwrap.dedent(
            f"""\
            #!{self.python}
            import sys
            from {module.strip()} import {call.split(".")[0]}
            sys.exit({call}())
            """
        )
        script.write_text(source, encoding="utf-8")
        script.chmod(0o755)
        return script

    # -- running ----------------------------------------------------------------------------------

    def env(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """The environment a child process gets: this one, scrubbed, plus ``extra``.

        Variables that change where packages come from or which hookwise plugins load
        (``PYTHONPATH``, ``HOOKWISE_*``, ``PYTEST_*``...) are removed; ``extra`` sets variables
        (a value of ``None`` removes one).
        """
        environment = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
        environment["VIRTUAL_ENV"] = str(self.root)
        environment["PATH"] = os.pathsep.join([str(self.bin_dir), environment.get("PATH", "")])
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        environment["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        environment["PIP_NO_INPUT"] = "1"
        environment["PIP_NO_INDEX"] = "1"  # never reach a package index from a test
        for key, value in (extra or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return environment

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run this venv's Python with ``args`` (``["-c", code]``, ``["-m", "pytest", ...]``).

        :param env: variables to set (``None`` removes one) on top of :meth:`env`.
        :param check: raise ``AssertionError`` with the command, exit code, stdout and stderr
            when the exit code is not 0.
        :returns: the completed process; ``stdout`` and ``stderr`` are text.
        """
        return self.run_command(
            [str(self.python), *map(str, args)], env=env, cwd=cwd, check=check, timeout=timeout
        )

    def run_command(
        self,
        command: Sequence[str | os.PathLike[str]],
        *,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
        check: bool = True,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run any command (``[venv.bin("hookwise"), "plugins"]``) in this venv's environment."""
        argv = [str(part) for part in command]
        result = subprocess.run(
            argv,
            env=self.env(env),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"command failed with exit code {result.returncode}: {' '.join(argv)}\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            )
        return result

    def install(self, *paths: str | os.PathLike[str], editable: bool = False) -> str:
        """pip-install local distributions into this venv (no dependencies, no build isolation).

        Dependencies are not installed: they must already be visible (inherited). Nothing is
        downloaded (``PIP_NO_INDEX``).

        :param editable: install with ``-e`` (one path at a time).
        :returns: pip's output.
        """
        if not paths:
            raise ValueError("install() needs at least one path to a distribution")
        args: list[str] = ["-m", "pip", "install", "--no-deps", "--no-build-isolation", "-q"]
        for path in paths:
            if editable:
                args.append("-e")
            args.append(str(path))
        return self.run(args).stdout

    def installed_here(self) -> list[str]:
        """Names of the distributions installed into this venv itself (not inherited ones)."""
        names = []
        for info in sorted(self.site_packages.glob("*.dist-info")):
            metadata = info / "METADATA"
            if metadata.is_file():
                for line in metadata.read_text(encoding="utf-8").splitlines():
                    if line.startswith("Name:"):
                        names.append(line.partition(":")[2].strip())
                        break
        return names

    def uninstall(self, *names: str) -> str:
        """pip-uninstall distributions that were installed into this venv.

        :raises ValueError: a name is not installed here (an inherited distribution is never
            touched).
        """
        here = {_normalize(n) for n in self.installed_here()}
        missing = [n for n in names if _normalize(n) not in here]
        if missing:
            raise ValueError(
                f"{missing} are not installed in the venv at {self.root} (installed there: "
                f"{sorted(here) or 'nothing'}); inherited distributions are never uninstalled"
            )
        return self.run(["-m", "pip", "uninstall", "-y", "-q", *names]).stdout

    def __repr__(self) -> str:
        return f"PluginVenv({str(self.root)!r})"
