"""Settings come from DENHUB_* variables (and .env), are validated, and name the variable when wrong."""

from __future__ import annotations

import pytest

from denhub.app import create_app
from kernel.settings import Settings, SettingsError

GOOD_SECRET = "x7Gq2-very-random-and-long-enough-secret-key-0123"


def from_env(tmp_path, env_file_text: str = "", **variables: str) -> Settings:
    """Settings from exactly these variables (not the real environment) and an optional .env file."""
    env_file = tmp_path / ".env"
    env_file.write_text(env_file_text, encoding="utf-8")
    return Settings.from_env({f"DENHUB_{k.upper()}": v for k, v in variables.items()}, env_file=env_file)


@pytest.mark.parametrize("env", ["production", "test"])
@pytest.mark.parametrize(
    "secret",
    [
        "",
        "changeme",
        "CHANGEME",
        "secret",
        " dev ",
        "please-change-me",
        "short-but-not-a-placeholder",
        "x" * 31,
    ],
)
def test_placeholder_or_short_secret_is_refused_outside_development(tmp_path, env, secret):
    with pytest.raises(SettingsError, match="DENHUB_SECRET_KEY"):
        from_env(tmp_path, env=env, secret_key=secret)


def test_a_real_secret_is_accepted_in_production(tmp_path):
    settings = from_env(tmp_path, env="production", secret_key=GOOD_SECRET)
    assert settings.env == "production"
    assert settings.effective_secret_key() == GOOD_SECRET


def test_development_works_without_a_secret(tmp_path):
    settings = from_env(tmp_path, env="development", var_dir=str(tmp_path / "var"))
    key = settings.effective_secret_key()
    assert len(key) >= 32
    assert (tmp_path / "var" / "dev-secret-key").stat().st_mode & 0o077 == 0  # not readable by others
    # Restarts and other workers agree on the key, or every session would end at each restart.
    assert from_env(tmp_path, var_dir=str(tmp_path / "var")).effective_secret_key() == key
    assert create_app(settings).state.settings.env == "development"


def test_development_is_the_default(tmp_path):
    assert from_env(tmp_path).env == "development"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"env": "staging"}, "DENHUB_ENV"),
        ({"env": "Production"}, "DENHUB_ENV"),
        ({"https": "maybe"}, "DENHUB_HTTPS"),
        ({"https": "2"}, "DENHUB_HTTPS"),
        ({"login_max_failures": "five"}, "DENHUB_LOGIN_MAX_FAILURES"),
        ({"login_max_failures": "2.5"}, "DENHUB_LOGIN_MAX_FAILURES"),
        ({"max_image_bytes": "2MB"}, "DENHUB_MAX_IMAGE_BYTES"),
        ({"listing_cache_seconds": "soon"}, "DENHUB_LISTING_CACHE_SECONDS"),
        ({"database_url": "mysql://root@localhost/denhub"}, "DENHUB_DATABASE_URL"),
        ({"database_url": "postgresql://postgres@localhost/denhub"}, "DENHUB_DATABASE_URL"),
        ({"database_url": "sqlite:///denhub.sqlite3"}, "DENHUB_DATABASE_URL"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, variables, named):
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, **variables)
    assert named in str(raised.value)
    bad_value = next(iter(variables.values()))
    if named != "DENHUB_DATABASE_URL":  # URLs may hold a password: the message need not repeat them
        assert bad_value in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
    ],
)
def test_booleans(tmp_path, raw, expected):
    assert from_env(tmp_path, https=raw).https is expected


def test_numbers_and_urls_are_read(tmp_path):
    settings = from_env(
        tmp_path,
        login_max_failures="7",
        listing_cache_seconds="0.5",
        max_image_bytes="1000",
        database_url="postgresql+asyncpg://denhub@db.internal/denhub",
    )
    assert (settings.login_max_failures, settings.listing_cache_seconds, settings.max_image_bytes) == (
        7,
        0.5,
        1000,
    )
    assert settings.effective_database_url == "postgresql+asyncpg://denhub@db.internal/denhub"


def test_default_database_is_sqlite_under_var(tmp_path):
    settings = from_env(tmp_path, var_dir=str(tmp_path / "data"))
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'denhub.sqlite3'}"


def test_env_file_is_read_but_the_environment_wins(tmp_path):
    env_file = (
        "# comments and blank lines are skipped\n\n"
        "DENHUB_ENV=production\n"
        f"DENHUB_SECRET_KEY='{GOOD_SECRET}'\n"
        "DENHUB_BASE_URL=https://from-the-file.example\n"
        "DENHUB_LOGIN_MAX_FAILURES=9\n"
        "not a setting line\n"
    )
    settings = from_env(tmp_path, env_file, base_url="https://from-the-environment.example")
    assert settings.env == "production"
    assert settings.secret_key == GOOD_SECRET  # quotes stripped
    assert settings.login_max_failures == 9
    assert settings.base_url == "https://from-the-environment.example"


def test_env_file_values_are_validated_too(tmp_path):
    with pytest.raises(SettingsError, match="DENHUB_HTTPS"):
        from_env(tmp_path, "DENHUB_HTTPS=perhaps\n")


def test_real_environment_is_used_when_none_given(tmp_path, monkeypatch):
    monkeypatch.setenv("DENHUB_ENV", "test")
    monkeypatch.setenv("DENHUB_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DENHUB_LOGIN_MAX_FAILURES", "11")
    empty = tmp_path / "empty.env"
    settings = Settings.from_env(env_file=empty)
    assert (settings.env, settings.login_max_failures) == ("test", 11)
    monkeypatch.setenv("DENHUB_ENV", "live")
    with pytest.raises(SettingsError, match="DENHUB_ENV"):
        Settings.from_env(env_file=empty)


def test_describe_hides_the_secret(tmp_path):
    rows = from_env(tmp_path, env="production", secret_key=GOOD_SECRET).describe()
    described = {name: value for name, value, _ in rows}
    assert described["DENHUB_SECRET_KEY"] == "(set)"
    assert GOOD_SECRET not in repr(rows)
    assert all(meaning for _, _, meaning in rows)  # every setting says what it is for
