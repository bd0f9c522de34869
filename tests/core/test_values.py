"""``hookwise.values.to_floats``: logged values as floats, tensors read off per device."""

from __future__ import annotations

import torch
from hookwise.values import to_floats


def test_numbers_and_tensors_keep_their_order_and_exact_values() -> None:
    third = torch.tensor(1 / 3, dtype=torch.float32)
    values = [
        2,
        torch.tensor(0.5),
        1.25,
        third,
        torch.tensor([7]),
        torch.tensor(3, dtype=torch.int64),
    ]
    values.append(torch.tensor(0.1, dtype=torch.bfloat16))
    floats = to_floats(values)
    assert floats == [2.0, 0.5, 1.25, float(third), 7.0, 3.0, float(values[-1])]
    assert all(type(f) is float for f in floats)
    assert to_floats([]) == []
