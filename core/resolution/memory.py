"""The resolver's state in memory: a fold of the events it emitted, readable as a ResolverView.

:class:`ResolverMemory` keeps record links (record key → profile, content hash, blocking keys),
the blocking index (key → records, with sizes, so keys over their cap are skipped), the folded
profiles with their creation sequence, who holds each pending review, and the merges. Applying
events updates all of it the way the events say: a link opens a record's blocking keys, a
merge moves the merged-away profile's records and reviews to the survivor, a split moves
records to the other profile.

Alone, it is the resolver of the unit tests and of quick experiments. Given a :class:`Backing`
(``store.resolver_state``), it loads what it has not seen from SQL on first use and remembers
what it changed (:meth:`ResolverMemory.changes`), so a batch reads its own earlier decisions and
the store writes them back in the same transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from core.matching import Matcher
from core.profile import Profile, apply, new_profile_id
from core.resolution.errors import ResolutionError
from core.resolution.resolve import resolve_folded
from core.resolution.steward import command_events
from core.resolution.view import CandidateRecord, ProfileState, RecordLink
from schemas.profile_events import (
    ProfileEvent,
    ProfilesMerged,
    ProfileSplit,
    RecordLinked,
    RecordUpdated,
    ReviewRequested,
    ReviewResolved,
    StewardCommand,
    record_key,
)
from schemas.record_events import RecordStandardised
from schemas.resident import ResidentRecord

__all__ = ["Backing", "LinkRow", "ResolverChanges", "ResolverMemory"]

BlockingKeys = Callable[[ResidentRecord], Collection[str]]


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A linked record: its profile, the content hash of the version linked, its blocking keys."""

    profile_id: str
    content_hash: str
    block_keys: tuple[str, ...]


class Backing(ABC):
    """Where state not yet in memory comes from, and where what a batch changed goes back (the SQL
    tables: ``store.resolver_state.SqlBacking``; an in-memory fake for unit tests). Every load is
    in bulk: it returns at most the keys asked for, and what it does not return does not exist.

    The contract every implementation keeps (``tests/contract``): what :meth:`save` wrote, the
    loads read back; a ``None`` or ``False`` in the changes deletes; block members come in record
    key order; a merge event saved is found again by its event id.
    """

    @abstractmethod
    def load_links(self, record_keys: Collection[str]) -> Mapping[str, LinkRow]:
        """Record key → its link, for the keys linked."""

    @abstractmethod
    def load_profiles(self, profile_ids: Collection[str]) -> Mapping[str, ProfileState]:
        """Profile id → the profile folded and its creation sequence, for the profiles stored."""

    @abstractmethod
    def load_block_sizes(self, block_keys: Collection[str]) -> Mapping[str, int]:
        """Blocking key → how many records it indexes, for the keys ever written (an emptied key: 0)."""

    @abstractmethod
    def load_block_members(self, block_keys: Collection[str]) -> Mapping[str, Sequence[str]]:
        """Blocking key → its records in record key order, for the keys with any."""

    @abstractmethod
    def load_review_holders(self, review_ids: Collection[str]) -> Mapping[str, str]:
        """Review id → the profile holding the pending review, for the reviews pending."""

    @abstractmethod
    def load_merge_event(self, event_id: str) -> ProfilesMerged | None:
        """The merge event saved with this event id (``None``: none, or not a merge)."""

    @abstractmethod
    def save(self, changes: ResolverChanges, events: Sequence[ProfileEvent]) -> None:
        """Write back what applying ``events`` changed (:meth:`ResolverMemory.changes`) and keep
        the events (the merges among them are what :meth:`load_merge_event` reads). A profile
        keeps the creation sequence it was first saved with."""


@dataclass
class ResolverChanges:
    """What applying events changed, for a store to write back (``None``: delete)."""

    links: dict[str, LinkRow] = field(default_factory=dict)
    profiles: dict[str, ProfileState] = field(default_factory=dict)
    block_sizes: dict[str, int] = field(default_factory=dict)
    block_members: dict[tuple[str, str], bool] = field(default_factory=dict)  # (block key, record key) → present
    review_holders: dict[str, str | None] = field(default_factory=dict)


