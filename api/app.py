"""The FastAPI application, built from settings by one function."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from api.ingest import IngestService, ingest_router
from onceonly import __version__
from onceonly.settings import Settings
from store.ledger import SourceRecordLedger


def create_app(engine: Engine, sources: list[str], settings: Settings | None = None) -> FastAPI:
    """With ``settings``, departments can also push batches (``api.ingest``)."""
    ingest = IngestService(settings, engine) if settings is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if ingest is not None:
            ingest.close()

    app = FastAPI(title="OnceOnly query service", version=__version__, lifespan=lifespan)
    ledger = SourceRecordLedger(engine)
    if ingest is not None:
        app.include_router(ingest_router(ingest))

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, Any]:
        """Liveness and store reachability, for container healthchecks."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise HTTPException(status_code=503, detail="profile store unreachable") from exc
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/sources", tags=["stewards"])
    def source_counts() -> dict[str, int]:
        """Source-record versions held per department source."""
        return {source: ledger.count(source) for source in sources}

    return app
