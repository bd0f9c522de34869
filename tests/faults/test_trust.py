"""Trust boundaries: a checkpoint file and the folders around it are data, never instructions.

A crafted checkpoint cannot make the checkpoint plugin delete files outside its folder (or
files it did not write), two instances of the plugin never delete each other's files, and a
config or marker found near a checkpoint is not run or rewritten.
"""

from __future__ import annotations

import shutil
import socket
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from faultkit import CLI_CONFIG, HERE, ChildRun, fit, make_trainer
from hookwise import Callback, CheckpointError, PluginManager
from hookwise.checkpointing import atomic_save
from hookwise.cli import main
from hookwise.errors import ConfigError, ManifestChangedWarning
from hookwise.runs import RUN_FILE, run_dirs, write_run_info

#: CLI_CONFIG with a test loader (for ``hookwise test``).
TEST_CONFIG = CLI_CONFIG.replace(
    'val = { target = "faultkit:tiny_loader", n = 8, seed = 1 }',
    'val = { target = "faultkit:tiny_loader", n = 8, seed = 1 }\n'
    'test = { target = "faultkit:tiny_loader", n = 8, seed = 2 }',
)
#: A config that runs a shell command when its model is built.
PAYLOAD_CONFIG = '[model]\ntarget = "os:system"\ncommand = "touch pwned"\n'


