"""``hookwise plugins order [HOOK]`` and ``hookwise fit --dry-run``: the resolved call order
per hook and why (tryfirst/trylast, enabled order, named constraints, triggers), the ignored
constraints, and a cycle as an error naming it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import tomllib
from hookwise.cli import main

ORDERED = textwrap.dedent(
    """
    from hookwise import hookimpl


    class Swap:
        @hookimpl(before=["checkpoint"])
        def on_validation_end(self, metrics):
            pass

        @hookimpl(every_n_steps=5, on_ranks="zero")
        def on_train_batch_end(self, trainer_state):
            pass


    class Late:
        run_after = ["./callbacks.py:Swap", "not_installed_thing"]

        @hookimpl(tryfirst=True)
        def on_validation_end(self, metrics):
            pass
    """
)

CYCLE = textwrap.dedent(
    """
    from hookwise import hookimpl


    class First:
        @hookimpl(after=["cycle.py:Second"])
        def on_fit_end(self):
            pass


    class Second:
        @hookimpl(after=["cycle.py:First"])
        def on_fit_end(self):
            pass
    """
)


@pytest.fixture(autouse=True)
def _project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callbacks.py").write_text(ORDERED, encoding="utf-8")
    (tmp_path / "cycle.py").write_text(CYCLE, encoding="utf-8")


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def numbered(out: str) -> list[str]:
    """The ``  N. name: why`` lines of the output, stripped."""
    return [line.strip() for line in out.splitlines() if line.strip()[:1].isdigit()]


def test_order_of_one_hook_shows_why_each_plugin_is_where_it_is(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(
        capsys,
        "plugins",
        "order",
        "on_validation_end",
        "-p",
        "./callbacks.py:Late",
        "-p",
        "./callbacks.py:Swap",
    )
    assert code == 0, err
    assert (
        "Plugins enabled (from <default config>, the environment and -p): callbacks.py:Late, "
        "callbacks.py:Swap, evaluator, logging, checkpoint\n" in out
    )
    assert numbered(out) == [
        # tryfirst, but its run_after puts it after Swap; Swap before checkpoint (trylast anyway)
        "1. callbacks.py:Swap: enabled 2nd; callbacks.py:Late after './callbacks.py:Swap' (its "
        "run_after); callbacks.py:Swap before 'checkpoint' (@hookimpl(before=...))",
        "2. callbacks.py:Late: tryfirst; enabled 1st; callbacks.py:Late after "
        "'./callbacks.py:Swap' (its run_after)",
        "3. logging: enabled 3rd",
        "4. checkpoint: trylast; enabled 4th; callbacks.py:Swap before 'checkpoint' "
        "(@hookimpl(before=...))",
    ]
    assert "Ignored constraints (they name a plugin that is not enabled):" in out
    assert "callbacks.py:Late: after 'not_installed_thing' (its run_after), not enabled" in out


def test_order_of_every_hook_shows_triggers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(
        capsys, "--debug", "plugins", "order", "-p", "./callbacks.py:Swap", "-p", "no:logging"
    )
    assert code == 0, err
    assert "on_train_batch_end, in call order:\n" in out
    assert "1. callbacks.py:Swap: enabled 1st; every 5 steps, on ranks [0]" in numbered(out)
    assert "setup, in call order:\n" in out  # the evaluator's and checkpoint's hooks too
    assert "on_before_optimizer_step" not in out  # no enabled plugin implements it

    Path("run.toml").write_text('[plugins."./callbacks.py:Swap"]\n', encoding="utf-8")
    code, out, err = run_main(capsys, "plugins", "order", "run.toml")  # a config, no hook
    assert code == 0, err
    assert "Plugins enabled (from run.toml, the environment and -p): " in out
    assert "every 5 steps, on ranks [0]" in out


def test_a_hook_nobody_implements_and_an_unknown_hook(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "plugins", "order", "on_before_optimizer_step")
    assert code == 0
    assert "on_before_optimizer_step: no enabled plugin implements it" in out
    code, _, err = run_main(capsys, "plugins", "order", "on_validaton_end")
    assert code == 2
    assert "there is no hook 'on_validaton_end'; did you mean 'on_validation_end'?" in err


def test_a_cycle_is_an_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        ["plugins", "order", "on_fit_end"],
        ["fit", "--dry-run"],
    ):
        code, _, err = run_main(
            capsys, *command, "-p", "./cycle.py:First", "-p", "./cycle.py:Second"
        )
        assert code == 2, err
        assert (
            "hook 'on_fit_end': the order constraints form a cycle: cycle.py:First -> "
            "cycle.py:Second -> cycle.py:First" in err
        )


def test_dry_run_shows_the_reasons_and_the_ignored_constraints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run_main(
        capsys, "fit", "--dry-run", "-p", "./callbacks.py:Late", "-p", "./callbacks.py:Swap"
    )
    assert code == 0, err
    tomllib.loads(out)  # still a usable config: the order is in comments
    lines = out.splitlines()
    summary = "#   on_validation_end: callbacks.py:Swap, callbacks.py:Late, logging, checkpoint"
    at = lines.index(summary)
    assert lines[at + 1].startswith("#     1. callbacks.py:Swap: enabled 2nd; ")
    assert lines[at + 4].startswith("#     4. checkpoint: trylast; enabled 4th")
    # a hook in plain enabled order gets no reasons
    assert lines[lines.index("#   on_train_batch_start: logging") + 1].startswith("#   ")
    assert "#     1. callbacks.py:Swap: enabled 1st; every 5 steps, on ranks [0]" in lines
    ignored = lines[
        lines.index("# Order constraints ignored (they name a plugin that is not enabled):") :
    ]
    assert (
        "#   callbacks.py:Late: after 'not_installed_thing' (its run_after), not enabled" in ignored
    )
    # the checkpoint plugin's own constraints, on plugins this run does not enable
    assert "#   checkpoint: after 'ema' (@hookimpl(after=...)), not enabled" in ignored
