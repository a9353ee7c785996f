"""One decorator turns a Harbour step ``step(app, *ids)`` into a Prefect task that is safe to hand
to Prefect: ids in, no cache, no persisted result, and only a Harbour error code out."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from flows.context import harbour_app
from harbour.app import App
from harbour.errors import HarbourError

P = ParamSpec("P")
R = TypeVar("R")


class StepFailed(HarbourError):
    """What Prefect sees of a failed step: the step's name and a code; never a value."""

    default_code = "step_failed"

    def __init__(self, step: str, cause: str) -> None:
        self.step, self.cause = step, cause
        super().__init__(self.default_code, f"{step} ({cause})")

    def __reduce__(self) -> tuple[type[StepFailed], tuple[str, str]]:
        return StepFailed, (self.step, self.cause)  # Prefect pickles a failed task's exception


def harbour_task(step: Callable[Concatenate[App, P], R]) -> Task[P, R]:
    """A task running ``step`` with this process's App, in its own unit of work.

    Every exception is caught here and replaced, ``from None``, by a ``StepFailed`` naming the
    step and the cause's code (a Harbour error code or an exception class name): Prefect writes
    exception text into its state messages, logs and events and pickles the exception itself,
    and third-party messages (SQLAlchemy, pydantic) can quote the values they choked on.
    """

    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return step(harbour_app(), *args, **kwargs)
        except HarbourError as exc:
            raise StepFailed(step.__name__, exc.code) from None
        except Exception as exc:
            raise StepFailed(step.__name__, type(exc).__name__) from None

    run.__name__ = run.__qualname__ = step.__name__
    run.__module__ = step.__module__
    run.__doc__ = step.__doc__
    run.__signature__ = _without_app(step)  # type: ignore[attr-defined]
    return task(
        name=step.__name__,
        cache_policy=NO_CACHE,
        persist_result=False,
        log_prints=False,
    )(run)


def _without_app(step: Callable[..., Any]) -> inspect.Signature:
    signature = inspect.signature(step)
    parameters = list(signature.parameters.values())[1:]
    return signature.replace(parameters=parameters)
