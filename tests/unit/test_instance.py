"""The default instance id is stable per host and held by a lock while a daemon runs."""

from __future__ import annotations

import pytest

from service.config import Settings, default_instance_id
from service.sandbox.instance import InstanceInUse, claim_instance


def test_default_id_is_the_lowest_free_slot_and_comes_back_after_release(tmp_path):
    settings = Settings.from_env({})
    assert settings.instance_id_auto
    with claim_instance(settings, tmp_path) as first:
        assert first.instance_id == default_instance_id(1)
        assert not first.instance_id_auto
        # A second daemon on the same host at the same time: the next slot.
        with claim_instance(settings, tmp_path) as second:
            assert second.instance_id == default_instance_id(2)
    # The first one ended (however it ended: the kernel drops the lock): a new
    # start gets its id back, and so sweeps what it left.
    with claim_instance(settings, tmp_path) as again:
        assert again.instance_id == default_instance_id(1)


def test_explicit_id_in_use_is_a_clear_error(tmp_path):
    settings = Settings.from_env({"CODE_ENGINE_INSTANCE_ID": "engine-a"})
    assert not settings.instance_id_auto
    with claim_instance(settings, tmp_path) as held:
        assert held.instance_id == "engine-a"
        with pytest.raises(InstanceInUse, match="'engine-a' is in use"):
            with claim_instance(settings, tmp_path):
                pass
    with claim_instance(settings, tmp_path) as again:
        assert again.instance_id == "engine-a"
