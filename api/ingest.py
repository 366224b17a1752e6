"""``POST /api/v1/ingest/{source}``: a department (community workers' app) pushes native rows.

The use case is ``services.ingest.IngestService.push``: the batch runs through the same ``Connector``
loop as a pull, so collected-once, dead letters and run counts apply unchanged (posting the same
batch twice sends nothing the second time). The route only authenticates, decodes, calls it and
answers: the run's counts (200), or a short message (4xx/503: ``api.errors`` answers the service's
own errors), never a stack trace and never a submitted value (a row may hold an ID number).
"""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from core.privacy import redact
from services.ingest import Cell, IngestService

MAX_ROWS = 5_000
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_DEPTH = 3  # {"rows": [{column: cell}]}: a cell is never a list or an object


class IngestBatch(BaseModel):
    """What a department posts: its native rows, as its mapping file names the columns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$",
                                 description="the sender's name for the batch; used in dead-letter locations")
    rows: list[dict[str, Cell]] = Field(min_length=1, max_length=MAX_ROWS)


class IngestResult(BaseModel):
    """The run's counts: ``read == events + unchanged + dead_letters``."""

    source: str
    batch_id: str
    read: int
    events: int
    unchanged: int
    dead_letters: int


def ingest_router(service: IngestService) -> APIRouter:
    router = APIRouter(tags=["departments"])

    @router.post("/api/v1/ingest/{source}", response_model=IngestResult,
                 responses={400: {}, 401: {}, 403: {}, 404: {}, 413: {}, 422: {}, 503: {}})
    async def ingest(request: Request,
                     source: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]*$")],
                     authorization: Annotated[str | None, Header()] = None) -> IngestResult:
        """Take a batch of native rows (JSON ``{"rows": [{column: value, …}, …]}``) into Kafka,
        each fact once; bad rows become dead letters and are counted, not refused."""
        _authorise(service, source, authorization)
        spec = service.spec(source)  # UnknownSource: 404
        batch = _decode(await request.body())
        batch_id = redact(batch.batch_id or uuid.uuid4().hex)
        counts = await run_in_threadpool(service.push, spec, batch_id, batch.rows)  # BatchNotTaken: 503
        return IngestResult(source=source, batch_id=batch_id, read=counts.read, events=counts.events,
                            unchanged=counts.unchanged, dead_letters=counts.dead_letters)

    return router


def _authorise(service: IngestService, source: str, authorization: str | None) -> None:
    """401 without a known token, 403 with another source's token."""
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise HTTPException(401, "send the department's token as 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    holder = service.department_of(given.strip())
    if holder is None:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    if holder != source:
        raise HTTPException(403, f"this token may not push to {source!r}")


def _decode(body: bytes) -> IngestBatch:
    """The body as a batch, or a 4xx that says what is wrong without echoing any value."""
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body over {MAX_BODY_BYTES // (1024 * 1024)} MB: send smaller batches")
    try:
        data: Any = json.loads(body)
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise HTTPException(400, f"body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        # The parser gives up on deep nesting at once; a batch is three levels deep (object, rows, row).
        raise HTTPException(400, f"body is nested deeper than a batch ({MAX_DEPTH} levels at most)") from None
    if _deeper_than(data, MAX_DEPTH):
        raise HTTPException(400, f"body is nested deeper than a batch ({MAX_DEPTH} levels at most)")
    try:
        return IngestBatch.model_validate(data)
    except RecursionError:
        raise HTTPException(400, f"body is nested deeper than a batch ({MAX_DEPTH} levels at most)") from None
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem(e) for e in exc.errors()))[:10]
        raise HTTPException(422, {"message": "not a batch of rows", "problems": problems}) from None


def _deeper_than(data: Any, limit: int) -> bool:
    """Whether lists or objects nest more than ``limit`` levels (iterative: no recursion to exhaust)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _problem(error: Any) -> str:
    loc = [str(p) for p in error["loc"]]
    if loc and loc[-1] in _CELL_TYPES and len(loc) == 4:  # one error per member of the Cell union
        return f"{'.'.join(loc[:-1])}: a cell must be text, a number, true/false or null"
    return f"{'.'.join(loc) or 'body'}: {error['msg']}"


_CELL_TYPES = {"str", "int", "float", "bool"}
