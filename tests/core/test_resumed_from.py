"""``Trainer.resumed_from``: the checkpoint a fit resumed from, for plugins that must not
delete or overwrite it."""

from __future__ import annotations

from pathlib import Path

from hookwise.testing import run_fit


def test_resumed_from_names_the_checkpoint_of_this_fit(tmp_path: Path) -> None:
    first = run_fit(epochs=1, test=False, tmp_path=tmp_path / "a")
    assert first.trainer.resumed_from is None
    checkpoint = first.trainer.save_checkpoint(tmp_path / "saved.ckpt")
    second = run_fit(epochs=2, test=False, tmp_path=tmp_path / "b", resume_from=checkpoint)
    assert second.trainer.resumed_from == checkpoint
    second.trainer.fit(second.model, [], None, lambda outputs, batch: outputs["logits"].sum())
    assert second.trainer.resumed_from is None  # a later fit without resume_from
