"""The registry of fault scenarios: what can go wrong, and what hookwise promises when it does.

Every test of the suite is marked ``@pytest.mark.fault("<scenario id>")``. ``test_coverage.py``
fails when a scenario has no test, when a test names an unknown scenario, or when
``docs/faults.md`` and this registry disagree; the end of a pytest run prints how many scenarios
the run covered.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One fault and hookwise's promise for it."""

    id: str
    area: str
    fault: str
    promise: str


AREAS: dict[str, str] = {
    "policy": "A plugin raises (per-plugin error policy)",
    "signal": "Signals during fit",
    "ckpt": "Checkpoint files",
    "load": "Plugin loading",
    "input": "Bad input",
    "prop": "Property-based tests",
    "trust": "Trust boundaries (checkpoint files and what is found near them)",
    "resume": "Exact after resume (every file the run writes)",
}

SCENARIOS: tuple[Scenario, ...] = (
    # -- error policy ------------------------------------------------------------------------
    Scenario(
        "policy.raise",
        "policy",
        "A plugin enabled with on_error='raise' (the default) raises in a hook.",
        "The run ends with the plugin's own exception, carrying a note that names the plugin, "
        "the hook and the step; on_exception(fatal=True) ran first, so an emergency checkpoint "
        "written there holds the state at the failure.",
    ),
    Scenario(
        "policy.raise-emergency-checkpoint",
        "policy",
        "The same, with the bundled checkpoint plugin enabled.",
        "The checkpoint plugin writes its emergency checkpoint in on_exception(fatal=True); it "
        "loads and resumes.",
    ),
    Scenario(
        "policy.warn",
        "policy",
        "A plugin enabled with on_error='warn' raises in a hook, again and again.",
        "The first failure is logged once with plugin, hook, step and traceback; later ones are "
        "counted (PluginManager.failures, and a summary when fit ends); the other plugins of "
        "the same hook call still run; training finishes; on_exception runs with fatal=False "
        "and no emergency checkpoint is written.",
    ),
    Scenario(
        "policy.disable",
        "policy",
        "A plugin enabled with on_error='disable' raises in a hook.",
        "It is logged once and unregistered: none of its hooks run again, the other plugins "
        "and training go on; on_exception runs once with fatal=False.",
    ),
    Scenario(
        "policy.invalid",
        "policy",
        "on_error is given a value that is not a policy.",
        "ConfigError naming the plugin and the three policies, before anything runs.",
    ),
    Scenario(
        "policy.loop-failure",
        "policy",
        "The model or the loss raises inside the training loop.",
        "on_exception(fatal=True) runs, then the exception propagates with a note giving the "
        "epoch and step.",
    ),
    Scenario(
        "policy.on-exception-fails",
        "policy",
        "A plugin raises inside on_exception while a failure is being handled.",
        "Its error is logged; the original exception is the one the run ends with, and the "
        "other on_exception implementations still run.",
    ),
    Scenario(
        "policy.system-exit",
        "policy",
        "A plugin calls sys.exit(0) (raises SystemExit) in the middle of `hookwise fit`, under "
        "on_error='raise' or 'warn'.",
        "Never a silent success: on_exception(fatal=True) runs (emergency checkpoint), run.json "
        "says failed, and the command exits with an error naming where SystemExit was raised "
        "and how a plugin stops a run (request_stop).",
    ),
    Scenario(
        "policy.read-only-disk",
        "policy",
        "The file system turns read-only during `hookwise fit`: a plugin's write fails, and so "
        "does the final write of run.json.",
        "The error the command reports is the run's own (the plugin's failed write); the "
        "failed run.json write is a warning after it, not the error shown.",
    ),
    Scenario(
        "policy.cli",
        "policy",
        "`hookwise fit -p NAME:on_error=warn` with a failing plugin.",
        "The command line passes the policy on: the run finishes and reports the failure once.",
    ),
    # -- signals -----------------------------------------------------------------------------
    Scenario(
        "signal.sigterm",
        "signal",
        "SIGTERM arrives in the middle of a training step.",
        "The step finishes; no further batch or epoch starts; the epoch is left open (no "
        "on_train_epoch_end, no scheduler step, no validation); "
        "{output_dir}/checkpoints/interrupted.ckpt is written; on_fit_end runs; fit raises "
        "TrainingInterrupted and a program that maps it like the command line exits with 143.",
    ),
    Scenario(
        "signal.sigint",
        "signal",
        "Ctrl-C (SIGINT) arrives in the middle of a training step.",
        "As for SIGTERM; exit status 130.",
    ),
    Scenario(
        "signal.resume-exact",
        "signal",
        "A run interrupted by a signal is resumed from interrupted.ckpt (resume_from='last').",
        "It continues at the next batch of the open epoch and ends with exactly the weights of "
        "a run that was never interrupted.",
    ),
    Scenario(
        "signal.second-sigint",
        "signal",
        "A second Ctrl-C arrives while the first is being handled.",
        "The process exits at once (KeyboardInterrupt, exit by SIGINT): no further hook runs and "
        "no checkpoint of a half-done step is written.",
    ),
    Scenario(
        "signal.inherited-ignore",
        "signal",
        "The process was started with SIGINT and SIGTERM ignored (nohup, a background job, a "
        "launcher).",
        "fit installs its own handlers explicitly, so both signals still end the run cleanly; "
        "the inherited dispositions are back once fit returns.",
    ),
    Scenario(
        "signal.process-group",
        "signal",
        "Ctrl-C reaches the whole process group, DataLoader worker processes included (which "
        "inherit the trainer's handler when they fork).",
        "Only the trainer's own process acts on it (one message); the workers ignore it and "
        "are shut down by the trainer; the run ends cleanly.",
    ),
    Scenario(
        "signal.handlers-restored",
        "signal",
        "fit ends (normally or with an error), runs with handle_signals=False, or runs outside "
        "the main thread.",
        "The previous handlers are restored after fit; none are installed when switched off "
        "or outside the main thread (where Python cannot install them).",
    ),
    Scenario(
        "signal.sigterm-async-write",
        "signal",
        "SIGTERM arrives while a checkpoint is written in the background (async_save=True).",
        "The write finishes (fit waits for it before the interrupt checkpoint and before it "
        "returns); every *.ckpt, last.ckpt included, loads; the process exits with 143.",
    ),
    Scenario(
        "resume.pending-rows",
        "resume",
        "A signal lands in an epoch's last batch: the interrupt checkpoint is written before "
        "the epoch's validation, which the resumed fit runs.",
        "The step's row and the validation row are one line of the metrics file, as in the "
        "uninterrupted run: a checkpoint keeps the logging plugin's pending rows in its state "
        "instead of writing them.",
    ),
    Scenario(
        "signal.after-final-test",
        "signal",
        "SIGTERM or SIGINT reaches `hookwise fit` after training and the final test, while it "
        "writes run.json and prints its summary.",
        "run.json is written whole with the run's status ('finished'), the summary is "
        "printed, then the command exits with 128 + the signal number (before, SIGTERM ended "
        "the process at once, leaving run.json at 'running').",
    ),
    Scenario(
        "signal.final-test",
        "signal",
        "SIGTERM or SIGINT reaches `hookwise fit` during the final test, after training.",
        "The command ends the test, records the run as interrupted in run.json and exits "
        "with 128 + the signal number (before, SIGTERM ended the process at once, leaving "
        "run.json at 'running').",
    ),
    Scenario(
        "signal.cli",
        "signal",
        "SIGTERM or SIGINT reaches `hookwise fit`.",
        "The command exits with 128 + the signal number after the clean stop.",
    ),
    # -- checkpoint files --------------------------------------------------------------------
    Scenario(
        "ckpt.truncated",
        "ckpt",
        "A checkpoint file is cut short (an empty file, the first bytes, half of it).",
        "CheckpointError naming the file and saying it is truncated or corrupt.",
    ),
    Scenario(
        "ckpt.corrupt",
        "ckpt",
        "A checkpoint file's structure is damaged (random bytes, an overwritten archive "
        "directory, a damaged pickle record).",
        "CheckpointError naming the file and saying it is truncated or corrupt (or not a "
        "hookwise checkpoint).",
    ),
    Scenario(
        "ckpt.foreign",
        "ckpt",
        "The file was written by another program: a plain torch.save of a state_dict, a "
        "whole pickled nn.Module, a raw pickle, a text file.",
        "CheckpointError naming the file and saying it is not a hookwise checkpoint, or that a "
        "safe load refuses its objects.",
    ),
    Scenario(
        "ckpt.malicious",
        "ckpt",
        "The file is a pickle that runs code when unpickled (raw pickle and torch zip format).",
        "Loading it (load_checkpoint, resume_from) is refused with CheckpointError and the code "
        "never runs: the test's payload, which an unsafe load does run, creates nothing.",
    ),
    Scenario(
        "ckpt.format-version",
        "ckpt",
        "A hookwise checkpoint of another (or no) format version.",
        "CheckpointError naming the file, its version and the version this hookwise reads.",
    ),
    Scenario(
        "ckpt.missing-entries",
        "ckpt",
        "A hookwise checkpoint of the right version lacks entries (model, position, ...) or "
        "holds the wrong type there.",
        "CheckpointError naming the file and the entries that are missing or wrong.",
    ),
    Scenario(
        "ckpt.wrong-model",
        "ckpt",
        "A valid checkpoint of another model or optimizer setup is resumed.",
        "CheckpointError naming the file and what does not fit.",
    ),
    Scenario(
        "ckpt.sigkill-mid-write",
        "ckpt",
        "The process is killed with SIGKILL while it writes a checkpoint over an older one.",
        "The older checkpoint is intact and loadable, no partial *.ckpt exists, resume_from="
        "'last' picks the older one, and the resumed run ends with the weights of an "
        "uninterrupted run.",
    ),
    Scenario(
        "ckpt.sigkill-checkpoint-plugin",
        "ckpt",
        "The same, with the bundled checkpoint plugin doing the writing.",
        "The same promise: last.ckpt (or the newest complete file) survives and resumes.",
    ),
    Scenario(
        "ckpt.plugin-state-types",
        "ckpt",
        "A plugin's state_dict() holds numpy scalars and arrays, a pathlib.Path, or a datetime; "
        "or an older checkpoint holds a numpy value in a plugin's state.",
        "Numpy scalars and arrays and paths are converted when the checkpoint is saved (to "
        "Python numbers, tensors, strings), so the run resumes; a value a safe load cannot read "
        "(a datetime) is a CheckpointError at save time naming the plugin, the value, where it "
        "sits in the state and the fix, and no checkpoint is written. Loading a file that holds "
        "such a value says which object a safe load refuses, not that hookwise did not write "
        "it.",
    ),
    Scenario(
        "ckpt.symlink-loop",
        "ckpt",
        "The checkpoint given is a symbolic link that loops, or one whose target is missing.",
        "CheckpointError saying that it is a looping link (or naming the missing target), not "
        "that the file does not exist.",
    ),
    Scenario(
        "ckpt.emergency-one-rank",
        "ckpt",
        "A distributed run fails and rank 0 alone writes emergency.ckpt (a later step than the "
        "last clean checkpoint); then --resume last.",
        "The emergency file records that one rank of a run of N processes wrote it; 'last' "
        "passes over it with a warning naming it and why, and takes the newest clean "
        "checkpoint (the file can still be resumed by its path).",
    ),
    Scenario(
        "ckpt.last-newest-run",
        "ckpt",
        "--resume last where the newest run has no checkpoint yet (an older finished run has), "
        "or where an older checkpoint of the newest run was touched (the newest by file time), "
        "or where a later `hookwise test` run exists.",
        "Only the newest training run is considered: without a checkpoint it is an error "
        "naming that run (never an older run's file); within it, the newest complete "
        "checkpoint by the step recorded inside, not by file time; the command says which "
        "file it took, with its step and epoch.",
    ),
    Scenario(
        "ckpt.async-write-fails",
        "ckpt",
        "A checkpoint written in the background (the checkpoint plugin's async_save=True) fails "
        "on disk (no space left, an I/O error) while training goes on.",
        "The run ends through the normal error path (on_exception(fatal=True), the emergency "
        "checkpoint) at the trainer's next step, or at fit end, with a CheckpointError naming "
        "the file and the disk error (also when the plugin's next save is the first to see "
        "it); the earlier checkpoints, last.ckpt included, are unchanged, nothing of the "
        "failed one (links, deletes, temporary files) is left, and the emergency checkpoint's "
        "plugin state no longer lists the failed file.",
    ),
    Scenario(
        "ckpt.no-last",
        "ckpt",
        "resume_from='last' where the output folder has no checkpoint.",
        "CheckpointError naming the folder and how to get a checkpoint.",
    ),
    # -- plugin loading ----------------------------------------------------------------------
    Scenario(
        "load.lazy",
        "load",
        "Plugins are installed (pip) that are not enabled.",
        "Their code is never imported: listing, building a PluginManager and a whole fit with "
        "other plugins leave them unimported. Enabling imports exactly the one enabled.",
    ),
    Scenario(
        "load.broken-not-enabled",
        "load",
        "Installed plugins are broken: one fails to import, one raises in its constructor, one "
        "declares a hookimpl for a hook that does not exist.",
        "While not enabled they break nothing: discovery lists them and a fit with other "
        "plugins runs.",
    ),
    Scenario(
        "load.broken-enabled",
        "load",
        "Those broken plugins are enabled.",
        "A clear error each (PluginLoadError, ConfigError or PluginValidationError) naming the "
        "plugin, its distribution and the cause; nothing of it stays registered.",
    ),
    Scenario(
        "load.allow-list",
        "load",
        "HOOKWISE_ALLOWED_PLUGINS (or PluginManager(allowed=...)) is set and a plugin outside "
        "it, or an import path, is enabled.",
        "PluginBlockedError naming the plugin and the allow-list; the plugin's code is never "
        "imported. Plugins in the list load normally.",
    ),
    Scenario(
        "load.allow-list-config",
        "load",
        "A config file's allowed_plugins key restricts the plugins.",
        "Plugins outside it are refused as with the environment variable.",
    ),
    Scenario(
        "load.disable-autoload",
        "load",
        "HOOKWISE_DISABLE_PLUGIN_AUTOLOAD=1 with `hookwise fit` and no config.",
        "The default plugins are not loaded; only plugins named explicitly are.",
    ),
    Scenario(
        "load.block",
        "load",
        "A plugin is blocked (PluginManager.block, `-p no:NAME`).",
        "Enabling it, or an instance of it, raises PluginBlockedError; its code is not imported.",
    ),
    # -- bad input ---------------------------------------------------------------------------
    Scenario(
        "input.connector-missing-key",
        "input",
        "A plugin's connector names a key the batch or the model output lacks.",
        "The first batch fails with ValueError naming the key, where it was looked for, the "
        "keys there are, and (in a note) the plugin, the hook and the step.",
    ),
    Scenario(
        "input.connector-bad-spec",
        "input",
        "A connector is configured with something that is not a key description.",
        "TypeError or ValueError naming the entry when the plugin is built (before training).",
    ),
    Scenario(
        "input.unknown-param",
        "input",
        "A plugin is enabled with a parameter it does not have.",
        "ConfigError naming the plugin, the unknown parameter and the accepted ones.",
    ),
    Scenario(
        "input.param-wrong-type",
        "input",
        "A plugin parameter has the wrong type or value (its constructor rejects it).",
        "ConfigError naming the plugin, the parameters and the constructor's complaint.",
    ),
    Scenario(
        "input.trainer-wrong-type",
        "input",
        "Trainer settings of the wrong type (num_epochs='3', a negative interval, ...).",
        "ConfigError naming the setting, the value and what is expected, when the Trainer is "
        "built.",
    ),
    Scenario(
        "input.config-wrong-type",
        "input",
        "A config file value of the wrong type.",
        "An error naming the file, the key and the expected type.",
    ),
    Scenario(
        "input.hook-return",
        "input",
        "A hook returns something that is not a mapping of names to numbers (a list, a string "
        "value, a non-string key, a tensor of several elements, a bool).",
        "Under on_error='raise': TypeError naming the plugin, the hook and the key. Under 'warn' "
        "or 'disable': the policy applies, the bad result is dropped, training goes on.",
    ),
    Scenario(
        "input.huge-log-value",
        "input",
        "A plugin logs an integer too large for a float (10**400), returned from a hook or "
        "through trainer.log.",
        "ValueError naming the plugin, the hook, the key and the fix; the plugin's error policy "
        "applies to that plugin (not to the log writer that would have read it), and under "
        "'warn' the value is dropped and training goes on.",
    ),
    Scenario(
        "input.block-twice",
        "input",
        "`-p no:no:logging` (no: given twice).",
        "ConfigError naming the spec and the spelling meant (no:logging), instead of blocking a "
        "plugin called 'no:logging' and loading logging.",
    ),
    Scenario(
        "input.config-values",
        "input",
        "A config with lr = nan in [optimizer] (any NaN in the job's tables), or epochs = -5.",
        "ConfigError naming the key and what is allowed, with and without --dry-run, before a "
        "run folder exists (no run.json left at 'running').",
    ),
    Scenario(
        "input.toml-encoding-depth",
        "input",
        "A config saved with a UTF-8 byte-order mark; a config nested thousands of levels deep.",
        "The byte-order mark is skipped and the config is read; deep nesting is an error naming "
        "the file and what is wrong, not a bare RecursionError.",
    ),
    # -- property-based ----------------------------------------------------------------------
    Scenario(
        "prop.connectors",
        "prop",
        "Connectors get arbitrary nested input (dicts, namedtuples, objects, lists, any keys).",
        "They return exactly the values the keys name, or raise ValueError/TypeError with a "
        "message; never another exception.",
    ),
    Scenario(
        "prop.data-connector",
        "prop",
        "DataConnector gets arbitrary batches (dicts, lists of dicts, other objects).",
        "It returns exactly the named values, or raises ValueError naming the key.",
    ),
    # -- trust boundaries --------------------------------------------------------------------
    Scenario(
        "trust.frozen-rank",
        "trust",
        "One rank of a two-process torchrun job stops (kill -STOP) or hangs in C code "
        "mid-step; then SIGTERM or Ctrl-C reaches a rank blocked in a collective call "
        "waiting for it.",
        "Every other rank ends within dist_stall_timeout seconds (5 minutes by default) with "
        "an error naming the silent rank (exit 1, in torchrun's summary); a SIGTERM or Ctrl-C "
        "while another rank is silent ends the rank within seconds with 128 + signal.",
    ),
    Scenario(
        "trust.ckpt-state-paths",
        "trust",
        "A crafted checkpoint's checkpoint-plugin state lists files to keep that are absolute "
        "paths, contain '..' or a folder separator, or are not names the plugin writes; it is "
        "resumed with keep_last=1.",
        "The resume is refused with CheckpointError naming the entry and saying nothing was "
        "deleted; no file inside or outside the run folder is deleted.",
    ),
    Scenario(
        "trust.ckpt-delete-own",
        "trust",
        "A checkpoint is resumed into another folder that holds a file of a name its state "
        "lists (epoch=0-step=3.ckpt, written by someone else).",
        "The plugin deletes only files it wrote, or that the resumed state listed for this "
        "very folder: the other file stays; retention of the run's own files goes on.",
    ),
    Scenario(
        "trust.plugin-instances",
        "trust",
        "Two instances of the checkpoint plugin (checkpoint and checkpoint@b:keep_last=1) run "
        "in one trainer, or are given one save_prefix.",
        "Each instance has its own folder (checkpoints/, checkpoints@b/) and never deletes the "
        "other's files; one folder given to both is a ConfigError before anything is written.",
    ),
    Scenario(
        "trust.state-readonly",
        "trust",
        "A plugin writes to the trainer state it receives: trainer_state['current_epoch'] += 1 in"
        " on_train_epoch_end in a two-epoch run with the checkpoint plugin (the reported bug: no "
        "checkpoint at all, exit 0, no warning), or any other mutator (del, update, pop, popitem,"
        " setdefault, clear, |=), or a write to trainer_state['metrics'] or on_validation_end's "
        "metrics.",
        "The state is one read-only view per hook call, shared by its implementations: a write "
        "raises StateWriteError (a TypeError) naming the plugin, the hook and the key and saying "
        "what to use instead (the plugin's own attributes, a dict() copy, "
        "trainer_state['trainer'].request_stop / log / save_checkpoint), through the plugin's "
        "error policy; under on_error='warn' it is reported and the run writes the checkpoints of"
        " a run without the plugin. Reads, isinstance(state, dict), json.dumps, dict(state), "
        "copy.copy, state.copy() (plain, mutable copies) still work.",
    ),
    Scenario(
        "trust.config-near-weights",
        "trust",
        "`hookwise test --weights FILE` where FILE's run folder (run.json marker included) "
        "holds a config.toml whose [model] target runs a shell command; an allow-list is set.",
        "Only the weights are read: the config beside them never runs and nothing there is "
        "rewritten; when the weights do not fit the config used, the error names the command "
        "that evaluates with the saved config.",
    ),
    Scenario(
        "trust.resume-outside-run",
        "trust",
        "`hookwise fit CONFIG --resume proj/weights/last.ckpt --output-dir out`, where proj/ "
        "holds a hand-written config.toml and a run.json without hookwise's marker.",
        "proj/ is no run folder (only a run.json marked by hookwise, in the checkpoint's own "
        "folder or the one above, makes one): nothing in proj/ runs or changes; the resumed "
        "run writes a new run folder under out/.",
    ),
    Scenario(
        "trust.allow-list-job",
        "trust",
        "An allow-list is set (HOOKWISE_ALLOWED_PLUGINS or allowed_plugins) and a target in "
        "the job's [model], [data], [optimizer], [scheduler] or [loss] tables (nested ones "
        "included) is not on it; with and without --dry-run.",
        "PluginBlockedError (exit 2) naming the table, the import path and the entry to add, "
        "before any target is imported or called and before a run folder exists. Entries match "
        "by exact import path or a module prefix at a dot, never folded like distribution "
        "names; the embedded default job's own targets are allowed implicitly.",
    ),
    Scenario(
        "trust.dry-run-builds-nothing",
        "trust",
        "`hookwise fit --dry-run -p 'evaluator:evaluator={target=\"os:system\",...}'`, and a "
        "{target} given to a parameter the plugin does not have.",
        "A dry run (and `hookwise plugins order`) calls no target: plugin parameters' {target} "
        "values are checked against the allow-list and imported only (the plugin is shown in "
        "the call order from its class); "
        "an unknown parameter is refused before any {target} among the parameters is built.",
    ),
    Scenario(
        "trust.run-in-use",
        "trust",
        "`hookwise fit --resume last` (or --resume RUN/checkpoints/last.ckpt) while the run "
        "it would continue is still training; then the training process is killed (SIGKILL).",
        "While it trains, its run folder is locked and the resume is refused (exit 2) naming "
        "the run and the holder (process id, host, command, since when); once it is killed, "
        "the lock is gone with it and --resume last continues the run, saying which file it "
        "took and the step recorded in it.",
    ),
    Scenario(
        "trust.dcp-metadata",
        "trust",
        "A sharded checkpoint folder (strategy='fsdp') whose DCP .metadata pickle was crafted "
        "to call a function when unpickled, or to name a shard file outside the folder, or "
        "whose shard holds a pickled object that runs code when loaded; it is resumed, "
        "converted to one file, or found by 'last'.",
        "Nothing in the folder runs: the metadata is read with a restricted unpickler (DCP's "
        "own metadata classes, torch sizes, dtypes and layouts, paths) and non-tensor entries "
        "with weights_only=True; the load is a CheckpointError naming the file and saying it "
        "was refused and nothing in it was run.",
    ),
    # -- exact after resume ----------------------------------------------------------------
    Scenario(
        "resume.random-kills",
        "resume",
        "`hookwise fit` (epoch and step checkpoints, validation, a final test, metrics.csv and "
        "metrics.jsonl) is killed with SIGKILL or stopped with SIGTERM at a random moment: any "
        "hook call of the run, plus a delay that lands the signal inside checkpoint writes and "
        "file flushes; then `--resume last` until it finishes.",
        "Every file of the run folder is the uninterrupted run's: metrics.csv and metrics.jsonl "
        "byte for byte (running means and test rows included), curves.png, config.toml, the "
        "set of checkpoint files retention keeps, each checkpoint's content (weights, "
        "optimizer, position, RNG, every plugin's state, the trainer's metrics), run.json but "
        "for its time, command line and resumed_from. A few trials in the default suite; "
        "`tox -e soak` runs 20 of each signal (HOOKWISE_SOAK_KILLS).",
    ),
    Scenario(
        "resume.final-test-row",
        "resume",
        "A run killed (or stopped by SIGTERM) in its final test after the test row was written "
        "is resumed from its last checkpoint.",
        "The test row is there once (before, a resume kept every row up to its step, and the "
        "resumed final test appended a duplicate): the logging plugin's state in a checkpoint "
        "counts the rows written before it, and a resume keeps exactly those.",
    ),
    Scenario(
        "resume.rows-after-checkpoint",
        "resume",
        "A run is resumed from a checkpoint after which the killed process had written more "
        "rows: the validation that follows a step checkpoint at an epoch's last step, later "
        "steps, a final test.",
        "The rows after the checkpoint are dropped and written again by the resumed run, once "
        "each; the rows before it stay (before, the validation row at the checkpoint's step "
        "was written twice).",
    ),
    Scenario(
        "resume.step-row",
        "resume",
        "SIGKILL after a step checkpoint was written (inside on_train_batch_end) and before "
        "that step's progress row reached the metrics file (after the hook returns).",
        "The resumed run writes that row: the checkpoint holds the step's logs, which the "
        "trainer merges after the hook, and a fit resumed from it merges them at its start "
        "(resume.step-logs); before, it was missing for good.",
    ),
    Scenario(
        "resume.step-logs",
        "resume",
        "SIGKILL after a step checkpoint was written (inside on_train_batch_end), before the "
        "trainer merged that step's logs (after the hook): a second plugin returned a value in "
        "that step, a second logging instance only listens (metrics.jsonl, flushed at the next "
        "epoch start), and the next checkpoint comes after validation.",
        "The checkpoint holds the logs the step's implementations returned before it "
        "(unmerged_logs); the resumed fit merges them at its start, so every metrics file gets "
        "the step's whole row once and the trainer's metrics (saved in later checkpoints) are "
        "the uninterrupted run's (before, the listener's row was lost, the first logging "
        "instance wrote only its own part of the row, and the next checkpoints held the "
        "previous step's train/ values).",
    ),
    Scenario(
        "resume.unfinished-save",
        "resume",
        "SIGKILL after a checkpoint's first file was written, before its other names "
        "(last.ckpt, best.ckpt, the best file) were linked or before the files keep_last drops "
        "were deleted.",
        "The checkpoint records the save it belongs to; a resume from it finishes that save "
        "(links the names, deletes the dropped files), so last.ckpt is current and keep_last "
        "holds (before, last.ckpt could stay stale and keep_last be exceeded for good).",
    ),
    Scenario(
        "resume.temporaries",
        "resume",
        "SIGKILL while a checkpoint was being written or linked, leaving its temporary file "
        "(.NAME.HEX.tmp, .NAME.PID.link.tmp) in the checkpoint folder.",
        "A resume in that folder removes the temporary files of the checkpoint plugin's own "
        "names (nothing else); before, they stayed for good.",
    ),
    Scenario(
        "resume.interrupt-checkpoint",
        "resume",
        "A run stopped by SIGTERM or Ctrl-C (checkpoints/interrupted.ckpt written) is resumed "
        "and finishes.",
        "The finished resumed fit removes interrupted.ckpt, which it went past, so the run "
        "folder holds the uninterrupted run's files (before, it stayed).",
    ),
    Scenario(
        "resume.signal-at-epoch-end",
        "resume",
        "SIGTERM or Ctrl-C arrives in an epoch's end hooks (on_train_epoch_end), after its last "
        "batch and before its validation.",
        "The epoch's validation still runs (as for a signal during validation), then the run "
        "stops: its rows and the epoch checkpoint are written, and the resumed run's files are "
        "the uninterrupted run's (before, the validation was skipped while the checkpoint "
        "counted the epoch as done, so its rows and epoch checkpoint were lost for good).",
    ),
    Scenario(
        "resume.rng-per-rank",
        "resume",
        "A two-process DDP run whose ranks draw different random numbers (dropout, Python's "
        "random, NumPy) is stopped after a checkpoint and resumed on two processes; or resumed "
        "on another number of processes; or resumed from a checkpoint one rank wrote alone "
        "(an emergency checkpoint).",
        "A checkpoint every rank saves together (the checkpoint plugin's, the signal's) holds "
        "each rank's RNG states (rng_per_rank, gathered by one collective call) and a resume "
        "on as many processes gives each rank its own: the final weights and RNG states are "
        "the uninterrupted run's, bit for bit, on every rank (before, every rank got rank "
        "0's states and the weights differed). Otherwise every rank restores rank 0's states, "
        "and the log says so; a save one rank makes alone makes no collective call.",
    ),
)

BY_ID: dict[str, Scenario] = {scenario.id: scenario for scenario in SCENARIOS}