@pytest.fixture
def clean_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Run ``hookwise`` in-process in ``tmp_path`` with no ``HOOKWISE_*`` from outside and
    the default plugins off."""
    for key in ("HOOKWISE_PLUGINS", "HOOKWISE_ALLOWED_PLUGINS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOOKWISE_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _checkpoint_run(folder: Path, epochs: int = 1, **params: Any) -> tuple[Path, Any]:
    pm = PluginManager()
    pm.enable("checkpoint", **params)
    trainer = make_trainer(folder, plugins=pm, epochs=epochs)
    fit(trainer)
    return folder / "checkpoints" / "last.ckpt", pm.get_plugin("checkpoint")


def _rewrite_plugin_state(path: Path, **changes: Any) -> None:
    data = torch.load(path, weights_only=True)
    data["plugins"]["checkpoint"].update(changes)
    atomic_save(data, path)


# -- the checkpoint plugin's saved file names ----------------------------------------------------


@pytest.mark.fault("trust.ckpt-state-paths")
@pytest.mark.parametrize(
    "where, name",
    [
        ("kept", "{victim}"),  # an absolute path
        ("kept", "../../victim.txt"),
        ("kept", "..\\..\\victim.txt"),
        ("kept", "sub/epoch=0-step=3.ckpt"),
        ("kept", ".."),
        ("kept", "config.toml"),  # a bare name, but not one the plugin writes
        ("best", "{victim}"),
    ],
)
def test_a_crafted_checkpoint_cannot_name_files_outside_its_folder(
    tmp_path: Path, where: str, name: str
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    last, _ = _checkpoint_run(tmp_path / "run", keep_last=1)
    crafted = name.format(victim=victim)
    if where == "kept":
        _rewrite_plugin_state(last, kept=[crafted, "epoch=0-step=3.ckpt"])
    else:
        entry = {"score": 0.1, "file": crafted, "epoch": 0, "step": 3}
        _rewrite_plugin_state(last, best=[entry], monitor=None, mode="min")
    before = _tree(tmp_path / "run")

    pm = PluginManager()
    pm.enable("checkpoint", keep_last=1, save_top_k=0)
    trainer = make_trainer(tmp_path / "run", plugins=pm, epochs=3)
    with pytest.raises(CheckpointError) as info:
        fit(trainer, resume_from=last)
    message = str(info.value)
    assert repr(crafted)[:60] in message or crafted[:60] in message, message
    assert "not a file name the checkpoint plugin writes" in message
    assert "nothing was deleted" in message
    assert victim.read_text(encoding="utf-8") == "precious"
    after = _tree(tmp_path / "run")
    assert {k: v for k, v in after.items() if k in before} == before  # nothing deleted


@pytest.mark.fault("trust.ckpt-delete-own")
def test_resumed_retention_deletes_only_files_written_for_this_folder(tmp_path: Path) -> None:
    last, _ = _checkpoint_run(tmp_path / "a", epochs=1, keep_last=1)
    # The same checkpoint resumed into another folder that holds a file of the same name,
    # written by someone else: the plugin did not write it there, so it stays.
    other = tmp_path / "b" / "checkpoints"
    other.mkdir(parents=True)
    (other / "epoch=0-step=3.ckpt").write_text("not this run's", encoding="utf-8")
    copied = shutil.copy(last, tmp_path / "copied.ckpt")
    pm = PluginManager()
    pm.enable("checkpoint", keep_last=1)
    fit(make_trainer(tmp_path / "b", plugins=pm, epochs=3), resume_from=copied)
    assert (other / "epoch=0-step=3.ckpt").read_text(encoding="utf-8") == "not this run's"
    assert (other / "epoch=2-step=9.ckpt").is_file()
    assert not (other / "epoch=1-step=6.ckpt").exists()  # written by this run: retention works

    # Resumed in its own folder, retention goes on deleting the files that run wrote.
    pm = PluginManager()
    pm.enable("checkpoint", keep_last=1)
    fit(make_trainer(tmp_path / "a", plugins=pm, epochs=3), resume_from=last)
    assert sorted(p.name for p in (tmp_path / "a" / "checkpoints").glob("epoch=*")) == [
        "epoch=2-step=9.ckpt"
    ]


@pytest.mark.fault("trust.plugin-instances")
def test_two_checkpoint_instances_never_delete_each_others_files(tmp_path: Path) -> None:
    pm = PluginManager()
    pm.enable("checkpoint", keep_last=3)
    pm.enable("checkpoint@b", keep_last=1)
    fit(make_trainer(tmp_path / "run", plugins=pm, epochs=3))
    default, second = pm.get_plugin("checkpoint"), pm.get_plugin("checkpoint@b")
    assert default.output_dir == tmp_path / "run" / "checkpoints"
    assert second.output_dir == tmp_path / "run" / "checkpoints@b"
    assert [p.name for p in default.kept_checkpoints] == [
        "epoch=0-step=3.ckpt",
        "epoch=1-step=6.ckpt",
        "epoch=2-step=9.ckpt",
    ]
    assert all(p.is_file() for p in default.kept_checkpoints)
    assert [p.name for p in second.output_dir.glob("epoch=*")] == ["epoch=2-step=9.ckpt"]

    # Two instances told to share one folder are refused before anything is written.
    pm = PluginManager()
    pm.enable("checkpoint", save_prefix=str(tmp_path / "shared"))
    pm.enable("checkpoint@b", save_prefix=str(tmp_path / "shared"), keep_last=1)
    with pytest.raises(ConfigError, match="would both keep and delete checkpoints in"):
        fit(make_trainer(tmp_path / "run2", plugins=pm, epochs=1))
    assert not (tmp_path / "shared").exists()


# -- what is found near a checkpoint -------------------------------------------------------------


@pytest.fixture
def planted_run(clean_cli: Path) -> Path:
    """``shared/run``: a real checkpoint in a folder that looks like a run (run.json marker
    included) whose config.toml runs a shell command."""
    run = clean_cli / "shared" / "run"
    _checkpoint_run(run, epochs=1)
    (run / "config.toml").write_text(PAYLOAD_CONFIG, encoding="utf-8")
    write_run_info(run, command="fit", status="finished", argv=[])
    return run / "checkpoints" / "last.ckpt"


@pytest.mark.fault("trust.config-near-weights")
def test_hookwise_test_runs_no_config_found_beside_the_weights(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_cli: Path,
    planted_run: Path,
) -> None:
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "checkpoint,faultkit,torch")
    config = clean_cli / "mine.toml"
    config.write_text(TEST_CONFIG, encoding="utf-8")
    before = _tree(planted_run.parents[1])
    code, err = _cli(capsys, "test", config, "--weights", planted_run)
    assert code == 0, err
    code, err = _cli(capsys, "test", "--weights", planted_run)
    assert code == 2, err  # the default job's model: these weights do not fit it
    assert f"hookwise test {planted_run.parents[1] / 'config.toml'} --weights" in err
    assert not (clean_cli / "pwned").exists()
    assert _tree(planted_run.parents[1]) == before  # nothing read from there was rewritten


@pytest.mark.fault("trust.resume-outside-run")
def test_resume_from_a_folder_that_is_no_run_writes_only_to_the_output_dir(
    capsys: pytest.CaptureFixture[str], clean_cli: Path
) -> None:
    last, _ = _checkpoint_run(clean_cli / "source", epochs=1)
    project = clean_cli / "proj"
    (project / "weights").mkdir(parents=True)
    shutil.copy(last, project / "weights" / "last.ckpt")
    (project / "config.toml").write_text("# my project, hand-written\n" + PAYLOAD_CONFIG)
    (project / RUN_FILE).write_text('{"command": "fit", "status": "finished"}\n')
    before = _tree(project)
    config = clean_cli / "mine.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    code, err = _cli(
        capsys, "fit", config, "-p", "checkpoint", "--resume", project / "weights" / "last.ckpt",
        "--output-dir", clean_cli / "out",
    )  # fmt: skip
    assert code == 0, err
    assert _tree(project) == before  # not written to, not rewritten
    assert not (clean_cli / "pwned").exists()
    (run,) = run_dirs(clean_cli / "out")
    assert (run / RUN_FILE).is_file() and (run / "checkpoints" / "last.ckpt").is_file()


# -- the allow-list covers every import; a dry run builds nothing --------------------------------

#: Job tables where a target may hide, each replaced in CLI_CONFIG by one running a command.
HIDDEN_TARGETS = {
    "model": ('target = "faultkit:TinyModel"', 'target = "os:system"\ncommand = "touch pwned"'),
    "data": ("n = 12, shuffle = true", 'n = 12, shuffle = true, x = { target = "os:system" }'),
    "optimizer": ("lr = 0.1", 'lr = 0.1\nx = { target = "os:system", command = "touch pwned" }'),
    "scheduler": ("[trainer]", '[scheduler]\ntarget = "os:system"\ncommand = "touch pwned"\n\n'
                  "[trainer]"),
    "loss": ('target = "torch.nn:CrossEntropyLoss"', 'target = "os:system"'),
}  # fmt: skip


@pytest.mark.fault("trust.allow-list-job")
@pytest.mark.parametrize("table", sorted(HIDDEN_TARGETS))
@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
def test_the_allow_list_covers_every_target_of_the_job(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    clean_cli: Path,
    table: str,
    dry: bool,
) -> None:
    allowed = "checkpoint,faultkit,torch.optim:SGD,torch.nn"
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", allowed)
    config = clean_cli / "job.toml"
    old, new = HIDDEN_TARGETS[table]
    config.write_text(CLI_CONFIG.replace(old, new, 1), encoding="utf-8")
    code, err = _cli(capsys, "fit", config, *(["--dry-run"] if dry else []))
    assert code == 2, err
    assert "import path 'os:system' is not in the allow-list" in err, err
    assert f"[{table}]" in err and "add 'os:system' (or its module 'os')" in err
    assert not (clean_cli / "pwned").exists()
    assert not (clean_cli / "hookwise-runs").exists()  # refused before a run folder


@pytest.mark.fault("trust.allow-list-job")
def test_allowed_job_targets_and_the_default_job_pass_exactly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clean_cli: Path
) -> None:
    config = clean_cli / "job.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    # Module prefixes match at a dot; nothing is folded like a distribution name.
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "faultkit,torch.optim,torch.nn")
    code, err = _cli(capsys, "fit", config, "--dry-run")
    assert code == 0, err
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "fault_kit,torch.optim,torch.nn")
    code, err = _cli(capsys, "fit", config, "--dry-run")
    assert code == 2 and "'faultkit:TinyModel' is not in the allow-list" in err, err
    # The embedded default job's own targets are allowed implicitly.
    monkeypatch.setenv("HOOKWISE_ALLOWED_PLUGINS", "checkpoint")
    code, err = _cli(capsys, "fit", "--dry-run")
    assert code == 0, err


@pytest.mark.fault("trust.dry-run-builds-nothing")
def test_a_dry_run_builds_no_target_and_unknown_parameters_come_first(
    capsys: pytest.CaptureFixture[str], clean_cli: Path
) -> None:
    payload = '{target="os:system",command="touch pwned"}'
    code = main(["fit", "--dry-run", "-p", f"evaluator:evaluator={payload}"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "#   on_test_epoch_end: evaluator" in out  # the call order is still shown
    assert not (clean_cli / "pwned").exists()
    code = main(["plugins", "order", "-p", f"evaluator:evaluator={payload}"])
    out, err = capsys.readouterr()
    assert code == 0 and "evaluator" in out, err  # listing the order builds nothing either
    assert not (clean_cli / "pwned").exists()
    code, err = _cli(capsys, "fit", "--dry-run", "-p", f"checkpoint:evaluator={payload}")
    assert code == 2 and "has no parameter(s) ['evaluator']" in err, err
    assert not (clean_cli / "pwned").exists()


# -- a run in use is locked ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.fault("trust.run-in-use")
def test_a_running_run_is_locked_and_a_killed_one_is_not(
    capsys: pytest.CaptureFixture[str], clean_cli: Path
) -> None:
    config = clean_cli / "tiny.toml"
    config.write_text(CLI_CONFIG, encoding="utf-8")
    out = clean_cli / "runs"
    pause = "faultkit:Pause:step=4,sync_in={sync_in},sync_out={sync_out}"
    command = [sys.executable, "-m", "hookwise", "fit", str(config), "-p", "checkpoint", "-p",
               pause, "--output-dir", str(out)]  # fmt: skip
    env = {"PYTHONPATH": str(HERE), "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD": "1", "OMP_NUM_THREADS": "1"}
    with ChildRun(clean_cli / "work", {}, env, command, False) as child:
        assert child.wait_paused() == 4  # inside the second epoch; epoch 0's checkpoint exists
        assert child.process is not None
        holder = f"is in use by process {child.process.pid} on host {socket.gethostname()}"
        (run,) = run_dirs(out)
        code, err = _cli(capsys, "fit", config, "--resume", "last", "--output-dir", out)
        assert code == 2, err
        assert f"the newest run, {str(run)!r}, {holder} (hookwise fit" in err, err
        code, err = _cli(capsys, "fit", config, "--resume", run / "checkpoints" / "last.ckpt")
        assert code == 2, err
        assert f"the run folder {str(run)!r} {holder}" in err, err
        assert "Traceback" not in err
        child.kill()  # a crash: no cleanup runs, the lock must not stay
        child.finish()
    with warnings.catch_warnings():  # the CLI prints it: Pause is not enabled again
        warnings.simplefilter("always", ManifestChangedWarning)
        code, err = _cli(
            capsys, "fit", config, "-p", "checkpoint", "--resume", "last", "--output-dir", out
        )
    assert code == 0, err
    assert "warning: resuming from" in err and "plugin 'faultkit:Pause' removed" in err, err
    assert f"--resume last: {run / 'checkpoints' / 'last.ckpt'} (step 3, epoch 0)" in err, err
    assert run_dirs(out) == [run]


# -- plugin state is checked when it is saved --------------------------------------------------


class Stateful(Callback):
    """Keeps ``state`` as its state; records what ``load_state_dict`` received."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__()
        self.state, self.loaded = state, None

    def on_train_epoch_start(self, trainer_state: Any, model: Any, loss_module: Any) -> None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state_dict: Any) -> None:
        self.loaded = state_dict


