"""hookwise.monitoring: the one meaning of a plugin's ``monitor`` (early stopping, checkpoint)."""

from __future__ import annotations

import pytest
from hookwise import ConfigError
from hookwise.monitoring import monitored_value, validation_key


@pytest.mark.parametrize(
    ("monitor", "key"), [("loss", "val/loss"), ("val/acc/top1", "val/acc/top1")]
)
def test_a_monitor_names_a_validation_key(monitor: str, key: str) -> None:
    assert validation_key(monitor, "my_plugin") == key


@pytest.mark.parametrize("monitor", ["train/loss", "test/loss"])
def test_train_and_test_keys_are_refused_with_the_key_to_use(monitor: str) -> None:
    with pytest.raises(ConfigError, match=r"my_plugin: monitor=.* Use monitor='val/loss'"):
        validation_key(monitor, "my_plugin")


@pytest.mark.parametrize("monitor", ["", "  ", None, 3])
def test_an_empty_or_non_text_monitor_is_refused(monitor: object) -> None:
    with pytest.raises(ConfigError, match="my_plugin: monitor must be the name of a validation"):
        validation_key(monitor, "my_plugin")  # type: ignore[arg-type]


def test_the_monitored_value_is_read_or_the_keys_there_are_are_listed() -> None:
    assert monitored_value({"val/loss": 0.25, "val/acc": 1}, "val/loss", "p") == 0.25
    with pytest.raises(ConfigError, match=r"p: monitor='val/x' is not among .*\['val/acc'\]"):
        monitored_value({"val/acc": 1.0}, "val/x", "p")
