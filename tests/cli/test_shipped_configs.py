"""Every config shipped in configs/ loads and passes its checks."""

from pathlib import Path

import pytest
import yaml

from brainsim.config import load_config
from brainsim.models import known_tasks, load_train_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


def test_there_are_configs():
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_is_valid(path):
    raw = yaml.safe_load(path.read_text())
    if "task" in raw:
        config = load_train_config(path)
        assert config.task in known_tasks()
        assert config.name
    else:
        assert load_config(path).name