@pytest.mark.fault("ckpt.plugin-state-types")
def test_plugin_state_is_converted_or_refused_when_saved(tmp_path: Path) -> None:
    import numpy as np

    state = {
        "lr": np.float64(0.5),
        "seen": np.int64(3),
        "flag": np.bool_(True),
        "history": np.array([1.0, 2.0]),
        "out": Path("a") / "b",
        "nested": [{"x": np.float32(2.0)}],
    }
    pm = PluginManager()
    pm.enable("checkpoint")
    fit(make_trainer(tmp_path / "run", plugins=pm, callbacks=[Stateful(state)], epochs=1))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    resumed = Stateful({})
    pm = PluginManager()
    pm.enable("checkpoint")
    fit(make_trainer(tmp_path / "run", plugins=pm, callbacks=[resumed], epochs=2), resume_from=last)
    loaded = resumed.loaded
    assert loaded is not None
    assert loaded["lr"] == 0.5 and type(loaded["lr"]) is float
    assert loaded["seen"] == 3 and type(loaded["seen"]) is int
    assert loaded["flag"] is True
    assert torch.equal(loaded["history"], torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert loaded["out"] == str(Path("a") / "b")
    assert loaded["nested"] == [{"x": 2.0}]

    # A value that cannot be saved so that it loads: refused at save time, nothing written.
    import datetime

    pm = PluginManager()
    pm.enable("checkpoint")
    when = {"started": datetime.datetime(2024, 5, 1, 12, 30)}
    trainer = make_trainer(tmp_path / "bad", plugins=pm, callbacks=[Stateful(when)], epochs=1)
    with pytest.raises(CheckpointError) as info:
        fit(trainer)
    message = str(info.value)
    assert "plugin 'Stateful': its state_dict() holds datetime.datetime(2024, 5, 1" in message
    assert "at state['started'], a datetime.datetime" in message and ".isoformat()" in message
    assert not list((tmp_path / "bad").rglob("*.ckpt"))


@pytest.mark.fault("ckpt.plugin-state-types")
def test_a_checkpoint_holding_a_numpy_value_says_what_is_wrong(tmp_path: Path) -> None:
    import numpy as np
    from hookwise.checkpointing import FORMAT, FORMAT_VERSION, load_checkpoint

    path = tmp_path / "old.ckpt"
    torch.save(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "epoch": 0,
            "global_step": 1,
            "model": {},
            "plugins": {"mine": {"lr": np.float64(0.5)}},
        },
        path,
    )
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "holds a pickled Python object (numpy" in message, message
    assert "not written by hookwise" not in message
    assert "a plugin's state held that object" in message


