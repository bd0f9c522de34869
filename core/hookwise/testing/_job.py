"""``tiny_job``: the TOML text of a tiny ``hookwise fit`` job, for command-line tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The loader factory of :func:`tiny_job`'s default data (``hookwise.testing.tiny_loader``).
TINY_LOADER = "hookwise.testing:tiny_loader"


def tiny_job(
    model: str = "hookwise.testing:TinyModel",
    *,
    train: Mapping[str, Any] | None = None,
    val: Mapping[str, Any] | None = None,
    test: Mapping[str, Any] | None = None,
    **trainer: Any,
) -> str:
    """The TOML text of a tiny job for ``hookwise fit JOB``: ``model`` trained with SGD
    (``lr = 0.1``) on cross-entropy between its ``logits`` and the batches' ``labels``.

    ::

        (tmp_path / "job.toml").write_text(tiny_job(num_threads=1))
        subprocess.run(["hookwise", "fit", "job.toml"], cwd=tmp_path, check=True)

    :param model: the model's import path (default: :class:`TinyModel`, which takes the
        batches' ``inputs``).
    :param train: the ``[data] train`` table: the loader's parameters, with its ``target``
        (default: ``hookwise.testing:tiny_loader`` with 12 shuffled samples).
    :param val: the ``[data] val`` table (default: 8 samples of another seed).
    :param test: the ``[data] test`` table (default: none).
    :param trainer: ``[trainer]`` settings after ``epochs = 2`` and ``device = "cpu"``, which
        they may replace (``num_threads=1``, ``seed=3``).
    :returns: the text; each setting on its own line, so a test can ``replace`` one
        (``job.replace("epochs = 2", "epochs = 1")``).
    """
    data = {
        "train": _loader(train, {"n": 12, "shuffle": True}),
        "val": _loader(val, {"n": 8, "seed": 1}),
        **({"test": _loader(test, {})} if test is not None else {}),
        "connector": {"inputs": "inputs"},
    }
    sections: dict[str, Mapping[str, Any]] = {
        "model": {"target": model},
        "data": data,
        "optimizer": {"target": "torch.optim:SGD", "lr": 0.1},
        "loss": {
            "target": "torch.nn:CrossEntropyLoss",
            "connector": {"input": {"pred": "logits"}, "target": {"data": "labels"}},
        },
        "trainer": {"epochs": 2, "device": "cpu", **trainer},
    }
    return "\n".join(
        f"[{name}]\n" + "".join(f"{key} = {_inline(value)}\n" for key, value in table.items())
        for name, table in sections.items()
    )


def _loader(table: Mapping[str, Any] | None, default: Mapping[str, Any]) -> dict[str, Any]:
    return {"target": TINY_LOADER, **(default if table is None else table)}


def _inline(value: Any) -> str:
    from hookwise.config.specs import format_key, format_value

    if isinstance(value, Mapping):
        items = ", ".join(f"{format_key(str(k))} = {_inline(v)}" for k, v in value.items())
        return "{ " + items + " }"
    return format_value(value)
