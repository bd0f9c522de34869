"""One definition of every trainer and run setting: name, type, default, check, help text.

Every way of setting up a run reads these definitions: :class:`~hookwise.Trainer` checks its
arguments with them, the config file's ``[trainer]`` table checks its keys with them, and the
command line builds its flags and ``--help`` from them, as does the settings table in the docs.
A new setting is one :func:`define` call in this module (the training features' are in
``hookwise._training_settings``, which it imports); it then appears in all of those places.

A :class:`Setting` has:

* ``name``: the :class:`~hookwise.Trainer` keyword argument (``num_epochs``).
* ``kind``: what values are allowed; it checks a value (``Trainer`` arguments, ``[trainer]``
  values, command-line text) and describes what is allowed in error messages and the docs.
* ``default``: the value used when no layer sets it.
* ``help``: one or two sentences, shown by ``hookwise fit --help`` and in the docs.
* ``config_key``: its key in the ``[trainer]`` table (``epochs``), ``None`` when a config cannot
  set it; ``flag``: its command-line flag (``--epochs``), ``None`` when there is none;
  ``commands``: the commands that take the flag.
* ``scope``: ``"trainer"`` for a ``Trainer`` argument, ``"run"`` for one that the command line
  applies itself (``num_threads``).

Only the standard library is imported here: the command line reads these definitions to print
``--help`` without loading torch.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from hookwise._setting_kinds import (
    Choice,
    Count,
    Device,
    Flag,
    Keywords,
    Kind,
    Positive,
    Precision,
    Seconds,
    WrapPolicy,
)
from hookwise.errors import ConfigError

#: The one default epoch count, for ``Trainer(num_epochs=...)`` and the command line alike.
#: It is vis4d's (and Lightning's): long enough that a run limited by ``num_steps`` is never
#: cut short by epochs, and a shorter run states its length (the default job sets its own).
DEFAULT_NUM_EPOCHS = 1000
#: Seconds a collective call waits for the other ranks (``dist_timeout``).
DEFAULT_DIST_TIMEOUT_S = 1800.0
#: Seconds without another rank's heartbeat before a rank ends (``dist_stall_timeout``).
DEFAULT_DIST_STALL_TIMEOUT_S = 300.0

Scope = Literal["trainer", "run"]


# -- the definitions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One trainer or run setting (see the module docstring for the fields)."""

    name: str
    kind: Kind
    default: Any
    help: str
    config_key: str | None = None
    flag: str | None = None
    commands: tuple[str, ...] = ("fit", "test")
    scope: Scope = "trainer"

    def check(self, value: Any, *, where: str = "Trainer", key: str | None = None) -> Any:
        """Return ``value`` normalised, or raise :class:`~hookwise.ConfigError` naming
        ``where`` (``"Trainer"``, ``"[trainer]"``, ``"--epochs"``), the setting (``key``, or its
        name), the value and what is allowed."""
        try:
            return self.kind.check(value)
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            label = " ".join(p for p in (where, self.name if key is None else key) if p)
            raise ConfigError(
                f"{label} must be {self.kind.expected}, got {value!r}{detail}"
            ) from None

    def from_toml(self, value: Any, *, where: str = "[trainer]") -> Any:
        """Check a ``[trainer]`` value (``false`` for ``None``) and return it normalised."""
        return self.check(self.kind.from_toml(value), where=where, key=self.config_key)

    def from_text(self, text: str) -> Any:
        """Check command-line ``text`` and return its value (usable as argparse ``type=``)."""
        return self.check(self.kind.from_text(text), where=self.flag or self.name, key="")

    @property
    def default_text(self) -> str:
        """The default as ``--help`` and the docs show it."""
        if self.default is None:
            return "None"
        return repr(self.default) if isinstance(self.default, str) else str(self.default)


_SETTINGS: dict[str, Setting] = {}


