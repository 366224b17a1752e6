"""A community worker's (社区工作者) visit app: it posts door-to-door visits (入户走访) to the hub.

Communities have no system the hub could pull from; what workers collect at the door is pushed
to ``POST /api/v1/ingest/community`` with the community's bearer token, in batches, and the
answer says what the hub took in. Re-sending a batch (a flaky mobile connection) is harmless.

Example::

    with CommunityWorker("http://127.0.0.1:8000", token) as worker:
        counts = worker.post(visits(200))            # {"read": 200, "events": 200, ...}
        again = worker.post(visits(200))             # events 0: collected once
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

import httpx

from simulators.sample_rows import sample_rows

__all__ = ["CommunityWorker", "bad_visits", "visits"]

Row = dict[str, str]


def visits(n_rows: int, seed: int = 1) -> list[Row]:
    """The first ``n_rows`` visit records of a district (same seed, same visits)."""
    return sample_rows("community", n_rows, seed)


def bad_visits(template: Row) -> list[Row]:
    """Visits the hub must refuse row by row (the form has no birth date to put in the future):
    no 走访编号, an unknown 性别 code, a relation no code table knows, a spreadsheet formula
    pasted into the address, and a 100 KB note."""
    return [
        {**template, "走访编号": ""},
        {**template, "走访编号": "ZF-BAD-SEX", "性别": "3"},
        {**template, "走访编号": "ZF-BAD-RELATION", "与户主关系": "邻居家的"},
        {**template, "走访编号": "ZF-BAD-FORMULA", "居住地址": '=HYPERLINK("http://example.invalid","1-2-301")'},
        {**template, "走访编号": "ZF-BAD-BIG", "备注": "独居" * 17_000},
    ]


class CommunityWorker:
    """Posts visits as JSON batches with the community's token; returns the hub's counts."""

    def __init__(self, base_url: str, token: str, *, source: str = "community", batch_rows: int = 1000,
                 timeout_s: float = 120.0) -> None:
        self.source, self.batch_rows = source, batch_rows
        self._client = httpx.Client(base_url=base_url, timeout=timeout_s,
                                    headers={"Authorization": f"Bearer {token}"})

    def post(self, rows: Sequence[Row], batch_id: str | None = None) -> dict[str, Any]:
        """One batch; raises ``httpx.HTTPStatusError`` on a 4xx/5xx answer."""
        body: dict[str, Any] = {"rows": list(rows)}
        if batch_id is not None:
            body["batch_id"] = batch_id
        response = self._client.post(f"/api/v1/ingest/{self.source}", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def post_all(self, rows: Iterable[Row]) -> list[dict[str, Any]]:
        """Every row, ``batch_rows`` at a time (a day's round of visits)."""
        batch: list[Row] = []
        results = []
        for row in rows:
            batch.append(row)
            if len(batch) >= self.batch_rows:
                results.append(self.post(batch))
                batch = []
        if batch:
            results.append(self.post(batch))
        return results

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CommunityWorker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
