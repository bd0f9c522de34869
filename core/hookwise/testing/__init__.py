"""The plugin-author toolkit: a pytest plugin that makes testing a hookwise plugin a few lines.

It is registered through the ``pytest11`` entry point of the ``hookwise`` distribution, so every
pytest run in an environment with hookwise installed has these fixtures (``pytest --fixtures``
lists them with their documentation):

``hookwise_pm``
    an isolated :class:`~hookwise.PluginManager` that loads nothing from entry points or
    environment variables unless the test asks (:class:`IsolatedPluginManager`).
``hook_recorder``
    records every hook call of the test's runs, in order, with its arguments and the plugin that
    answered (:class:`HookRecorder`), with assertion helpers.
``run_fit``
    one call that runs a real fit (and test) of a tiny model on tiny dict-shaped data and returns
    a :class:`FitResult`; also a plain function, :func:`run_fit`.
``assert_plugin_valid``
    checks an installed plugin by name: its entry point loads, its hooks match the specs, its
    parameters are documented, its state survives a checkpoint (:func:`assert_plugin_valid`).

A plugin's test can be this short::

    def test_my_plugin(run_fit, assert_plugin_valid):
        assert_plugin_valid("my_plugin", threshold=0.5)
        result = run_fit([("my_plugin", {"threshold": 0.5})], epochs=2)
        result.calls.assert_called("on_validation_end", times=2, plugin="my_plugin")
        assert (result.output_dir / "my_plugin.txt").exists()

The tiny job ``run_fit`` trains is public too, for tests that build their own trainer:
:class:`TinyData` (``n`` samples ``{"inputs": float [4], "labels": long []}``),
:class:`TinyModel` (``inputs -> {"logits": Linear(4, 2)(inputs)}``), :class:`CrossEntropy`
and :func:`tiny_loss` (a ``LossModule`` connecting them), :func:`tiny_loader` (a loader over
the data), and :class:`EvalLoss` (the plugin that gives ``run_fit``'s evaluation passes their
``loss``). :func:`tiny_job` writes the same job as a ``hookwise fit`` config (TOML text).

For plugins that run under ``torchrun``: :func:`run_torchrun` launches a script on local worker
processes (loopback only, a free port from :func:`free_port`, bounded in time, a hang fails
the test with the output); :func:`torchrun_command` is its command line, for a launch the test
drives itself.

Importing this module is light (pytest loads it in every run): torch is imported only when a fit
runs, a state is checked, or one of the tiny-job names above is first used.

Testing a plugin's pytest output with ``pytester``: run fits with ``runpytest_subprocess``.
In-process runs (``runpytest``) drop the modules each run imported, and torch's extension
modules do not survive being imported a second time in one process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hookwise.plugins import PluginManager
from hookwise.testing._check import PluginCheckFailed, PluginReport, assert_plugin_valid
from hookwise.testing._distribution import write_plugin_distribution
from hookwise.testing._fit import EVAL_LOSS_PLUGIN, EvalLoss, FitResult, run_fit
from hookwise.testing._job import tiny_job
from hookwise.testing._launch import free_port, run_torchrun, torchrun_command
from hookwise.testing._manager import IsolatedPluginManager
from hookwise.testing._recorder import HookCall, HookRecorder

if TYPE_CHECKING:
    from hookwise.testing._tiny import CrossEntropy, TinyData, TinyModel, tiny_loader, tiny_loss

__all__ = [
    "EVAL_LOSS_PLUGIN",
    "CrossEntropy",
    "EvalLoss",
    "FitResult",
    "HookCall",
    "HookRecorder",
    "IsolatedPluginManager",
    "PluginCheckFailed",
    "PluginReport",
    "TinyData",
    "TinyModel",
    "assert_plugin_valid",
    "free_port",
    "run_fit",
    "run_torchrun",
    "tiny_job",
    "tiny_loader",
    "tiny_loss",
    "torchrun_command",
    "write_plugin_distribution",
]

#: Names served from :mod:`hookwise.testing._tiny`, imported (with torch) on first use.
_TINY = frozenset({"CrossEntropy", "TinyData", "TinyModel", "tiny_loader", "tiny_loss"})


def __getattr__(name: str) -> Any:
    """Import the tiny job's names (and torch) only when a test asks for one."""
    if name in _TINY:
        from hookwise.testing import _tiny

        return getattr(_tiny, name)
    raise AttributeError(f"module 'hookwise.testing' has no attribute {name!r}")


# -- fixtures (pytest finds them in this module, the pytest11 entry point) -----------------------


@pytest.fixture(autouse=True, scope="session")
def _hookwise_run_fit_temp_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``run_fit`` called without ``tmp_path`` writes under pytest's temporary base."""
    from hookwise.testing import _fit

    _fit.temp_factory = tmp_path_factory
    yield
    _fit.temp_factory = None


