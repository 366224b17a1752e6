"""The resolver's backing store in memory, and the resolve stage's state over it.

:class:`MemoryBacking` is :class:`core.resolution.Backing` over dicts (the SQL one is
``store.resolver_state.SqlBacking``); :class:`MemoryResolverState` stands in for
``store.resolver_state.ResolverState`` in agent tests: the calls the resolve agent makes, the same
steps (skip inputs handled before, resolve over :class:`ResolverMemory`, save the changes with the
events), no lock and no SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

from core.matching import Matcher
from core.profile import ProfileError
from core.resolution import (
    Backing,
    LinkRow,
    ProfileState,
    ResolutionError,
    ResolverChanges,
    ResolverMemory,
    resolve_folded,
)
from schemas.codec import encode
from schemas.profile_events import ProfileEvent, ProfilesMerged
from schemas.record_events import MatcherSwitched, RecordStandardised

__all__ = ["MemoryBacking", "MemoryResolverState"]


class MemoryBacking(Backing):
    """What :meth:`save` was given, kept in dicts; the events in a list (the outbox)."""

    def __init__(self) -> None:
        self.links: dict[str, LinkRow] = {}
        self.profiles: dict[str, ProfileState] = {}
        self.block_sizes: dict[str, int] = {}
        self.block_members: dict[str, set[str]] = {}
        self.review_holders: dict[str, str] = {}
        self.events: list[ProfileEvent] = []
        self._merges: dict[str, ProfilesMerged] = {}

    def load_links(self, record_keys: Collection[str]) -> Mapping[str, LinkRow]:
        return {key: self.links[key] for key in record_keys if key in self.links}

    def load_profiles(self, profile_ids: Collection[str]) -> Mapping[str, ProfileState]:
        return {pid: self.profiles[pid] for pid in profile_ids if pid in self.profiles}

    def load_block_sizes(self, block_keys: Collection[str]) -> Mapping[str, int]:
        return {key: self.block_sizes[key] for key in block_keys if key in self.block_sizes}

    def load_block_members(self, block_keys: Collection[str]) -> Mapping[str, Sequence[str]]:
        return {key: sorted(self.block_members[key]) for key in block_keys if self.block_members.get(key)}

    def load_review_holders(self, review_ids: Collection[str]) -> Mapping[str, str]:
        return {rid: self.review_holders[rid] for rid in review_ids if rid in self.review_holders}

    def load_merge_event(self, event_id: str) -> ProfilesMerged | None:
        return self._merges.get(event_id)

    def save(self, changes: ResolverChanges, events: Sequence[ProfileEvent]) -> None:
        self.links.update(changes.links)
        for pid, state in changes.profiles.items():
            first = self.profiles.get(pid)
            self.profiles[pid] = state if first is None else ProfileState(state.profile, first.created_seq)
        self.block_sizes.update(changes.block_sizes)
        for (block, record), present in changes.block_members.items():
            if present:
                self.block_members.setdefault(block, set()).add(record)
            else:
                self.block_members.get(block, set()).discard(record)
        for rid, holder in changes.review_holders.items():
            if holder is None:
                self.review_holders.pop(rid, None)
            else:
                self.review_holders[rid] = holder
        self.events += events
        # the first merge event saved under an id is the one found (the outbox's event ids are unique)
        for event in events:
            if isinstance(event, ProfilesMerged):
                self._merges.setdefault(event.event_id, event)


class MemoryResolverState:
    """``ResolverState``'s calls from the resolve agent, over a :class:`MemoryBacking`.

    ``batches`` records every batch handed to :meth:`resolve_batch`, redeliveries included.
    """

    def __init__(self, backing: MemoryBacking | None = None) -> None:
        self.backing = backing if backing is not None else MemoryBacking()
        self.memory = ResolverMemory(self.backing)
        self.processed: dict[str, str | None] = {}  # input id → why it failed (None: resolved)
        self.published = 0
        self.batches: list[list[RecordStandardised]] = []
        self.matcher: str | None = None

    @property
    def outbox(self) -> list[ProfileEvent]:
        return self.backing.events

    def resolve_batch(self, items: Sequence[RecordStandardised], matcher: Matcher, *,
                      on_emitted: Callable[[Sequence[ProfileEvent]], None] | None = None) -> int:
        self.batches.append(list(items))
        todo = [item for item in {item.event_id: item for item in items}.values() if item.event_id not in self.processed]
        self.memory.prefetch(todo, matcher)
        emitted: list[ProfileEvent] = []
        for item in todo:
            try:
                events, folded = resolve_folded(item, self.memory, matcher)
            except (ResolutionError, ProfileError) as exc:
                self.processed[item.event_id] = f"{type(exc).__name__}: {exc}"
                continue
            self.memory.apply(events, blocking_keys=matcher.blocking_keys, record_hashes={item.key: item.content_hash},
                              folded=folded)
            emitted += events
            self.processed[item.event_id] = None
        self.backing.save(self.memory.changes(), emitted)
        self.memory.carry_over(self.backing)
        if on_emitted is not None:
            on_emitted(emitted)
        return len(emitted)

    def publish_outbox(self, send: Callable[[bytes, bytes], None], flush: Callable[[], None]) -> int:
        waiting = self.outbox[self.published:]
        for event in waiting:
            send(event.profile_id.encode("utf-8"), encode(event))
        flush()
        self.published += len(waiting)
        return len(waiting)

    def matcher_version(self) -> str | None:
        return self.matcher

    def switch_matcher(self, switch: MatcherSwitched, *, usable: bool = True, reason: str | None = None) -> bool:
        if switch.event_id in self.processed:
            return False
        self.processed[switch.event_id] = None if usable else reason
        if usable:
            self.matcher = switch.version
        return usable

    def failures(self) -> dict[str, str]:
        return {input_id: reason for input_id, reason in self.processed.items() if reason is not None}
