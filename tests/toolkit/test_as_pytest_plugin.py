"""The toolkit as pytest loads it: through the pytest11 entry point, in a plugin author's run."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")


def test_fixtures_are_listed_with_their_documentation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["*fixtures defined from hookwise.testing*"])
    for fixture, summary in [
        ("hookwise_pm", "An isolated hookwise plugin manager: no installed entry points*"),
        ("hook_recorder", "Records every hook call of the test*"),
        ("run_fit", "``run_fit(plugins, **options)``: a real fit (and test) of a tiny model*"),
        ("assert_plugin_valid", "*check an installed plugin as hookwise loads it."),
    ]:
        result.stdout.fnmatch_lines([f"{fixture} -- *hookwise*testing*", f"    {summary}"])


@pytest.mark.slow
def test_a_plugin_authors_tests_pass_and_fail_readably(pytester: pytest.Pytester) -> None:
    # In a subprocess: pytester's in-process runs drop the modules a run imported, and torch's
    # extension modules do not survive being imported twice in one process.
    pytester.makepyfile(
        test_mine='''
        from hookwise import Callback

        class EpochCounter(Callback):
            """Counts epochs and logs the count."""

            def __init__(self):
                super().__init__()
                self.epochs = 0

            def on_train_epoch_end(self, trainer_state, model, loss_module):
                self.epochs += 1

            def on_test_epoch_end(self, trainer_state, model):
                return {"epochs": self.epochs}

        class Broken(Callback):
            """Reads a key the batch does not have."""

            def on_train_batch_end(self, trainer_state, model, loss_module, outputs, batch,
                                   batch_idx):
                return {"x": batch["images"].mean()}

        def test_counts(run_fit, hook_recorder):
            result = run_fit([EpochCounter()], epochs=3)
            assert result.metrics["val/epochs"] == 3
            hook_recorder.assert_called("on_train_epoch_end", times=3, plugin="EpochCounter")
            hook_recorder.assert_order("on_train_epoch_end", "on_test_epoch_end")

        def test_isolated(hookwise_pm, run_fit):
            hookwise_pm.register(EpochCounter(), "counter")
            result = run_fit(pm=hookwise_pm, epochs=1)
            result.calls.assert_called("on_test_epoch_end", times=2, plugin="counter")

        def test_broken(run_fit):
            run_fit([Broken()])

        def test_wrong_count(run_fit):
            result = run_fit([EpochCounter()], epochs=2)
            result.calls.assert_called("on_train_epoch_end", times=3, plugin="EpochCounter")
        '''
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*KeyError: 'images'",
            "*plugin 'Broken' failed in hook 'on_train_batch_end' at epoch 0, step 1",
            "*hookwise: the run failed at epoch 0, step 1",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: hook 'on_train_epoch_end' was called 2 times answered by plugin "
            "'EpochCounter', expected 3. Recorded calls per hook (plugin 'EpochCounter'): "
            "on_train_epoch_end x2, on_test_epoch_end x3"
        ]
    )


def test_importing_the_toolkit_does_not_import_torch() -> None:
    code = (
        "import sys, hookwise.testing\n"
        "heavy = [m for m in ('torch', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_a_pytest_run_that_does_not_fit_does_not_import_torch(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_light():
            assert "hookwise.testing" in sys.modules  # loaded through the pytest11 entry point
            assert "torch" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