@pytest.fixture
def hookwise_pm() -> IsolatedPluginManager:
    """An isolated hookwise plugin manager: no installed entry points, no environment variables.

    Enable plugins by import path or register objects; hand it to a trainer or to ``run_fit``.
    ``hookwise_pm.use_installed_plugins()`` reads the installed entry points,
    ``hookwise_pm.use_environment()`` honours ``HOOKWISE_ALLOWED_PLUGINS``, and
    ``hookwise_pm.add_entry_point(name, "pkg.mod:Obj")`` fakes an installed plugin::

        def test_my_callback(hookwise_pm, run_fit):
            hookwise_pm.enable("my_package.callbacks:MyCallback", threshold=2)
            result = run_fit(pm=hookwise_pm)
            assert result.metrics["val/my_metric"] > 0

    See :class:`hookwise.testing.IsolatedPluginManager`.
    """
    return IsolatedPluginManager()


@pytest.fixture
def hook_recorder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HookRecorder]:
    """Records every hook call of the test: of ``hookwise_pm`` (when the test uses it) and of
    every plugin manager created while the test runs (``Trainer(plugins=[...])``, ``run_fit``).

    Each record has ``.hook``, ``.plugin`` (who answered; ``None`` when no plugin implements
    the hook) and ``.kwargs`` (every argument). Helpers::

        def test_batches(hook_recorder, run_fit):
            run_fit(["my_plugin"], epochs=2, batches=3)
            hook_recorder.assert_called("on_train_batch_end", times=6,
                                        batch_idx=[0, 1, 2, 0, 1, 2])
            hook_recorder.assert_order("on_test_epoch_end", "on_validation_end")
            assert hook_recorder.values("on_validation_end", "metrics")[0]["val/loss"] > 0

    See :class:`hookwise.testing.HookRecorder` for ``of``, ``values``, ``results``,
    ``hooks``, ``plugins``, ``assert_not_called``.
    """
    recorder = HookRecorder()
    if "hookwise_pm" in request.fixturenames:
        recorder.attach(request.getfixturevalue("hookwise_pm"))
    original = PluginManager.__init__

    def recording_init(self: PluginManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        recorder.attach(self)

    monkeypatch.setattr(PluginManager, "__init__", recording_init)
    yield recorder
    monkeypatch.undo()
    recorder.detach()


@pytest.fixture(name="run_fit")
def _run_fit_fixture(tmp_path: Path) -> Callable[..., FitResult]:
    """``run_fit(plugins, **options)``: a real fit (and test) of a tiny model, in ``tmp_path``.

    :func:`hookwise.testing.run_fit` with ``tmp_path`` filled in: every call of one test writes
    into ``tmp_path / "run"``, so a later call can resume an earlier one (pass another
    ``tmp_path=`` or ``output_dir=`` for independent runs). Returns a ``FitResult`` with
    ``metrics``, ``test_metrics``, ``calls`` (a HookRecorder), ``output_dir``, ``model``,
    ``trainer``::

        def test_stops_early(run_fit):
            result = run_fit([("early_stopping", {"monitor": "val/loss", "patience": 1})],
                             epochs=20, lr=0.0)
            assert result.stop_request is not None
            assert result.trainer.epoch < 20
    """

    def fixture_run_fit(plugins: Iterable[Any] = (), **options: Any) -> FitResult:
        options.setdefault("tmp_path", tmp_path)
        return run_fit(plugins, **options)

    fixture_run_fit.__doc__ = run_fit.__doc__
    return fixture_run_fit


@pytest.fixture(name="assert_plugin_valid")
def _assert_plugin_valid_fixture(tmp_path: Path) -> Callable[..., PluginReport]:
    """``assert_plugin_valid(name, **params)``: check an installed plugin as hookwise loads it.

    Its entry point loads, its hook implementations match the specs, its parameters are
    documented in its docstring, and its ``state_dict`` holds only what
    ``torch.load(weights_only=True)`` accepts and survives a save-and-resume round trip. Fails
    with an ``AssertionError`` listing every problem and its fix; returns a report::

        def test_valid(assert_plugin_valid):
            report = assert_plugin_valid("my_plugin", threshold=0.5)
            assert report.hooks["my_plugin"] == ["on_train_batch_end", "on_validation_end"]

    :func:`hookwise.testing.assert_plugin_valid` with ``tmp_path`` filled in.
    """

    def fixture_assert_plugin_valid(name: str, /, **params: Any) -> PluginReport:
        params.setdefault("tmp_path", tmp_path / "assert_plugin_valid")
        return assert_plugin_valid(name, **params)

    fixture_assert_plugin_valid.__doc__ = assert_plugin_valid.__doc__
    return fixture_assert_plugin_valid