# -- an emergency checkpoint one rank wrote alone is not taken by 'last' --------------------------


@pytest.mark.fault("ckpt.emergency-one-rank")
def test_last_passes_over_an_emergency_checkpoint_of_one_rank(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hookwise.last import resume_checkpoint

    run = tmp_path / "runs" / "2024-01-01_00-00-00"
    last, plugin = _checkpoint_run(run, epochs=1)

    class FakeTrainer:  # what on_exception asks of the trainer in rank 0 of two processes
        world_size, rank = 2, 0

        def save_checkpoint(self, path: Path) -> Path:
            data = torch.load(last, weights_only=True)
            data["plugins"]["checkpoint"] = plugin.state_dict()
            data["global_step"], data["epoch"], data["epoch_complete"] = 5, 1, False
            return atomic_save(data, path)

    plugin._in_fit = True  # the failure reaches the plugin inside fit
    state = {"trainer": FakeTrainer(), "current_epoch": 1, "global_step": 5}
    plugin.on_exception(state, None, RuntimeError("rank 1 died"), True)
    emergency = run / "checkpoints" / "emergency.ckpt"
    saved = torch.load(emergency, weights_only=True)["plugins"]["checkpoint"]
    assert saved["emergency"] == {"world_size": 2, "rank": 0}
    assert "emergency" not in plugin.state_dict()  # only in that file

    with caplog.at_level("WARNING", logger="hookwise"):
        found = resume_checkpoint(tmp_path / "runs")
    assert found.path == last and found.global_step == 3
    assert f"'last' passed over {emergency} (step 5, epoch 1)" in caplog.text
    assert "rank 0 wrote alone when a run of 2 processes failed" in caplog.text


@pytest.mark.fault("ckpt.last-newest-run")
def test_resume_last_takes_the_newest_run_by_recorded_step(tmp_path: Path) -> None:
    from hookwise.last import resume_checkpoint

    runs = tmp_path / "runs"
    _checkpoint_run(runs / "2024-01-01_00-00-00", epochs=2)  # an older, finished run
    newest = runs / "2024-01-02_00-00-00"
    newest.mkdir()
    write_run_info(newest, command="fit", status="running", argv=[])
    with pytest.raises(CheckpointError) as info:
        resume_checkpoint(runs)  # never an older run's checkpoint
    assert f"the newest run, {str(newest)!r}, holds no complete checkpoint" in str(info.value)

    _checkpoint_run(newest, epochs=2)
    old = newest / "checkpoints" / "epoch=0-step=3.ckpt"
    old.touch()  # the newest file by time, the oldest by step
    tested = runs / "2024-01-03_00-00-00"  # a later `hookwise test` run trains nothing
    tested.mkdir()
    write_run_info(tested, command="test", status="finished", argv=[])
    found = resume_checkpoint(runs)
    assert found.path == newest / "checkpoints" / "last.ckpt"
    assert (found.global_step, found.epoch) == (6, 1)
    assert found.describe() == f"{found.path} (step 6, epoch 1)"
