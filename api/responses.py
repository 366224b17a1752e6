"""What the JSON routes answer, as pydantic models, so that ``/openapi.json`` documents real shapes.

The ``api/*_responses.py`` modules hold the shapes of one router each; this one holds what they share.
A route whose use case returns a dict validates it into its model (``Model.model_validate``): a key
the model does not name, or a named key missing, fails there rather than being dropped on the way
out, so the schema cannot drift from the answer unnoticed. A key that some answers leave out
(``profile_ids`` of the audit log without ``resident``) is declared with :func:`optional_key`, and its
route answers with ``response_model_exclude_unset=True``: an answer keeps the keys it was built with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

# Times and days as the use cases write them (``datetime.isoformat()``, ``date.isoformat()``).
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]

# The type of a key that some answers leave out and none sets to null: ``name: str | Absent = optional_key()``.
Absent = SkipJsonSchema[None]


def optional_key(description: str | None = None) -> Any:
    """A key that some answers leave out: not required in the schema, and no default there either
    (an answer without it does not hold a default value, it holds no such key)."""
    return Field(default=None, description=description, json_schema_extra=_left_out)


def _left_out(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ResponseModel(BaseModel):
    """A JSON answer: read-only, and naming every key it may hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class LivenessOut(ResponseModel):
    """``GET /health``: the service answers and its profile store is reachable."""

    status: Literal["ok"]
    version: str