def define(setting: Setting) -> Setting:
    """Add ``setting`` to the registry; its name, config key and flag must be new.

    The order of definition is the order of ``--help`` and of the docs table.
    """
    for other in _SETTINGS.values():
        for field in ("name", "config_key", "flag"):
            mine = getattr(setting, field)
            if mine is not None and mine == getattr(other, field):
                raise ValueError(f"setting {setting.name!r}: {field} {mine!r} is already defined")
    checked = setting.kind.check(setting.default) if setting.default is not None else None
    if setting.default is not None and checked != setting.default:
        raise ValueError(f"setting {setting.name!r}: default {setting.default!r} is not canonical")
    _SETTINGS[setting.name] = setting
    return setting


def get(name: str) -> Setting:
    """The setting called ``name``; a :class:`KeyError` names the closest ones."""
    try:
        return _SETTINGS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_SETTINGS), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no setting {name!r}{hint}") from None


def all_settings(scope: Scope | None = None) -> tuple[Setting, ...]:
    """Every setting in definition order (only those of ``scope`` when given)."""
    return tuple(s for s in _SETTINGS.values() if scope is None or s.scope == scope)


def by_config_key(key: str) -> Setting | None:
    """The setting a ``[trainer]`` key sets, or ``None`` for an unknown key."""
    return next((s for s in _SETTINGS.values() if s.config_key == key), None)


def config_keys() -> tuple[str, ...]:
    """Every ``[trainer]`` key, in definition order."""
    return tuple(s.config_key for s in _SETTINGS.values() if s.config_key is not None)


def defaults(scope: Scope | None = None) -> dict[str, Any]:
    """``{name: default}`` for every setting (of ``scope`` when given)."""
    return {s.name: s.default for s in all_settings(scope)}


def check_all(values: Mapping[str, Any], *, where: str = "Trainer") -> dict[str, Any]:
    """Check every ``name: value`` of ``values``; return them normalised, in the same order."""
    return {name: get(name).check(value, where=where) for name, value in values.items()}


def rows() -> Iterator[tuple[str, str, str, str, str, str]]:
    """``(name, type, default, config key, flag, help)`` for every setting: the docs table."""
    for s in _SETTINGS.values():
        yield (
            s.name,
            s.kind.type_name,
            s.default_text,
            s.config_key or "",
            s.flag or "",
            s.help,
        )


