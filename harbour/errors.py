"""Harbour's errors. Their text is safe to log, print and hand to Prefect: codes and field names only.

Nothing identifying may ever be put in a message here; callers pass codes, never values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class HarbourError(Exception):
    """Base of every error Harbour raises on purpose. ``code`` is a stable, non-identifying word."""

    exit_code = 1
    default_code = "error"

    def __init__(self, code: str | None = None, detail: str = "") -> None:
        self.code = code or self.default_code
        self.detail = detail
        super().__init__(f"{self.code}: {detail}" if detail else self.code)

    def json_extra(self) -> dict[str, object]:
        """Operational values a command's ``--json`` error shows beside code and detail."""
        return {}

    def lines(self) -> list[str]:
        """What the command line says of it, a line each (after ``error:``)."""
        return [str(self)]


class InvalidInput(HarbourError):
    """Input refused before anything was written. Carries (field, reason) pairs, never values."""

    exit_code = 2
    default_code = "invalid_input"

    def __init__(self, problems: Iterable[tuple[str, str]], code: str | None = None) -> None:
        self.problems = list(problems)
        detail = "; ".join(f"{field}: {reason}" for field, reason in self.problems)
        super().__init__(code, detail)


class NotFound(HarbourError):
    """Also what another agency's case answers: the two are indistinguishable on purpose."""

    default_code = "not_found"


class Forbidden(HarbourError):
    default_code = "forbidden"


class Conflict(HarbourError):
    default_code = "conflict"


class Problems(HarbourError):
    """What a check found (``harbour notify check``), each problem under its own code, in the
    order found: the first's code is this error's, and its exit code the gravest of theirs (2,
    the configuration's, over 1, a failure's)."""

    def __init__(self, found: Sequence[HarbourError]) -> None:
        self.found = tuple(found)
        super().__init__(self.found[0].code, self.found[0].detail)
        self.exit_code = max(problem.exit_code for problem in self.found)

    def json_extra(self) -> dict[str, object]:
        return {"found": [{"error": p.code, "detail": p.detail} for p in self.found]}

    def lines(self) -> list[str]:
        return [str(problem) for problem in self.found]


class ConfigError(HarbourError):
    exit_code = 2
    default_code = "config"


class CryptoError(HarbourError):
    default_code = "crypto"


class RenderError(HarbourError):
    """A template could not be rendered. The detail names the template, never a value."""

    default_code = "render_failed"


class DeliveryError(HarbourError):
    default_code = "delivery"


class NobodyPaged(DeliveryError):
    """The command's change is recorded, but the imminent-threat alert it raised reached nobody:
    its own exit code, so that a script can tell it from a refusal (nothing recorded)."""

    exit_code = 3
    default_code = "nobody_paged"
