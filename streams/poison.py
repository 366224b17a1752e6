"""One way for every agent to read its input and to apply it without one bad message stopping
the stream (a poison message): decode each message or dead-letter it, apply the batch, and when a
batch keeps failing while the store answers, apply its messages one at a time and dead-letter
those that still fail, with stage, reason and offset, so the partition moves on.

A failure of the store itself (locked, restarting, unreachable) is not a poison message: while
the store does not answer, the batch is retried as before (``streams.retry.until_applied``), and
nothing is set aside.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from core.privacy import redact
from schemas.codec import UnknownEventType, decode
from schemas.source_record import DeadLetter
from streams.retry import until_applied

log = logging.getLogger(__name__)
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Stage = Literal["standardise", "resolve", "project", "places", "ledger"]

__all__ = ["apply_or_set_aside", "decode_each", "where"]


def where(message: Any) -> str:
    return f"{message.topic}[{message.partition}]@{message.offset}"


def decode_each(events: Sequence[Any], want: type[M] | tuple[type[M], ...], stage: Stage
                ) -> tuple[list[tuple[Any, M]], list[DeadLetter]]:
    """(message, model) for each event that decodes to ``want`` (a type, or a tuple of types); a
    dead letter for each that does not."""
    found: list[tuple[Any, M]] = []
    rejected: list[DeadLetter] = []
    for event in events:
        msg = event.message
        try:
            model = decode(event.value)
            if not isinstance(model, want):
                raise UnknownEventType(f"unexpected {type(model).__name__}")
        except (ValueError, ValidationError, KeyError, TypeError) as exc:
            rejected.append(DeadLetter(source=_source(msg.topic), location=where(msg), stage=stage,
                                       reason=f"undecodable message: {type(exc).__name__}", raw_excerpt=_excerpt(event.value)))
            continue
        found.append((msg, model))
    return found, rejected


async def apply_or_set_aside(stage: Stage, items: Sequence[T], apply: Callable[[Sequence[T]], int], *,
                             locate: Callable[[T], str], dead: Callable[[list[DeadLetter]], Awaitable[None]],
                             healthy: Callable[[], bool], skip: Callable[[Sequence[T]], None] | None = None,
                             attempts: int = 3, first_wait_s: float = 0.5) -> int:
    """Apply ``items``; after ``attempts`` failures with the store answering (``healthy``), apply them
    one by one and dead-letter each that fails twice (``skip`` records it as handled, so a
    redelivery does not try it again). Returns how many took effect."""
    if not items:
        return 0
    try:
        return await until_applied(stage, lambda: apply(items), first_wait_s=first_wait_s, attempts=attempts)
    except Exception as exc:  # each attempt was logged; is a message to blame, or the store?
        log.warning("%s: batch of %d still failing (%s): looking for the message to blame", stage, len(items),
                    type(exc).__name__)
    if not await asyncio.to_thread(_answers, healthy):
        return await until_applied(stage, lambda: apply(items))  # the store is away: no message is to blame
    applied, poisoned = 0, 0
    for item in items:  # in order, so each profile's events and the positions stay in order
        for attempt in (1, 2):
            try:
                applied += await asyncio.to_thread(apply, [item])
                break
            except Exception as exc:
                if attempt < 2:
                    continue
                location = locate(item)
                # first the dead letter, then the skip: a crash in between sets it aside twice, never not at all
                await dead([DeadLetter(source=_source(location.split("[", 1)[0]), location=location, stage=stage,
                                       reason=f"{stage} failed on this message: {type(exc).__name__}: {_detail(exc)}")])
                if skip is not None:
                    await until_applied(f"{stage} (skip)", lambda item=item: skip([item]))  # type: ignore[misc]
                poisoned += 1
    if poisoned:
        log.error("%s: %d poison message(s) set aside to the dead-letter topic", stage, poisoned)
    return applied


def _answers(healthy: Callable[[], bool]) -> bool:
    try:
        return healthy()
    except Exception:
        return False


def _source(topic: str) -> str:
    """The department of a raw topic (``raw.civil_affairs`` → civil_affairs), else the topic's own name."""
    return topic.rsplit(".", 1)[-1]


def _detail(exc: BaseException) -> str:
    text = str(exc)
    return redact(text.splitlines()[0] if text else "")[:200]


def _excerpt(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return redact(text[:200])
