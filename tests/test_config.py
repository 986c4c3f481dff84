import dataclasses

import pytest

from retina_tutorial import config


def test_default_profile_is_quick(monkeypatch):
    monkeypatch.delenv(config.PROFILE_VARIABLE, raising=False)
    assert config.get_profile().name == "quick"


@pytest.mark.parametrize("name", ["quick", "full"])
def test_profile_from_environment(monkeypatch, name):
    monkeypatch.setenv(config.PROFILE_VARIABLE, name)
    assert config.get_profile() is config.PROFILES[name]


def test_argument_beats_environment(monkeypatch):
    monkeypatch.setenv(config.PROFILE_VARIABLE, "full")
    assert config.get_profile("quick").name == "quick"


def test_unknown_profile_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown profile 'huge'.*full, quick"):
        config.get_profile("huge")


def test_profiles_are_frozen_and_print_readably():
    profile = config.get_profile("quick")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.epochs = 99
    text = str(profile)
    assert text.startswith("Profile 'quick':")
    assert "patch_size=" in text and "learning_rate=" in text
    assert config.Profile(**profile.to_dict()) == profile


def test_full_profile_is_bigger_than_quick():
    quick, full = config.PROFILES["quick"], config.PROFILES["full"]
    assert full.epochs * full.steps_per_epoch > 10 * quick.epochs * quick.steps_per_epoch


def test_data_location(monkeypatch, tmp_path):
    monkeypatch.delenv(config.DATA_VARIABLE, raising=False)
    assert config.data_location() is None
    monkeypatch.setenv(config.DATA_VARIABLE, str(tmp_path))
    assert config.data_location() == tmp_path
    assert config.data_location("elsewhere").name == "elsewhere"
    monkeypatch.setenv(config.DATA_VARIABLE, "  ")
    assert config.data_location() is None


def test_unset_fields_take_the_article_recipe():
    profile = config.Profile(
        name="article", preset="article", patch_size=64, batch_size=4, steps_per_epoch=1, epochs=1
    )
    assert profile.learning_rate == 1e-4 and profile.lr_schedule == "constant"
    assert profile.loss == "bce" and not profile.tta
    assert (profile.rotation, profile.zoom) == (90.0, 0.2)
