"""Password rules (NIST SP 800-63B: length over composition, common passwords refused) and
argon2id hashing."""

from __future__ import annotations

from functools import cache
from typing import Literal

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from harbour.errors import InvalidInput

MIN_LENGTH = 12
MAX_LENGTH = 256

# Long enough to pass the length rule, and among the first tried by anyone guessing.
COMMON = frozenset(
    {
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "aaaaaaaaaaaa",
        "abcdefghijkl",
        "abc123abc123",
        "qwertyuiop12",
        "qwertyuiopas",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "zaq12wsxcde3",
        "password1234",
        "password123!",
        "passwordpassword",
        "password12345",
        "p@ssw0rd1234",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome@2024",
        "welcome@2025",
        "welcome@2026",
        "changeme1234",
        "administrator",
        "admin1234567",
        "football1234",
        "baseball1234",
        "sunshine1234",
        "princess1234",
        "monkey123456",
        "dragon123456",
        "trustno1trustno1",
        "correcthorsebatterystaple",
        "harbourharbour",
        "harbour12345",
        "safeharbour1",
        "safeharbour123",
    }
)

Hashing = Literal["standard", "tests_only_cheap"]  # Settings.password_hashing
HASHERS: dict[Hashing, PasswordHasher] = {
    "standard": PasswordHasher(),  # argon2id with the library's current recommended parameters
    "tests_only_cheap": PasswordHasher.from_parameters(profiles.CHEAPEST),  # tests' speed only
}


@cache
def _dummy_hash(hashing: Hashing) -> str:
    """Checked when a sign-in is refused before its password is (an unknown handle, a locked
    account), so that it takes as long as one whose password is checked."""
    return HASHERS[hashing].hash("not a password anyone has; only spends the same time")


def check_new_password(password: str, again: str, handle: str) -> None:
    """Refuse a password that is short, common, the handle, or not typed the same twice."""
    problems = []
    if password != again:
        problems.append(("password_again", "the two passwords differ"))
    if len(password) < MIN_LENGTH:
        problems.append(("password", f"at least {MIN_LENGTH} characters"))
    elif len(password) > MAX_LENGTH:
        problems.append(("password", f"at most {MAX_LENGTH} characters"))
    elif password.lower() in COMMON or handle.lower() in password.lower():
        problems.append(("password", "too easy to guess: choose a longer phrase"))
    if problems:
        raise InvalidInput(problems, code="weak_password")


def hash_password(password: str, hashing: Hashing) -> str:
    return HASHERS[hashing].hash(password)


def verify_password(stored: str | None, password: str, hashing: Hashing) -> bool:
    """Whether ``password`` matches; with no stored hash, spends the same time and says no."""
    hasher, checked = HASHERS[hashing], stored or _dummy_hash(hashing)
    try:
        return hasher.verify(checked, password[:MAX_LENGTH]) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
