"""The matcher's settings file: readable by a steward, validated before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from core.matching import default_settings, load_settings
from core.matching.settings import MatchSettings

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "core" / "matching" / "matching.yaml"


def settings_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SETTINGS_FILE.read_text(encoding="utf-8"))
    return data


def test_the_shipped_settings_load_and_name_every_comparison_a_steward_expects() -> None:
    settings = load_settings(SETTINGS_FILE)
    assert settings == default_settings()
    assert [c.name for c in settings.comparisons] == ["name", "birth_date", "sex", "id_number", "other_ids", "residence"]
    assert settings.comparison("birth_date").labels == ("exact", "typo", "month_only_agrees", "different")
    assert settings.thresholds.review_probability < settings.thresholds.link_probability
    assert {rule.key for rule in settings.blocking_rules} >= {"birth_date", "phone", "dwelling", "id_number_one_edit"}


def test_every_level_says_what_it_means() -> None:
    for comparison in default_settings().comparisons:
        assert comparison.description
        for level in comparison.levels[:-1]:
            assert level.description or comparison.kind == "sex", f"{comparison.name}.{level.label}"


def test_a_test_that_the_comparison_kind_does_not_know_is_refused() -> None:
    data = settings_data()
    data["comparisons"][0]["levels"][0]["test"] = "soundex"
    with pytest.raises(ValidationError, match="soundex"):
        MatchSettings.model_validate(data)


def test_a_comparison_must_end_with_an_else_level() -> None:
    data = settings_data()
    data["comparisons"][2]["levels"].pop()
    with pytest.raises(ValidationError, match="else"):
        MatchSettings.model_validate(data)


def test_a_rule_naming_an_unknown_level_is_refused() -> None:
    data = settings_data()
    data["rules"]["at_most_review"][0]["levels"] = ["strangers"]
    with pytest.raises(ValidationError, match="strangers"):
        MatchSettings.model_validate(data)


def test_a_stratum_defining_level_must_be_counted_over_the_candidates() -> None:
    data = settings_data()
    data["comparisons"][1]["levels"][0]["u_from_candidates"] = False
    with pytest.raises(ValidationError, match="u_from_candidates"):
        MatchSettings.model_validate(data)


def test_an_unknown_blocking_key_is_refused() -> None:
    data = settings_data()
    data["blocking_rules"].append({"name": "everyone", "key": "district", "max_block_size": 10})
    with pytest.raises(ValidationError, match="district"):
        MatchSettings.model_validate(data)
