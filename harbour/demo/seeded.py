"""Case references and row ids from seeded generators: the same ``--seed`` gives the same
references and the same alert ids in the messages."""

from __future__ import annotations

import random
from collections.abc import Callable

from harbour.domain import refs


def seeded_references(seed: int) -> Callable[[], str]:
    """A generator of well-formed references, repeatable for ``seed`` (for the demo only:
    real references come from ``secrets``)."""
    rng = random.Random(f"harbour-demo-{seed}")
    size = refs.GROUPS * refs.GROUP_LEN

    def new_reference() -> str:
        return refs.format_reference("".join(rng.choice(refs.ALPHABET) for _ in range(size)))

    return new_reference


def seeded_ids(seed: int) -> Callable[[], str]:
    """Row ids (uuid-sized hex), repeatable for ``seed``; for the demo only."""
    rng = random.Random(f"harbour-demo-ids-{seed}")
    return lambda: f"{rng.getrandbits(128):032x}"
