"""Connectors and LossModule, matching vis4d (with hookwise's clearer errors)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import pytest
import torch
from hookwise import (
    CallbackConnector,
    DataConnector,
    LossConnector,
    LossModule,
    MultiSensorCallbackConnector,
    MultiSensorDataConnector,
    data_key,
    pred_key,
    remap_pred_keys,
)
from hookwise.connectors import connector_from_config
from hookwise.values import tensors

Boxes = namedtuple("Boxes", ["boxes", "scores"])


def test_key_descriptions_are_plain_dicts() -> None:
    assert data_key("x") == {"key": "x", "source": "data"}
    assert data_key("x", sensors=["cam"]) == {"key": "x", "source": "data", "sensors": ["cam"]}
    assert pred_key("a.b") == {"key": "a.b", "source": "prediction"}


def test_remap_pred_keys_copies_and_prefixes_predictions_only() -> None:
    original = {"boxes": pred_key("boxes"), "images": data_key("images")}
    remapped = remap_pred_keys(original, "det")
    assert remapped == {"boxes": pred_key("det.boxes"), "images": data_key("images")}
    assert original["boxes"]["key"] == "boxes"


def test_callback_connector_walks_dicts_namedtuples_and_attributes() -> None:
    class Holder:
        scores = torch.tensor([0.5])

    outputs = {"det": Boxes(boxes={"xyxy": 1}, scores=2), "obj": Holder()}
    batch = {"a.b": 3, "labels": 4}
    connector = CallbackConnector(
        {
            "xyxy": pred_key("det.boxes.xyxy"),
            "scores": pred_key("det.scores"),
            "attr": pred_key("obj.scores"),
            "dotted": data_key("a.b"),
            "labels": data_key("labels"),
        }
    )
    result = connector(outputs, batch)
    assert list(result) == ["xyxy", "scores", "attr", "dotted", "labels"]
    assert result["xyxy"] == 1 and result["scores"] == 2 and result["dotted"] == 3
    assert result["attr"] is Holder.scores


def test_missing_keys_name_key_source_and_available() -> None:
    connector = CallbackConnector({"p": pred_key("det.boxess"), "d": data_key("labels")})
    with pytest.raises(ValueError, match=r"'boxess'.*model output\['det'\].*\['boxes', 'scores'\]"):
        connector({"det": {"boxes": 1, "scores": 2}}, {"labels": 1})
    with pytest.raises(ValueError, match=r"'labels' not found in the batch.*\['image'\]"):
        CallbackConnector({"d": data_key("labels")})({}, {"image": 1})
    with pytest.raises(ValueError, match="Unknown data source 'weird'"):
        CallbackConnector({"x": {"key": "x", "source": "weird"}})  # type: ignore[dict-item]


def test_data_connector_and_multi_sensor() -> None:
    assert DataConnector({"images": "img"})({"img": 1}) == {"images": 1}
    assert DataConnector({"images": "img"})([{"img": 1}, {"img": 2}]) == {"images": [1, 2]}
    with pytest.raises(ValueError, match="'img' not found in the batch"):
        DataConnector({"images": "img"})({"image": 1})
    batch = {"cam": {"x": 1}, "lidar": {"x": 2}, "y": 3}
    multi = MultiSensorDataConnector({"x": data_key("x", sensors=["cam", "lidar"]), "y": "y"})
    assert multi(batch) == {"y": 3, "x": [1, 2]}
    callback = MultiSensorCallbackConnector(
        {"x": data_key("x", sensors=["lidar"]), "p": pred_key("p")}
    )
    assert callback({"p": 9}, batch) == {"x": [2], "p": 9}


def test_connector_from_config_short_forms() -> None:
    connector = connector_from_config({"preds": {"pred": "logits"}, "labels": {"data": "labels"}})
    assert connector is not None
    assert connector.key_mapping == {"preds": pred_key("logits"), "labels": data_key("labels")}
    with pytest.raises(TypeError, match="entry 'x' must be"):
        connector_from_config({"x": "labels"})


class Pair(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"l1": (a - b).abs().mean(), "l2": ((a - b) ** 2).mean()}


def test_loss_module_weights_names_and_detached_metrics() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    outputs: dict[str, Any] = {"a": a}
    batch = {"b": torch.tensor([0.0, 0.0])}
    connector = LossConnector({"a": pred_key("a"), "b": data_key("b")})
    module = LossModule(
        [
            {"loss": Pair(), "connector": connector, "weight": {"Pair.l2": 0.5}},
            {"loss": Pair(), "connector": connector, "name": "aux", "weight": 2.0},
        ],
        exclude_attributes=["aux.l2"],
    )
    total, metrics = module(outputs, batch)
    assert set(metrics) == {"Pair.l1", "Pair.l2", "aux.l1", "aux.l2", "loss"}
    assert metrics["Pair.l2"] == pytest.approx(1.25)
    assert total.item() == pytest.approx(1.5 + 1.25 + 3.0)
    # floats when read (as vis4d's), detached 0-d tensors underneath (no sync until read)
    assert all(v.ndim == 0 and not v.requires_grad for v in tensors(metrics).values())
    assert f"{metrics['loss']:.4f}" == "5.7500"
    total.backward()
    assert a.grad is not None


class Squared(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return ((a - b) ** 2).mean()


@pytest.mark.parametrize("weight", [1.0, 2.5, 3])
@pytest.mark.parametrize("name", [None, "loss", "mse"])
def test_one_tensor_loss_gives_what_the_general_path_gives(weight: float, name: str | None) -> None:
    """One loss returning a tensor takes a short path; the total (its bits and its graph) and
    the metrics equal those of the general path (the same loss listed with an excluded
    zero-weight twin, which forces it)."""
    a = torch.tensor([1.0, 2.0, 4.0], requires_grad=True)
    outputs: dict[str, Any] = {"a": a}
    batch = {"b": torch.tensor([0.5, 0.0, 1.0])}
    connector = LossConnector({"a": pred_key("a"), "b": data_key("b")})
    definition: dict[str, Any] = {"loss": Squared(), "connector": connector, "weight": weight}
    if name is not None:
        definition["name"] = name
    short_total, short = LossModule(definition)(outputs, batch)  # type: ignore[arg-type]
    twin = {"loss": Squared(), "connector": connector, "name": "twin", "weight": 0.0}
    general_total, general = LossModule(
        [definition, twin],  # type: ignore[list-item]
        exclude_attributes=["twin"],
    )(outputs, batch)
    expected = {k: v for k, v in general.items() if k != "twin"}
    assert dict(short) == expected
    assert list(short) == [k for k in general if k != "twin"]  # same names, same order
    assert torch.equal(short_total, general_total)
    assert all(v.ndim == 0 and not v.requires_grad for v in tensors(short).values())
    (short_grad,) = torch.autograd.grad(short_total, a)
    (general_grad,) = torch.autograd.grad(general_total, a)
    assert torch.equal(short_grad, general_grad)


def test_one_loss_returning_a_dict_still_flattens() -> None:
    connector = LossConnector({"a": pred_key("a"), "b": data_key("b")})
    total, metrics = LossModule({"loss": Pair(), "connector": connector})(
        {"a": torch.tensor([1.0, 3.0])}, {"b": torch.tensor([0.0, 0.0])}
    )
    assert list(metrics) == ["Pair.l1", "Pair.l2", "loss"]
    assert metrics["loss"] == pytest.approx(2.0 + 5.0)
    assert total.item() == pytest.approx(7.0)


def test_loss_module_requires_loss_and_connector() -> None:
    with pytest.raises(AssertionError, match="must contain a connector"):
        LossModule({"loss": Pair()})  # type: ignore[typeddict-item]
