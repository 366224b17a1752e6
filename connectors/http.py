"""The HTTP transport: a department's JSON API, paged by an ``updated_since`` cursor.

The API (see ``simulators/social_security.py`` for the one the tests run) hands out bearer
tokens for client credentials and pages rows changed since a cursor, ordered by (change time,
key). The reader always asks for the first page *after the last row it read*
(``updated_since`` + ``after_<key>``): keyset paging, so rows that change while it pages move
behind the cursor instead of shifting unread rows out of reach, as offset paging would.

Each page's cursor is saved (by the shared loop) once its rows are in Kafka; a killed or failed
run resumes after the last saved page, never past a page it did not deliver. Connection errors,
timeouts, 5xx and 429 are retried with exponential backoff and jitter (``Retry-After`` is
honoured); a page still failing after ``give_up_after_s`` fails the run with
:class:`SourceUnavailable`. A 401 fetches a new token once; refused credentials or another 4xx
fail at once.

The mapping file's ``transport`` block (:class:`HttpTransport`) names the environment variables
that hold the URL and the client credentials; secrets never sit in the mapping file.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.rows import CursorLookup, NativeRow, Page, Row, UnreadableRow
from connectors.spec import ConnectorSpec
from core.privacy import redact

log = logging.getLogger(__name__)

CURSOR = "cursor"  # checkpoint name: {"updated_since": <change time>, "after": <key>} of the last row saved


class HttpSourceError(RuntimeError):
    """The department's API answered in a way retrying cannot fix (credentials, a 4xx, a bad shape)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SourceUnavailable(HttpSourceError):
    """A request kept failing for longer than the transport allows; the run stops there."""


