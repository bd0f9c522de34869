"""Classification accuracy: top-1 and top-k, optionally per class."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from hookwise_evaluator._common import counts_file_suffix, sum_gathered
from hookwise_evaluator.base import Evaluator, MetricLogs

ACCURACY = "accuracy"
PER_CLASS = "per_class"


class ClassificationEvaluator(Evaluator):
    """Accuracy of class predictions; short names ``"accuracy"`` and ``"classification"``.

    Counts correct predictions on the device while the pass runs (no synchronisation per batch)
    and sums the counts of every process at the end, so a distributed evaluation gives exactly
    the counts of one process.

    Metrics:

    - ``accuracy``: keys ``top1``, ``top5``, ... (one per ``top_k``): the fraction of samples
      whose true class is among the ``k`` highest scores. With ``report_count``, also ``count``
      (the number of samples evaluated).
    - ``per_class`` (with ``per_class=True``): key ``<class name>`` (``class<i>`` without
      ``class_names``): the accuracy over the samples of that class (its recall). Classes with
      no sample in the pass are left out.

    :param top_k: the ``k`` values of top-k accuracy (an int or a list), e.g. ``[1, 5]``.
    :param per_class: also offer the ``per_class`` metric.
    :param class_names: names of the classes, in index order (for ``per_class`` keys and saved
        predictions).
    :param report_count: add ``count`` to the ``accuracy`` metric.

    ``process_batch(prediction, groundtruth)``: ``prediction`` is ``[B, C]`` class scores
    (logits or probabilities) or ``[B]`` class indices (top-1 only); ``groundtruth`` is ``[B]``
    class indices (a one-hot ``[B, C]`` is reduced with argmax). The default connector takes
    ``prediction`` from the model output's ``"logits"`` and ``groundtruth`` from the batch's
    ``"labels"``.

    Saved predictions (``save_predictions=True`` on the callback): ``accuracy/predictions.csv``
    with ``sample,label,prediction,confidence`` per sample of the latest pass (one file per rank,
    ``predictions.rank<r>.csv``, in a distributed run); ``per_class/per_class.csv`` with
    ``class,correct,total,accuracy``.
    """

    default_connector: ClassVar[Mapping[str, Mapping[str, str]] | None] = {
        "prediction": {"pred": "logits"},
        "groundtruth": {"data": "labels"},
    }

    def __init__(
        self,
        top_k: int | Sequence[int] = (1,),
        per_class: bool = False,
        class_names: Sequence[str] | None = None,
        report_count: bool = False,
    ) -> None:
        ks = [top_k] if isinstance(top_k, int) else list(top_k)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise ValueError(f"top_k must be a positive int or a list of them, got {top_k!r}")
        self.top_k: tuple[int, ...] = tuple(sorted(set(ks)))
        self.per_class = bool(per_class)
        self.class_names = list(class_names) if class_names is not None else None
        self.report_count = bool(report_count)
        self.reset()

    @property
    def metrics(self) -> list[str]:
        """``["accuracy"]``, plus ``"per_class"`` when enabled."""
        return [ACCURACY, PER_CLASS] if self.per_class else [ACCURACY]

    def reset(self) -> None:
        """Clear the counts (and the prediction file position)."""
        self._correct: Tensor | None = None  # [len(top_k)]
        self._total: Tensor | None = None  # 0-d
        self._class_correct: Tensor | None = None  # [C]
        self._class_total: Tensor | None = None  # [C]
        self._num_classes: int | None = None
        self._last: tuple[Tensor, Tensor, Tensor | None] | None = None
        self._saved_rows = 0
        self._gathered: dict[str, Tensor] | None = None

    # -- per batch -----------------------------------------------------------------------------

    def process_batch(self, prediction: Tensor, groundtruth: Tensor) -> None:
        """Count the batch's correct predictions (on the tensors' device, no sync)."""
        labels = _as_labels(groundtruth)
        if prediction.dim() == 1 or (prediction.dim() == 2 and prediction.shape[1] == 1):
            classes = prediction.reshape(-1).long()
            if self.top_k != (1,):
                raise ValueError(
                    f"top_k={list(self.top_k)} needs class scores [batch, classes]; the "
                    f"prediction holds class indices of shape {tuple(prediction.shape)}"
                )
            ranked = classes[:, None]
            num_classes = int(self._num_classes or 0)
            scores = None
        elif prediction.dim() == 2:
            num_classes = prediction.shape[1]
            largest = max(self.top_k)
            if largest > num_classes:
                raise ValueError(
                    f"top_k={list(self.top_k)}: top-{largest} accuracy needs at least {largest} "
                    f"classes, but the predictions score {num_classes}; lower top_k"
                )
            ranked = prediction.topk(largest, dim=1).indices
            scores = prediction
        else:
            raise ValueError(
                f"prediction must be [batch, classes] scores or [batch] class indices, got shape "
                f"{tuple(prediction.shape)}"
            )
        if labels.shape[0] != ranked.shape[0]:
            raise ValueError(
                f"prediction has {ranked.shape[0]} samples but groundtruth has {labels.shape[0]} "
                f"(shapes {tuple(prediction.shape)} and {tuple(groundtruth.shape)})"
            )
        labels = labels.to(ranked.device)
        hits = ranked == labels[:, None]  # [B, largest]
        correct = torch.stack([hits[:, :k].any(dim=1).sum() for k in self.top_k])
        total = torch.tensor(labels.shape[0], device=labels.device)
        self._correct = correct if self._correct is None else self._correct + correct
        self._total = total if self._total is None else self._total + total
        if self.per_class:
            self._count_classes(ranked[:, 0], labels, num_classes)
        self._last = (labels, ranked[:, 0], scores)

    def _count_classes(self, predicted: Tensor, labels: Tensor, num_classes: int) -> None:
        size = max(num_classes, self._num_classes or 0, len(self.class_names or ()))
        if not num_classes and labels.numel():  # class-index predictions: one sync per batch
            size = max(size, int(labels.max()) + 1, int(predicted.max()) + 1)
        self._num_classes = size
        class_total = torch.bincount(labels, minlength=size)
        class_correct = torch.bincount(labels[predicted == labels], minlength=size)
        self._class_total = _add_padded(self._class_total, class_total)
        self._class_correct = _add_padded(self._class_correct, class_correct)

    def save_batch(self, metric: str, output_dir: str) -> None:
        """Append the batch's predictions to ``accuracy``'s ``predictions.csv``."""
        if metric != ACCURACY or self._last is None:
            return
        labels, predicted, scores = self._last
        path = Path(output_dir) / f"predictions{counts_file_suffix()}.csv"
        confidence = (
            torch.softmax(scores.float(), dim=1).max(dim=1).values.tolist()
            if scores is not None
            else [""] * labels.shape[0]
        )
        mode = "a" if self._saved_rows else "w"
        with path.open(mode, newline="") as handle:
            writer = csv.writer(handle)
            if not self._saved_rows:
                writer.writerow(["sample", "label", "prediction", "confidence"])
            for label, pred, conf in zip(
                labels.tolist(), predicted.tolist(), confidence, strict=True
            ):
                writer.writerow(
                    [self._saved_rows, self._label(label), self._label(pred), _fmt(conf)]
                )
                self._saved_rows += 1

    # -- end of pass ---------------------------------------------------------------------------

    def gather(self, gather_func: Callable[[Any], list[Any] | None]) -> None:
        """Sum the counts of every process (moved to the CPU once per pass)."""
        part: dict[str, Tensor] = {}
        if self._correct is not None and self._total is not None:
            part["correct"] = self._correct.cpu()
            part["total"] = self._total.cpu()
        if self._class_correct is not None and self._class_total is not None:
            part["class_correct"] = self._class_correct.cpu()
            part["class_total"] = self._class_total.cpu()
        self._gathered = sum_gathered(gather_func(part), part)

    def _counts(self) -> dict[str, Tensor]:
        if self._gathered is None:  # evaluate without gather: this process's counts
            self.gather(lambda part: [part])
        assert self._gathered is not None
        if "total" not in self._gathered or int(self._gathered["total"]) == 0:
            raise ValueError(
                "ClassificationEvaluator processed no samples in this pass: the evaluation "
                "loader is empty, or no batch reached the evaluator"
            )
        return self._gathered

    def evaluate(self, metric: str) -> tuple[MetricLogs, str]:
        """``accuracy`` -> ``{"top1": ..., "top5": ...}``; ``per_class`` -> ``{name: ...}``."""
        counts = self._counts()
        total = int(counts["total"])
        if metric == ACCURACY:
            logs: MetricLogs = {}
            lines = []
            for k, correct in zip(self.top_k, counts["correct"].tolist(), strict=True):
                logs[f"top{k}"] = correct / total
                lines.append(f"top-{k} accuracy: {correct / total:.4f} ({correct}/{total})")
            if self.report_count:
                logs["count"] = total
            return logs, "\n".join(lines)
        if metric == PER_CLASS and self.per_class:
            class_correct = counts["class_correct"].tolist()
            class_total = counts["class_total"].tolist()
            logs = {}
            lines = []
            for index, (correct, seen) in enumerate(zip(class_correct, class_total, strict=True)):
                if seen:
                    name = self._class_key(index)
                    logs[name] = correct / seen
                    lines.append(f"{name}: {correct / seen:.4f} ({correct}/{seen})")
            return logs, "\n".join(lines)
        raise ValueError(f"ClassificationEvaluator has no metric {metric!r}; it has {self.metrics}")

    def save(self, metric: str, output_dir: str) -> None:
        """``per_class``: write ``per_class.csv`` (``class,correct,total,accuracy``)."""
        if metric != PER_CLASS or not self.per_class:
            return
        counts = self._counts()
        with open(os.path.join(output_dir, "per_class.csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["class", "correct", "total", "accuracy"])
            rows = zip(
                counts["class_correct"].tolist(), counts["class_total"].tolist(), strict=True
            )
            for index, (correct, seen) in enumerate(rows):
                accuracy = _fmt(correct / seen) if seen else ""
                writer.writerow([self._label(index), correct, seen, accuracy])

    def _label(self, index: int) -> str | int:
        """How saved files name class ``index``: its name, else the index."""
        if self.class_names is not None and 0 <= index < len(self.class_names):
            return self.class_names[index]
        return index

    def _class_key(self, index: int) -> str:
        """The ``per_class`` log key of class ``index``: its name, else ``class<index>``."""
        label = self._label(index)
        return label if isinstance(label, str) else f"class{index}"

    def __repr__(self) -> str:
        return (
            f"ClassificationEvaluator(top_k={list(self.top_k)}, per_class={self.per_class}, "
            f"report_count={self.report_count})"
        )


def _as_labels(groundtruth: Tensor) -> Tensor:
    if not isinstance(groundtruth, Tensor):
        groundtruth = torch.as_tensor(groundtruth)
    if groundtruth.dim() == 2 and groundtruth.shape[1] > 1:
        return groundtruth.argmax(dim=1)
    if groundtruth.is_floating_point():
        raise ValueError(
            f"groundtruth must hold class indices (an integer tensor [batch]), got "
            f"{groundtruth.dtype} of shape {tuple(groundtruth.shape)}"
        )
    return groundtruth.reshape(-1).long()


def _add_padded(accumulated: Tensor | None, new: Tensor) -> Tensor:
    if accumulated is None:
        return new
    size = max(accumulated.shape[0], new.shape[0])
    if accumulated.shape[0] < size:
        accumulated = torch.nn.functional.pad(accumulated, (0, size - accumulated.shape[0]))
    if new.shape[0] < size:
        new = torch.nn.functional.pad(new, (0, size - new.shape[0]))
    return accumulated + new


def _fmt(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)