define(
    Setting(
        "device",
        Device(),
        "auto",
        "Where the model and batches go: cpu, cuda, cuda:N, mps or auto (CUDA when available; "
        "under torchrun 'cuda' means cuda:LOCAL_RANK).",
        config_key="device",
        flag="--device",
    )
)
define(
    Setting(
        "num_epochs",
        Count(minimum=0, unlimited=True),
        DEFAULT_NUM_EPOCHS,
        "The number of training epochs (-1: unlimited).",
        config_key="epochs",
        flag="--epochs",
        commands=("fit",),
    )
)
define(
    Setting(
        "num_steps",
        Count(minimum=0, unlimited=True),
        -1,
        "The number of training steps: optimizer steps, one per batch (one per window with "
        "accumulate_grad_batches; -1: unlimited).",
        config_key="steps",
        flag="--steps",
        commands=("fit",),
    )
)
define(Setting("epoch", Count(minimum=0), 0, "The epoch a fit starts from."))
define(Setting("global_step", Count(minimum=0), 0, "The step a fit starts from."))
define(
    Setting(
        "check_val_every_n_epoch",
        Count(minimum=1, optional=True),
        1,
        "Validate after every n-th epoch (None, or false in a config: never).",
        config_key="check_val_every_n_epoch",
    )
)
define(
    Setting(
        "val_check_interval",
        Count(minimum=1, optional=True),
        None,
        "Also validate whenever global_step % n == 0 (None, or false in a config: off).",
        config_key="val_check_interval",
    )
)
define(
    Setting(
        "log_every_n_steps",
        Count(minimum=1),
        50,
        "How often logging plugins write per-step values (vis4d's setting; plugins read it).",
        config_key="log_every_n_steps",
    )
)
define(
    Setting(
        "seed",
        Count(minimum=None, optional=True),
        None,
        "The seed: the data order depends only on it and the epoch; it seeds torch, random "
        "and numpy at fit start, and hookwise fit applies it before building the job, so the "
        "same seed gives the same run (None: drawn and saved in checkpoints).",
        config_key="seed",
        flag="--seed",
    )
)
define(
    Setting(
        "num_sanity_val_steps",
        Count(minimum=0),
        0,
        "Before the first training step, validate on this many batches of each validation "
        "loader, so a misnamed monitor or a broken evaluator fails in seconds; it logs and "
        "writes nothing and changes no result (0: off; skipped on resume).",
        config_key="sanity_val_steps",
        flag="--sanity-val-steps",
        commands=("fit",),
    )
)
define(
    Setting(
        "scheduler_interval",
        Choice(choices=("epoch", "step")),
        "epoch",
        "Step the learning-rate schedulers once per epoch (after on_train_epoch_end) or once "
        "per step.",
        config_key="scheduler_interval",
    )
)
define(
    Setting(
        "profile_hooks",
        Flag(),
        False,
        "Time every plugin's hooks and log a table per plugin and hook at the end of the run.",
        flag="--profile-hooks",
    )
)
define(
    Setting(
        "handle_signals",
        Flag(),
        True,
        "During fit, turn SIGINT/SIGTERM into a clean stop with a checkpoint (main thread only).",
    )
)
define(
    Setting(
        "dist_timeout",
        Seconds(),
        DEFAULT_DIST_TIMEOUT_S,
        "Seconds a collective call waits for the other ranks before failing.",
    )
)
define(
    Setting(
        "dist_stall_timeout",
        Seconds(),
        DEFAULT_DIST_STALL_TIMEOUT_S,
        "Seconds without a heartbeat from another rank (a stopped, hung or lost process) "
        "before every other rank ends with an error naming it.",
    )
)
define(
    Setting(
        "dist_stop_check_interval",
        Count(minimum=1, optional=True, expected="a positive number of steps or None"),
        10,
        "In a distributed run, combine stop requests and signals across ranks every this many "
        "steps, besides epoch ends and validations (None: only there).",
    )
)
define(
    Setting(
        "use_distributed_sampler",
        Flag(),
        True,
        "In a distributed run, give the loaders per-rank samplers (False when the data is "
        "already split per rank).",
    )
)
define(
    Setting(
        "ddp_kwargs",
        Keywords(),
        None,
        "Keyword arguments for DistributedDataParallel, e.g. {find_unused_parameters = true}.",
    )
)
define(
    Setting(
        "resume_on_restart",
        Flag(),
        True,
        "When torchrun (--max-restarts) restarts the workers after a failure, fit continues "
        "from the newest complete checkpoint of the output folder (from step 0 when there is "
        "none) instead of starting over.",
    )
)
define(
    Setting(
        "overwrite",
        Flag(),
        False,
        "Let fit start a new run in an output_dir that holds an earlier run's metrics or "
        "checkpoints, writing over them (by default that is refused; hookwise fit makes a new "
        "run folder each time).",
    )
)
define(
    Setting(
        "num_threads",
        Count(minimum=1, optional=True),
        None,
        "torch's intra-op CPU threads for the run (None: torch's default).",
        config_key="num_threads",
        scope="run",
    )
)

# The training features' settings (precision, accumulation, clipping, compile) and the
# distributed strategy's: defined there.
from hookwise import _distributed_settings, _training_settings  # noqa: E402, F401

__all__ = [
    "DEFAULT_DIST_STALL_TIMEOUT_S",
    "DEFAULT_DIST_TIMEOUT_S",
    "DEFAULT_NUM_EPOCHS",
    "Choice",
    "Count",
    "Device",
    "Flag",
    "Keywords",
    "Kind",
    "Positive",
    "Precision",
    "Seconds",
    "Setting",
    "WrapPolicy",
    "all_settings",
    "by_config_key",
    "check_all",
    "config_keys",
    "defaults",
    "define",
    "get",
    "rows",
]