class HttpTransport(BaseModel):
    """``transport:`` of a ``kind: http`` mapping file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = Field(default=None, description="The API's root URL (or use base_url_env)")
    base_url_env: str | None = Field(default=None, description="Environment variable holding the root URL")
    client_id_env: str = Field(description="Environment variable holding the client id")
    client_secret_env: str = Field(description="Environment variable holding the client secret")
    token_path: str = "/auth/token"  # noqa: S105 - a URL path, not a secret
    path: str = Field(description="The paged list of records, e.g. /api/insured")
    page_size: int = Field(default=500, ge=1, le=10_000)
    cursor_field: str = Field(description="The row's change time, compared by the API's updated_since")
    key_field: str | None = Field(default=None, description="Breaks ties on the change time; default: record_id[0]")
    items_key: str = "items"
    timeout_s: float = Field(default=30.0, gt=0)
    give_up_after_s: float = Field(default=600.0, gt=0, description="How long one page may keep failing")
    backoff_s: float = Field(default=0.5, gt=0, description="First retry delay; doubles per attempt")
    backoff_cap_s: float = Field(default=30.0, gt=0)
    lookback_s: float = Field(default=0.0, ge=0, description="Re-read this much before the saved cursor "
                              "(for APIs whose change times can commit late); re-read rows send nothing")

    @model_validator(mode="after")
    def _one_url(self) -> HttpTransport:
        if (self.base_url is None) == (self.base_url_env is None):
            raise ValueError("give exactly one of base_url and base_url_env")
        return self


class HttpReader:
    """Reads a ``kind: http`` source page by page from its saved cursor."""

    def __init__(self, spec: ConnectorSpec) -> None:
        self.spec = spec
        self.settings = HttpTransport.model_validate(spec.transport)
        self.key_field = self.settings.key_field or spec.record_id[0]
        self._token: str | None = None
        self._token_expires = 0.0

    # -- the Reader protocol -----------------------------------------------------------------------
    def pages(self, cursors: CursorLookup) -> Iterator[Page]:
        saved = cursors.checkpoint(CURSOR) or {}
        since: str | None = saved.get("updated_since")
        after: str | None = saved.get("after")
        if since is not None and self.settings.lookback_s:
            since = (datetime.fromisoformat(since) - timedelta(seconds=self.settings.lookback_s)).isoformat()
            after = None
        s = self.settings
        with httpx.Client(base_url=self._base_url(), timeout=s.timeout_s, headers={"Accept": "application/json"}) as client:
            number = 0
            while True:
                number += 1
                params: dict[str, Any] = {"page": 1, "size": s.page_size}
                if since is not None:
                    params["updated_since"] = since
                if after is not None:
                    params[f"after_{self.key_field}"] = after
                items, has_more = self._items(self._get(client, s.path, params, f"page {number}"), number)
                if not items:
                    return
                rows = [self._row(item, f"page {number}, index {i}") for i, item in enumerate(items)]
                since, after = self._advance(items, since, after, number)
                yield Page(rows=rows, checkpoints={CURSOR: {"updated_since": since, "after": after}})
                if not has_more:
                    return

    def scanned_scopes(self) -> Sequence[str] | None:
        return []  # an incremental feed says nothing about rows it did not send; deletions come as rows

    def unchanged_scopes(self) -> Sequence[str]:
        return []

    # -- pages ---------------------------------------------------------------------------------------
    def _items(self, response: httpx.Response, number: int) -> tuple[list[Any], bool]:
        try:
            body = response.json()
        except ValueError as exc:
            raise HttpSourceError(f"{self._where(self.settings.path)} page {number}: the answer is not JSON") from exc
        items = body.get(self.settings.items_key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise HttpSourceError(f"{self._where(self.settings.path)} page {number}: "
                                  f"no {self.settings.items_key!r} list in the answer")
        return items, bool(body.get("has_more", bool(items)))

    def _row(self, item: Any, location: str) -> Row:
        if not isinstance(item, dict):
            return UnreadableRow(location, "not a JSON object", redact(repr(item))[:200])
        return NativeRow(location, item)

    def _advance(self, items: list[Any], since: str | None, after: str | None, number: int) -> tuple[str, str]:
        """The cursor after a page: its last row's (change time, key). It must move forward, or
        the same page would be asked for forever."""
        last = items[-1] if isinstance(items[-1], dict) else {}
        changed = last.get(self.settings.cursor_field)
        if not changed:
            raise HttpSourceError(f"{self._where(self.settings.path)} page {number}: the last row has no "
                                  f"{self.settings.cursor_field!r}, the cursor cannot move")
        position = (str(changed), str(last.get(self.key_field) or ""))
        if since is not None and (_instant(position[0]), position[1]) <= (_instant(since), after or ""):
            raise HttpSourceError(f"{self._where(self.settings.path)} page {number}: rows do not come after the "
                                  f"cursor ({self.settings.cursor_field} {since}); the API ignores updated_since")
        return position

    # -- requests with retries -----------------------------------------------------------------------
    def _get(self, client: httpx.Client, path: str, params: dict[str, Any], what: str) -> httpx.Response:
        return self._request(client, "GET", path, what, params=params, authorised=True)

    def _request(self, client: httpx.Client, method: str, path: str, what: str, *, authorised: bool,
                 **kwargs: Any) -> httpx.Response:
        """One request, retried until it succeeds or ``give_up_after_s`` is spent."""
        s = self.settings
        started = time.monotonic()
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            headers = {"Authorization": f"Bearer {self._bearer(client)}"} if authorised else {}
            retry_after: float | None = None
            try:
                response = client.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:  # refused, reset, timed out, cut short
                failure = type(exc).__name__
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and authorised and not refreshed:
                    self._token, refreshed = None, True  # expired or revoked: one new token, at once
                    attempt -= 1
                    continue
                if status not in (408, 429) and status < 500:
                    raise HttpSourceError(f"{self._where(path)} {what}: HTTP {status}"
                                          + (" (a token just issued was refused)" if status == 401 else ""), status)
                failure = f"HTTP {status}"
                retry_after = _retry_after(response.headers.get("Retry-After"))
            backoff = min(s.backoff_cap_s, s.backoff_s * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
            wait = max(backoff, retry_after) if retry_after is not None else backoff
            spent = time.monotonic() - started
            if spent + wait > s.give_up_after_s:
                raise SourceUnavailable(
                    f"{self._where(path)} {what}: still failing after {spent:.0f} s and {attempt} attempts "
                    f"(last: {failure}); gave up (give_up_after_s = {s.give_up_after_s:g}). "
                    "Pages before it are saved; the next run resumes there.")
            log.warning("%s %s: %s, attempt %d, retrying in %.1f s", self._where(path), what, failure, attempt, wait)
            time.sleep(wait)

    def _bearer(self, client: httpx.Client) -> str:
        if self._token is None or time.monotonic() >= self._token_expires:
            s = self.settings
            form = {"grant_type": "client_credentials", "client_id": _env(s.client_id_env, self.spec.source),
                    "client_secret": _env(s.client_secret_env, self.spec.source)}
            try:
                response = self._request(client, "POST", s.token_path, "token", authorised=False, data=form)
            except HttpSourceError as exc:
                if exc.status in (400, 401, 403):
                    raise HttpSourceError(f"{self._where(s.token_path)}: client credentials refused (check "
                                          f"{s.client_id_env} and {s.client_secret_env})") from None
                raise
            try:
                body = response.json()
            except ValueError:
                body = None
            token = body.get("access_token") if isinstance(body, dict) else None
            if not token:
                raise HttpSourceError(f"{self._where(s.token_path)}: no access_token in the answer")
            lifetime = float(body.get("expires_in") or 300)
            self._token = str(token)
            self._token_expires = time.monotonic() + max(1.0, lifetime * 0.9)  # renew a little early
        return self._token

    # -- helpers ---------------------------------------------------------------------------------------
    def _base_url(self) -> str:
        s = self.settings
        return s.base_url if s.base_url is not None else _env(s.base_url_env or "", self.spec.source)

    def _where(self, path: str) -> str:
        return redact(f"{self.spec.source}: {path}")


def _env(name: str, source: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise HttpSourceError(f"{source}: environment variable {name} is not set (the mapping file names it)")
    return value


def _instant(text: str) -> datetime | str:
    """A change time to compare: parsed when it is ISO 8601 (spellings differ), else the text."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