class ResolverMemory:
    """A :class:`~core.resolution.view.ResolverView` that folds the events it is given.

    Resolve and apply in one step, then read the clustering::

        memory = ResolverMemory()
        for item in items:                      # RecordStandardised, in log order
            memory.resolve(item, matcher)
        memory.partition()                      # {"public_security:GA-1": "p-…", …}
    """

    def __init__(self, backing: Backing | None = None, *, next_seq: int = 1) -> None:
        self._backing = backing
        self.next_seq = next_seq
        self._links: dict[str, LinkRow | None] = {}
        self._profiles: dict[str, ProfileState | None] = {}
        self._sizes: dict[str, int] = {}
        self._members: dict[str, dict[str, None]] = {}  # blocks loaded whole
        self._member_changes: dict[str, dict[str, bool]] = {}
        self._reviews: dict[str, str | None] = {}
        self._merges: dict[str, ProfilesMerged | None] = {}
        self._changed = ResolverChanges()

    # ResolverView ----------------------------------------------------------------------------

    def record_link(self, record_key: str) -> RecordLink | None:
        row = self.link_row(record_key)
        return RecordLink(row.profile_id, row.content_hash) if row is not None else None

    def candidates(self, blocking_keys: Collection[str], max_block_size: Callable[[str], int]) -> list[CandidateRecord]:
        keys = sorted(blocking_keys)
        self._load_sizes(keys)
        usable = [key for key in keys if 0 < self._sizes[key] <= max_block_size(key)]
        self._load_members(usable)
        found: dict[str, None] = {}
        for key in usable:
            found.update(self._members[key])
        self.prefetch_links(found)
        links = [(key, row) for key in found if (row := self._links.get(key)) is not None]
        self._load_profiles({row.profile_id for _, row in links})
        return [CandidateRecord(key, row.profile_id) for key, row in links]

    def profile(self, profile_id: str) -> ProfileState | None:
        self._load_profiles((profile_id,))
        return self._profiles[profile_id]

    def review_holder(self, review_id: str) -> str | None:
        if review_id not in self._reviews:
            loaded = self._backing.load_review_holders((review_id,)) if self._backing else {}
            self._reviews[review_id] = loaded.get(review_id)
        return self._reviews[review_id]

    def merge_event(self, event_id: str) -> ProfilesMerged | None:
        if event_id not in self._merges:
            self._merges[event_id] = self._backing.load_merge_event(event_id) if self._backing else None
        return self._merges[event_id]

    # Reading more ----------------------------------------------------------------------------

    def link_row(self, record_key: str) -> LinkRow | None:
        self.prefetch_links((record_key,))
        return self._links[record_key]

    def prefetch_links(self, record_keys: Iterable[str]) -> None:
        """Load the links of many records at once (a batch's own keys, a block's members)."""
        missing = [key for key in record_keys if key not in self._links]
        if not missing:
            return
        loaded = self._backing.load_links(missing) if self._backing else {}
        for key in missing:
            self._links[key] = loaded.get(key)

    def prefetch(self, items: Iterable[RecordStandardised], matcher: Matcher) -> None:
        """Load in bulk what resolving ``items`` will read: their links, their blocks (within the
        caps), the records in those blocks with their links and profiles, and the profiles the
        items would open. A batch then makes a handful of queries, not a handful per record;
        its decisions still read the batch's own earlier changes."""
        items = list(items)
        self.prefetch_links(item.key for item in items)
        keys: set[str] = set()
        for item in items:
            if item.record is not None:
                keys.update(matcher.blocking_keys(item.record))
        self._load_sizes(keys)
        usable = [key for key in keys if 0 < self._sizes[key] <= matcher.blocker.cap(key)]
        self._load_members(usable)
        found: dict[str, None] = {}
        for key in usable:
            found.update(self._members[key])
        self.prefetch_links(found)
        profile_ids = {row.profile_id for key in found if (row := self._links.get(key)) is not None}
        profile_ids |= {row.profile_id for item in items if (row := self._links.get(item.key)) is not None}
        self._load_profiles(profile_ids | {new_profile_id(item.event_id) for item in items})

    def partition(self) -> dict[str, str]:
        """Record key → profile id of every link in memory (all of them, without a backing)."""
        return {key: row.profile_id for key, row in self._links.items() if row is not None}

    def profiles(self) -> dict[str, ProfileState]:
        """Every profile in memory."""
        return {pid: state for pid, state in self._profiles.items() if state is not None}

    def changes(self) -> ResolverChanges:
        return self._changed

    def size(self) -> int:
        """How many profiles this state holds in memory (a cache's bound)."""
        return len(self._profiles)

    def carry_over(self, backing: Backing) -> None:
        """Go on from here over ``backing``: the changes so far were written back (the store
        committed them), so the next batch starts with none and loads what it lacks from
        ``backing``. Only for a backing that holds exactly what this state wrote."""
        self._backing = backing
        self._changed = ResolverChanges()
        self._member_changes = {}

    # Resolving and folding -------------------------------------------------------------------

    def resolve(self, item: RecordStandardised, matcher: Matcher) -> list[ProfileEvent]:
        """Resolve one record version over this state and apply the events it causes."""
        events, folded = resolve_folded(item, self, matcher)
        self.apply(events, blocking_keys=matcher.blocking_keys, record_hashes={item.key: item.content_hash},
                   folded=folded)
        return events

    def handle(self, command: StewardCommand) -> list[ProfileEvent]:
        """Turn a steward command into events over this state and apply them."""
        events = command_events(command, self)
        self.apply(events)
        return events

    def apply(self, events: Iterable[ProfileEvent], *, blocking_keys: BlockingKeys | None = None,
              record_hashes: Mapping[str, str] | None = None, folded: Mapping[str, Profile] | None = None) -> None:
        """Fold events into the state. ``blocking_keys`` indexes the records that events link or
        update, ``record_hashes`` gives their versions' content hashes (events do not carry them).

        ``folded`` (from :func:`~core.resolution.resolve.resolve_folded`) are the profiles the
        events end in, folded already over this same state: taken as they are, not folded again.
        """
        hashes = record_hashes or {}
        for event in events:
            before = self.profile(event.profile_id)
            if folded is not None and event.profile_id in folded:
                profile = folded[event.profile_id]
            else:
                profile = apply(before.profile if before is not None else None, event)
            seq = before.created_seq if before is not None else self._take_seq()
            self._set_profile(ProfileState(profile, seq))
            if isinstance(event, (RecordLinked, RecordUpdated)):
                key = record_key(event.record.source, event.record.record_id)
                if blocking_keys is None:
                    raise ResolutionError(f"{type(event).__name__} of {key} applied without blocking keys")
                old = self.link_row(key)
                content_hash = hashes.get(key, old.content_hash if old is not None else "")
                self._relink(key, event.profile_id, content_hash, tuple(sorted(blocking_keys(event.record))))
            elif isinstance(event, ProfilesMerged):
                self._merges[event.event_id] = event
                if event.profile_id == event.survivor:
                    self._move((linked.key for linked in event.records), event.survivor)
                    for review in event.reviews:
                        self._set_review(review.review_id, event.survivor)
            elif isinstance(event, ProfileSplit):
                if event.profile_id == event.to_profile:
                    self._move((linked.key for linked in event.records), event.to_profile)
            elif isinstance(event, ReviewRequested):
                self._set_review(event.review_id, event.profile_id)
            elif isinstance(event, ReviewResolved):
                if self.review_holder(event.review_id) == event.profile_id:
                    self._set_review(event.review_id, None)

    def _take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def _set_profile(self, state: ProfileState) -> None:
        self._profiles[state.profile.profile_id] = state
        self._changed.profiles[state.profile.profile_id] = state

    def _set_review(self, review_id: str, holder: str | None) -> None:
        self._reviews[review_id] = holder
        self._changed.review_holders[review_id] = holder

    def _set_link(self, key: str, row: LinkRow) -> None:
        self._links[key] = row
        self._changed.links[key] = row

    def _relink(self, key: str, profile_id: str, content_hash: str, block_keys: tuple[str, ...]) -> None:
        old = self.link_row(key)
        old_keys = set(old.block_keys) if old is not None else set()
        new_keys = set(block_keys)
        self._load_sizes(old_keys | new_keys)
        for block in sorted(old_keys - new_keys):
            self._member(block, key, present=False)
        for block in sorted(new_keys - old_keys):
            self._member(block, key, present=True)
        self._set_link(key, LinkRow(profile_id, content_hash, block_keys))

    def _move(self, keys: Iterable[str], profile_id: str) -> None:
        keys = list(keys)
        self.prefetch_links(keys)
        for key in keys:
            row = self._links[key]
            if row is not None and row.profile_id != profile_id:
                self._set_link(key, LinkRow(profile_id, row.content_hash, row.block_keys))

    def _member(self, block: str, key: str, *, present: bool) -> None:
        self._sizes[block] += 1 if present else -1
        self._changed.block_sizes[block] = self._sizes[block]
        self._changed.block_members[(block, key)] = present
        self._member_changes.setdefault(block, {})[key] = present
        members = self._members.get(block)
        if members is not None:
            if present:
                members[key] = None
            else:
                members.pop(key, None)

    # Loading ---------------------------------------------------------------------------------

    def _load_profiles(self, profile_ids: Iterable[str]) -> None:
        missing = [pid for pid in profile_ids if pid not in self._profiles]
        if not missing:
            return
        loaded = self._backing.load_profiles(missing) if self._backing else {}
        for pid in missing:
            self._profiles[pid] = loaded.get(pid)

    def _load_sizes(self, block_keys: Iterable[str]) -> None:
        missing = [key for key in block_keys if key not in self._sizes]
        if not missing:
            return
        loaded = self._backing.load_block_sizes(missing) if self._backing else {}
        for key in missing:
            self._sizes[key] = size = loaded.get(key, 0)
            if size == 0:
                self._members.setdefault(key, {})  # none stored: members are what this state adds

    def _load_members(self, block_keys: Iterable[str]) -> None:
        missing = [key for key in block_keys if key not in self._members]
        if not missing:
            return
        loaded = self._backing.load_block_members(missing) if self._backing else {}
        for key in missing:
            members = dict.fromkeys(loaded.get(key, ()))
            for record, present in self._member_changes.get(key, {}).items():
                if present:
                    members[record] = None
                else:
                    members.pop(record, None)
            self._members[key] = members
