"""Harbour's settings: one object, read from ``HARBOUR_*`` variables, checked at start."""

from __future__ import annotations

import stat
from datetime import datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from harbour.domain.text import check_timezone
from harbour.errors import ConfigError
from harbour.shipped import shipped_templates


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HARBOUR_", extra="ignore", frozen=True, env_ignore_empty=True
    )

    home: Path = Field(Path("./var"), description="Folder for the embedded store, keys and output.")
    database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL; default a SQLite file under HARBOUR_HOME."
    )
    key_file: Path | None = Field(None, description="Keyring file; default HARBOUR_HOME/keys.json.")
    encryption_keys: SecretStr | None = Field(
        None, description="The keyring as JSON, instead of a key file (for containers)."
    )
    timezone: str = Field("America/New_York", description="Agency time zone for due dates.")
    base_url: str = Field("http://localhost:8080", description="Root of links in notifications.")
    apprise_config: Path | None = Field(None, description="Apprise YAML routes file (secret).")
    apprise_secret_block: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,99}$",
        description="Prefect Secret block holding the routes YAML, for flows (the file wins).",
    )
    apprise_yaml: SecretStr | None = Field(
        None, description="The routes YAML itself; flows set it from the Secret block."
    )
    policy_file: Path | None = Field(
        None, description="Reassessment policy YAML; default built-in."
    )
    catalogue_file: Path | None = Field(None, description="Strategy catalogue YAML override.")
    instrument_file: Path | None = Field(None, description="Assessment instrument YAML override.")
    resources_file: Path | None = Field(None, description="Resources YAML override.")
    actor: str | None = Field(None, description="Staff handle commands act as (or --as).")
    orchestration: Literal["inline", "prefect"] = Field(
        "inline",
        description="inline: the CLI runs lifecycle steps itself; prefect: deployments do.",
    )
    templates_dir: Path = Field(
        default_factory=shipped_templates,
        description="Jinja2 templates folder; default the templates shipped with Harbour.",
    )
    frozen_time: datetime | None = Field(
        None, description="Tests and demos only: the clock stands still at this aware time."
    )
    web_host: str = Field(
        "127.0.0.1", description="Address `harbour web` listens on (behind a TLS reverse proxy)."
    )
    web_port: int = Field(8080, ge=1, le=65535, description="Port `harbour web` listens on.")
    web_forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="Proxies whose X-Forwarded-For/-Proto `harbour web` trusts (comma-separated).",
    )
    session_idle_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="A console session ends after this long without a request.",
    )
    session_max_hours: int = Field(
        10, ge=1, le=7 * 24, description="A console session ends this long after sign-in."
    )
    password_hashing: Literal["standard", "tests_only_cheap"] = Field(
        "standard",
        description="Tests only: tests_only_cheap hashes passwords with argon2's cheapest "
        "parameters, which protect nothing; never set it in an installation.",
    )
    key_rotation_batch: int = Field(
        500, ge=1, le=100_000, description="Rows re-encrypted per committed batch in a rotation."
    )
    key_recheck_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often a writing process asks the store whether a key rotation made "
        "another key primary; a rotation waits this long before its last count of old values.",
    )

    @field_validator("encryption_keys")
    @classmethod
    def _keyring(cls, value: SecretStr | None) -> SecretStr | None:
        from harbour.crypto import Keyring
        from harbour.errors import CryptoError

        if value is not None:
            try:
                Keyring.from_json(value.get_secret_value(), "HARBOUR_ENCRYPTION_KEYS")
            except CryptoError:
                raise ValueError(
                    'not a Harbour keyring: {"primary": N, "keys": {"N": base64 of 32 bytes}}'
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_database_url(value.get_secret_value())
        return value

    @field_validator("frozen_time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a UTC offset")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value) if value.isprintable() and " " not in value else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.home / "keys.json"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.home / 'harbour.db').resolve()}"


SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgres", "postgresql+psycopg")


def check_database_url(url: str) -> None:
    """Refuse a URL Harbour cannot use; the message never repeats the URL (it may hold a password)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        raise ValueError("not a database URL (sqlite:///PATH or postgresql://...)") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError("only sqlite:// and postgresql:// (psycopg 3) databases are supported")


def routes_file_exposed(path: Path, mode: int) -> str | None:
    """Why the routes file ``path`` (its ``st_mode``) may not be used, or None: it holds mail
    passwords and webhook tokens, so, as the key file (``Keyring.load``), it is refused when
    group or others have any access to it. The message names no value of it."""
    mode = stat.S_IMODE(mode)
    if not mode & 0o077:
        return None
    return (
        f"mode {mode:04o}, open to group or others: run `chmod 600 {path}`, and if anyone else "
        "may have read it, change the passwords and tokens it holds"
    )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or a ConfigError naming the setting, never its value."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = [
            (
                "HARBOUR_" + "_".join(str(p) for p in err["loc"]).upper(),
                str(err["msg"]).removeprefix("Value error, "),
            )
            for err in exc.errors(include_input=False, include_url=False)
        ]
        detail = "; ".join(f"{name}: {msg}" for name, msg in problems)
        raise ConfigError("bad_setting", detail) from None
