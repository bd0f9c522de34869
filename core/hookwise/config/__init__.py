"""Plugin specs and run configs: from TOML, the command line and the environment.

Plugins on the command line (``-p``) and in ``HOOKWISE_PLUGINS``
------------------------------------------------------------------
``NAME[:key=value,...]`` enables a plugin; ``no:NAME`` blocks one (and every instance of it).

- ``NAME`` is an entry-point name (``early_stopping``), an instance of one
  (``evaluator@top5``) or an import path (``package.module:Object``).
- Parameters start at the first ``:`` followed by ``identifier=``, so
  ``mypkg.callbacks:Printer:every=10`` is the object ``mypkg.callbacks:Printer`` with
  ``every=10``.
- Values are TOML literals when they parse as one (``3``, ``0.5``, ``true``, ``"text"``,
  ``[1, 5]``, ``{preds = {pred = "logits"}}``), else plain strings (``monitor=val/loss``).
- Commas inside brackets, braces or quotes do not split: ``evaluator:top_k=[1, 5],mode=max``.
- ``HOOKWISE_PLUGINS`` holds the same specs separated by ``;``.

A config file
-------------
A TOML file; every table is optional::

    allowed_plugins = ["logging", "evaluator", "checkpoint"]  # an allow-list (optional)

    [model]        # {target = "package.module:callable", ...keyword arguments}
    target = "hookwise.examples.digits:DigitsMLP"
    hidden = 64

    [data]
    train = { target = "hookwise.examples.digits:loader", split = "train", batch_size = 64 }
    val = { target = "hookwise.examples.digits:loader", split = "val" }    # validation
    test = { target = "hookwise.examples.digits:loader", split = "test" }  # the final test
    connector = { inputs = "inputs" }        # model(**{arg: batch[key]}); absent: model(batch)

    [optimizer]    # called with params=model.parameters()
    target = "torch.optim:SGD"
    lr = 0.1

    [scheduler]    # called with optimizer=...; optional
    target = "torch.optim.lr_scheduler:StepLR"
    step_size = 5

    [loss]         # one loss with a connector (or [[loss]] for several, each weighted)
    target = "torch.nn:CrossEntropyLoss"
    connector = { input = { pred = "logits" }, target = { data = "labels" } }

    [trainer]      # the settings with a config key in hookwise.settings: epochs, steps,
    epochs = 10    # seed, device, check_val_every_n_epoch (false: never), val_check_interval,
    seed = 0       # log_every_n_steps, scheduler_interval ("epoch"/"step"), num_threads

    [plugins.logging]                 # a plugin and its parameters
    plot = true
    [plugins."evaluator@top5"]        # a second instance
    evaluator = { target = "mypkg.metrics:TopK", k = 5 }
    test_connector = { preds = { pred = "logits" }, labels = { data = "labels" } }

    [plugins]
    checkpoint = false                # blocked, like -p no:checkpoint

A plugin table's ``on_error`` is the error policy (never passed on); ``epoch_based``,
``train_connector`` and ``test_connector`` go to a ``Callback``'s constructor as in vis4d.
A parameter written as ``{target = "..."}`` is built first (an object-valued parameter).

Precedence
----------
Later layers win, key by key: **defaults** (the embedded default config,
:func:`default_config`) < **the config** named on the command line < **the environment**
(``HOOKWISE_PLUGINS``) < **the command line** (``-p``, ``--epochs``, ..., then ``KEY=VALUE``
overrides of any key: :mod:`~hookwise.config.overrides`). For plugins, a
later layer's parameters update an earlier layer's for the same name, ``no:NAME`` (or
``NAME = false``) removes a plugin, and naming it again in a later layer enables it again.

- The default plugins (logging, evaluator, checkpoint) come from the defaults layer;
  ``HOOKWISE_DISABLE_PLUGIN_AUTOLOAD=1`` drops them, so that only what is named loads.
- The default *job* (``model``, ``data``, ``optimizer``, ``scheduler``, ``loss``: the digits
  example) is used when the config has no ``[model]``; a config with a ``[model]`` table
  defines the whole job itself. ``[trainer]`` keys merge one by one; each is checked by its
  definition in :mod:`hookwise.settings` (the same check as the ``Trainer`` argument and the
  command-line flag), and a key no layer sets gets that definition's default.
- Plugins run in this order: the plugins you named (config, then environment, then command
  line), then the default plugins, so a default (checkpoint last) sees what yours did.
- ``HOOKWISE_ALLOWED_PLUGINS`` and the config's ``allowed_plugins`` are allow-lists; when both
  are set, a plugin must be in both.

Only a config named on the command line is read (there is no hidden default file), and the
Python API reads no environment variable unless asked (:func:`plugin_specs_from_env`; the
variables themselves are read in :mod:`hookwise.environment`).

The package's parts: :mod:`~hookwise.config.specs` (the ``-p`` grammar),
:mod:`~hookwise.config.toml` (reading and writing files), :mod:`~hookwise.config.checks`
(keys and types), :mod:`~hookwise.config.layers` (the precedence) and
:mod:`~hookwise.config.enabling` (a plan onto a plugin manager). Every name below is
importable from ``hookwise.config`` itself.
"""

from __future__ import annotations

from hookwise.config.checks import (
    DATA_KEYS,
    JOB_SECTIONS,
    TOP_LEVEL_KEYS,
    TRAINER_KEYS,
    check_config,
)
from hookwise.config.enabling import enable_plan, install_command
from hookwise.config.layers import (
    PluginPlan,
    RunConfig,
    combine_allowed,
    resolve_config,
    resolve_plugins,
)
from hookwise.config.specs import (
    PluginBlock,
    PluginOption,
    PluginSpec,
    format_plugin_option,
    format_value,
    parse_plugin_option,
    parse_plugin_options,
    parse_value,
    plugin_key,
    plugin_options_from_config,
    plugin_specs_from_env,
)
from hookwise.config.toml import (
    default_config,
    default_config_text,
    dump_config,
    load_toml,
    loads_toml,
)
from hookwise.environment import (
    ALLOWED_ENV,
    DISABLE_AUTOLOAD_ENV,
    PLUGINS_ENV,
    autoload_disabled,
)
from hookwise.environment import allowed_plugins as allowed_from_env

__all__ = [
    "ALLOWED_ENV",
    "DATA_KEYS",
    "DISABLE_AUTOLOAD_ENV",
    "JOB_SECTIONS",
    "PLUGINS_ENV",
    "TOP_LEVEL_KEYS",
    "TRAINER_KEYS",
    "PluginBlock",
    "PluginOption",
    "PluginPlan",
    "PluginSpec",
    "RunConfig",
    "allowed_from_env",
    "autoload_disabled",
    "check_config",
    "combine_allowed",
    "default_config",
    "default_config_text",
    "dump_config",
    "enable_plan",
    "format_plugin_option",
    "format_value",
    "install_command",
    "load_toml",
    "loads_toml",
    "parse_plugin_option",
    "parse_plugin_options",
    "parse_value",
    "plugin_key",
    "plugin_options_from_config",
    "plugin_specs_from_env",
    "resolve_config",
    "resolve_plugins",
]
