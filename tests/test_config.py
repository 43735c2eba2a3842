"""Configuration is read from the environment and every mistake is reported at once."""

from __future__ import annotations

import pytest

from app.config import ConfigError, load


def test_defaults_run_a_development_server_on_sqlite() -> None:
    settings = load({})
    assert settings.environment == "development"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.graphiql
    assert settings.introspection


def test_production_switches_the_ide_and_introspection_off_and_needs_an_operator_key() -> None:
    with pytest.raises(ConfigError, match="OPERATOR_KEY is required in production"):
        load({"APP_ENV": "production"})
    settings = load({"APP_ENV": "production", "OPERATOR_KEY": "0x" + "ab" * 32})
    assert not settings.graphiql
    assert not settings.introspection
    assert settings.confirmations == 12


def test_every_problem_is_listed_with_the_variable_to_fix() -> None:
    with pytest.raises(ConfigError) as error:
        load(
            {"CONFIRMATIONS": "many", "HUB_ADDRESS": "0x1", "DATABASE_URL": "mysql://x", "GRAPHIQL": "maybe"}
        )
    message = str(error.value)
    for variable in ("CONFIRMATIONS", "HUB_ADDRESS", "DATABASE_URL", "GRAPHIQL"):
        assert variable in message


def test_an_operator_key_must_look_like_a_private_key() -> None:
    with pytest.raises(ConfigError, match="OPERATOR_KEY must be a 32-byte hex private key"):
        load({"OPERATOR_KEY": "not-a-key"})


def test_the_settlers_gas_cap_is_generous_by_default_and_set_by_its_variable() -> None:
    assert load({}).settle_max_gas_per_hour == 100_000_000
    assert load({"SETTLE_MAX_GAS_PER_HOUR": "5000000"}).settle_max_gas_per_hour == 5_000_000
    with pytest.raises(ConfigError, match="SETTLE_MAX_GAS_PER_HOUR must be at least 1"):
        load({"SETTLE_MAX_GAS_PER_HOUR": "0"})
