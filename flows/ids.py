"""The only kind of value Harbour's flows take as parameters: an opaque row id.

With ``enforce_parameter_schema`` the server refuses anything else, so a name or a note can
never become a flow run parameter by mistake.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Id = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="An opaque Harbour id.")]
