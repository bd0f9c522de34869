"""The ``hookwise`` command (``python -m hookwise`` is the same; torchrun launches it so).

::

    hookwise plugins [--all] [--json] [--inspect]   list installed plugins (metadata only)
    hookwise plugins order [HOOK] [CONFIG] [-p ...] per hook, the plugins in call order and why
    hookwise hooks                                  the hook reference
    hookwise fit [CONFIG] [-p NAME[:key=value,...]]... [-p no:NAME] [--resume PATH|last]
                 [--weights PATH|last] [--epochs N] [--steps N] [--seed N] [--device DEV]
                 [--output-dir DIR] [--dry-run]     train (the digits example without CONFIG)
    hookwise test [CONFIG] --weights PATH|last [-p ...] [--seed N] [--device DEV]
                  [--output-dir DIR] [--dry-run]    evaluate a checkpoint
    hookwise new-plugin NAME [--dir DIR]            write a new plugin distribution

Precedence, later wins: the embedded defaults < CONFIG < ``HOOKWISE_PLUGINS`` < the command
line (see :mod:`hookwise.config`). Errors a person can fix are printed without a traceback
and exit with status 2 (``--debug`` shows the traceback); an error during training exits with
1, a run ended by SIGINT/SIGTERM with 128 + the signal number (after writing a checkpoint).

``hookwise plugins`` imports neither torch nor any plugin: it reads entry-point metadata, and
imports little beyond ``importlib_metadata``, ``argparse`` and ``json`` (no pluggy, no plugin
manager, no config machinery; ``tests/cli/test_cli_plugins.py`` keeps it so).

The package has one module per command (:mod:`~hookwise.cli.fit`, :mod:`~hookwise.cli.test`,
:mod:`~hookwise.cli.plugins`, :mod:`~hookwise.cli.plugin_order`, :mod:`~hookwise.cli.hooks`,
:mod:`~hookwise.cli.new_plugin`) and shared parts: the parser (:mod:`~hookwise.cli.parser`),
dispatch and error printing (:mod:`~hookwise.cli.app`), the resolved run
(:mod:`~hookwise.cli.run_config`), checkpoints given as ``--resume``/``--weights``
(:mod:`~hookwise.cli.checkpoints`) and what a run writes and prints
(:mod:`~hookwise.cli.outputs`). A command's module is imported only when it runs, and none
imports torch until then.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hookwise.cli.app import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

if TYPE_CHECKING:
    from hookwise.cli.fit import cmd_fit
    from hookwise.cli.hooks import cmd_hooks
    from hookwise.cli.new_plugin import cmd_new_plugin
    from hookwise.cli.parser import PLUGIN_SPEC_HELP, PRECEDENCE, build_parser
    from hookwise.cli.plugins import cmd_plugins
    from hookwise.cli.setting_flags import (
        _trainer_flag_kwargs as _trainer_flag_kwargs,
    )  # tests use it
    from hookwise.cli.test import cmd_test

# Imported on first use, so that running one command imports only that command's module.
_LAZY = {
    "cmd_fit": "hookwise.cli.fit",
    "cmd_hooks": "hookwise.cli.hooks",
    "cmd_new_plugin": "hookwise.cli.new_plugin",
    "PLUGIN_SPEC_HELP": "hookwise.cli.parser",
    "PRECEDENCE": "hookwise.cli.parser",
    "build_parser": "hookwise.cli.parser",
    "_trainer_flag_kwargs": "hookwise.cli.setting_flags",
    "cmd_plugins": "hookwise.cli.plugins",
    "cmd_test": "hookwise.cli.test",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookwise.cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PLUGIN_SPEC_HELP",
    "PRECEDENCE",
    "build_parser",
    "cmd_fit",
    "cmd_hooks",
    "cmd_new_plugin",
    "cmd_plugins",
    "cmd_test",
    "main",
]
