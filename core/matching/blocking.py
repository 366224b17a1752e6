"""Blocking: the keys that make two records a candidate pair (never all pairs).

Each blocking rule of the settings gives a record zero or more keys, written
``"<rule>:<value>"``; records sharing a key are compared. Keys derived from identity documents
(ID numbers, passports) are keyed hashes, never the numbers: keys end up in indexes and logs.

A typo'd ID number must still meet the right one, so the ``id_number_one_edit`` rule gives a
record one key per digit position: the number with that digit left out. Two numbers one
changed digit, one swap of neighbours, or one dropped digit apart share one of these keys
(the deletion neighbourhood of the symmetric-delete spelling correctors). Other documents
(passports, social-security numbers) get the same keys from ``other_id_one_edit``.

**Caps.** A key shared by more than its rule's ``max_block_size`` records (a landline of a
shared rental, a block of flats whose rooms are all "301") is skipped: too common to tell
people apart, and it would flood the resolver. :class:`BlockingIndex` applies the caps; a
resolver keeping its index elsewhere must apply the same rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache

from core.matching.features import MatchFeatures, match_features
from core.matching.settings import MatchSettings, default_settings
from core.privacy import short_keyed_hasher
from schemas.resident import ResidentRecord

__all__ = ["DEV_ID_HASH_KEY", "Blocker", "BlockingIndex", "blocking_keys"]

DEV_ID_HASH_KEY = "onceonly-dev-key-change-me"
"""The development default of ``onceonly.settings.Settings.id_hash_key``; production passes its own."""

_HASH_BYTES = 10  # 80 bits: collisions between different numbers are negligible at city scale


def _hasher(secret: bytes | str) -> Callable[[str], str]:
    return short_keyed_hasher(secret, _HASH_BYTES)


KeyBuilder = Callable[[MatchFeatures, Callable[[str], str]], Iterable[str]]


def _id_number(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (h("id:" + f.valid_id),) if f.valid_id else ()


def _id_number_one_edit(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    text = f.id_text
    if not text or len(text) < 15:
        return ()
    # The left-out position is not part of the key: a swap at (i, i+1) meets deletions i and
    # i+1; the whole number is a key too, so that a dropped or extra digit meets as well.
    keys = {h("del:" + text[:i] + text[i + 1 :]) for i in range(len(text))}
    keys.add(h("del:" + text))
    return keys


def _other_id(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (h(f"doc:{kind}:{value}") for kind, value in f.other_ids)


def _other_id_one_edit(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    # The deletion neighbourhood of each document number, as for ID numbers: a passport or
    # social-security number with one character changed, swapped or dropped meets the right one.
    keys: set[str] = set()
    for kind, value in f.other_ids:
        if len(value) >= 6:  # shorter numbers would meet half the district
            keys.update(h(f"docdel:{kind}:" + value[:i] + value[i + 1 :]) for i in range(len(value)))
            keys.add(h(f"docdel:{kind}:{value}"))
    return keys


def _household(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return f.residence.households


def _dwelling(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return f.residence.dwellings | f.residence.number_flats


def _phone(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return f.residence.phones


def _birth_date(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f.birth_digits,) if f.birth_digits else ()


def _pinyin_birth_year(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f"{f.pinyin_key}|{f.birth_year}",) if f.pinyin_key and f.birth_year else ()


def _sorted_tokens_birth_year(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f"{f.sorted_tokens}|{f.birth_year}",) if f.sorted_tokens and f.birth_year else ()


def _surname_birth_month(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f"{f.surname_pinyin}|{f.birth_month}",) if f.surname_pinyin and f.birth_month else ()


def _latin_sorted_tokens(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f.sorted_tokens,) if f.script == "latin" and f.sorted_tokens else ()


def _latin_name_word(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    # Each word of a Latin name on its own: the given name replaced or the surname misspelt,
    # the other word still meets (common words exceed the cap and are skipped).
    return (w for w in f.tokens if len(w) >= 2) if f.script == "latin" else ()


def _name_flat(f: MatchFeatures, h: Callable[[str], str]) -> Iterable[str]:
    return (f"{f.pinyin_key}|{flat}" for flat in f.residence.flats) if f.pinyin_key else ()


_BUILDERS: dict[str, KeyBuilder] = {
    "id_number": _id_number,
    "id_number_one_edit": _id_number_one_edit,
    "other_id": _other_id,
    "other_id_one_edit": _other_id_one_edit,
    "household_id": _household,
    "dwelling": _dwelling,
    "phone": _phone,
    "birth_date": _birth_date,
    "pinyin_birth_year": _pinyin_birth_year,
    "sorted_tokens_birth_year": _sorted_tokens_birth_year,
    "surname_birth_month": _surname_birth_month,
    "latin_sorted_tokens": _latin_sorted_tokens,
    "latin_name_word": _latin_name_word,
    "name_flat": _name_flat,
}


_RECENT = 4096  # records whose keys a blocker remembers


class Blocker:
    """The blocking rules of a settings file, with the key for hashing identity documents."""

    def __init__(self, settings: MatchSettings | None = None, id_hash_key: bytes | str = DEV_ID_HASH_KEY):
        self.settings = settings or default_settings()
        self._hash = _hasher(id_hash_key)
        self._rules = tuple((rule.name, _BUILDERS[rule.key]) for rule in self.settings.blocking_rules)
        self.caps = {rule.name: rule.max_block_size for rule in self.settings.blocking_rules}
        self._recent: dict[int, tuple[object, frozenset[str]]] = {}

    def keys(self, record: ResidentRecord | MatchFeatures) -> frozenset[str]:
        """Every blocking key of a record, ``"<rule>:<value>"``.

        Remembered for the last few thousand records asked about (resolving a record asks for its
        keys to find candidates, then again to index it): keyed by the object's identity, the
        entry holding the object so the identity cannot be reused while it is remembered."""
        known = self._recent.get(id(record))
        if known is not None and known[0] is record:
            return known[1]
        features = match_features(record)
        keys = frozenset(f"{name}:{value}" for name, build in self._rules for value in build(features, self._hash))
        if len(self._recent) >= _RECENT:
            self._recent.clear()
        self._recent[id(record)] = (record, keys)
        return keys

    def cap(self, key: str) -> int:
        return self.caps[key.partition(":")[0]]


@cache
def _default_blocker() -> Blocker:
    return Blocker()


def blocking_keys(record: ResidentRecord | MatchFeatures, *, blocker: Blocker | None = None) -> frozenset[str]:
    """The blocking keys of a record under the default settings (development hash key).

    >>> from datetime import datetime
    >>> r = ResidentRecord(source="housing", record_id="1", observed_at=datetime(2024, 1, 1),
    ...                    name="张伟", name_script="han", name_pinyin="zhang wei", phones=("+8613800138000",))
    >>> sorted(blocking_keys(r))
    ['phone:+8613800138000']
    """
    return (blocker or _default_blocker()).keys(record)


class BlockingIndex:
    """An in-memory index from blocking keys to items (records), honouring the caps.

    Lookups are deterministic (keys in sorted order, items in the order they were added), so a
    resolver that adds records in log order gets the same candidates on every replay.
    """

    def __init__(self, blocker: Blocker) -> None:
        self.blocker = blocker
        self._items: dict[str, dict[str, None]] = {}

    def add(self, item: str, keys: Iterable[str]) -> None:
        for key in keys:
            self._items.setdefault(key, {})[item] = None

    def remove(self, item: str, keys: Iterable[str]) -> None:
        for key in keys:
            block = self._items.get(key)
            if block is not None:
                block.pop(item, None)

    def lookup(self, keys: Iterable[str]) -> list[str]:
        """Items sharing any key with ``keys``, skipping keys over their rule's cap."""
        found: dict[str, None] = {}
        for key in sorted(keys):
            block = self._items.get(key)
            if block and len(block) <= self.blocker.cap(key):
                found.update(block)
        return list(found)

    def blocks(self) -> Iterable[tuple[str, list[str]]]:
        """Every key with its items, keys over their cap left out."""
        for key, block in self._items.items():
            if 2 <= len(block) <= self.blocker.cap(key):
                yield key, list(block)
