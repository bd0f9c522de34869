"""The bundled plugins, as far as listing them needs: which are the defaults, and how to
install one. Imports nothing heavy (``hookwise plugins`` reads this, not the config).
"""

from __future__ import annotations

from hookwise.plugins.discovery import normalize_name

#: The default plugins of ``hookwise fit`` and ``hookwise test``, in the order they run: the
#: ``[plugins]`` of the embedded default config (``hookwise/examples/default.toml``), which
#: the config layers read; ``tests/cli/test_cli_plugins.py`` checks that the two agree.
DEFAULT_PLUGINS = ("evaluator", "logging", "checkpoint")


def install_command(name: str) -> str:
    """The pip command that installs the bundled plugin ``name``."""
    return f"pip install hookwise-{normalize_name(name.partition('@')[0])}"


__all__ = ["DEFAULT_PLUGINS", "install_command"]
