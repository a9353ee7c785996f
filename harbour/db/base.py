"""The typed ORM base, the aware-UTC column type, and helpers every table uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Field classes from guide/confidentiality.md; every sealed column names its class.
YOUTH_PII = "youth-pii"
FAMILY_PII = "family-pii"
AGENCY_CONFIDENTIAL = "agency-confidential"
STAFF_SECRET = "staff-secret"  # staff sign-in secrets (TOTP): never shown, never logged


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on SQLite (which drops zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    """Random row ids, made before insert so they can bind a sealed value to its row."""
    return _id_source()


def _random_id() -> str:
    # 128 random bits as 32 hex digits, a uuid4's size: a sweep makes thousands, and building
    # a UUID object for each took most of the time.
    return os.urandom(16).hex()


_id_source: Callable[[], str] = _random_id


@contextmanager
def ids_from(source: Callable[[], str]) -> Iterator[None]:
    """Row ids from ``source`` for a while: the demo's seeded ids (alert ids appear in its
    messages, which must repeat for a seed). Nothing else uses this."""
    global _id_source
    previous, _id_source = _id_source, source
    try:
        yield
    finally:
        _id_source = previous


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}

    def __init__(self, **kwargs: Any) -> None:
        if "id" not in kwargs:  # not setdefault: an id given must draw none from the source
            kwargs["id"] = new_id()
        for key, value in kwargs.items():
            setattr(self, key, value)


def id_column() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


def sealed(classification: str) -> Mapped[str | None]:
    """A column holding an AES-GCM token (see harbour.crypto); plaintext never lands here."""
    return mapped_column(Text, nullable=True, info={"sealed": classification})


def sealed_columns(table_cls: type[Base]) -> list[str]:
    """Attribute names of the sealed columns of a mapped class."""
    return [c.key for c in table_cls.__table__.columns if "sealed" in c.info]
