"""The FastAPI application, built from settings by one function."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from onceonly import __version__
from store.ledger import SourceRecordLedger


def create_app(engine: Engine, sources: list[str]) -> FastAPI:
    app = FastAPI(title="OnceOnly query service", version=__version__)
    ledger = SourceRecordLedger(engine)

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
