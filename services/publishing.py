"""Publishing what passed validation: profile snapshots to the compacted topic and department
extracts, the use case behind the publish flow (``flows.publish``).

(a) Every profile whose version changed since the last publish goes to the compacted topic
``profiles.published`` keyed by profile id (acks=all), so a reader of the topic sees each
resident's latest snapshot: only the fields some grant shares, conditional ones masked, the ID
number as a keyed hash and masked, never in clear (:func:`core.planner.published_snapshot`). A
merged-away profile is published as its redirect.
(b) Each department in ``config/grants.yaml`` (read by ``onceonly.bootstrap.grants``, the one grants
model) gets an extract under ``<data_dir>/extracts/<department>/`` (CSV and JSONL) holding the
profile id and exactly the fields it is granted; an ID number only where granted.

A failed validation (:mod:`services.validation`) quarantines its batches (``store.flow_batches``),
publishes nothing and fails the run with the steward's report; a later run over the corrected data
publishes.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from core.planner import Grants, extract_row, published_snapshot
from core.planner.notices import Split, notices
from core.profile import Profile
from onceonly.settings import Settings
from services.objections import ObjectionService
from services.validation import Validation
from store import flow_batches

PUBLISHED_TOPIC = "profiles.published"


class ValidationFailed(RuntimeError):
    """Validation failed: the batch is quarantined and nothing was published."""


@dataclass(frozen=True)
class Published:
    snapshots: int
    extracts: dict[str, Path]  # department → its CSV
    batches: list[str]
    report: str | None
    data_docs: str


@dataclass(frozen=True)
class PublishValidated:
    """Publish the profile store to the topic and the extracts, if ``validation`` passed; ``grants``:
    what each department receives."""

    validation: Validation
    grants: Grants


def published_topic(settings: Settings) -> str:
    return settings.topic(PUBLISHED_TOPIC)


OBJECTION_COLUMNS = ("objection_id", "profile_id", "field", "reason", "proposed_value", "due_on", "escalated",
                     "answer", "note", "suggested_department")


class PublishingService:
    """``profiles`` reads the profile store; ``objections`` gives the objections service the feeds are
    written through (built when first needed); snapshots go to ``topic`` on the cluster
    ``kafka_bootstrap`` names, extracts under ``data_dir/extracts``."""

    def __init__(self, engine: Engine, profiles: Callable[[], Iterable[Profile]],
                 objections: Callable[[], ObjectionService], *, kafka_bootstrap: Callable[[], str], topic: str,
                 partitions: int, data_dir: Path, id_hash_key: str) -> None:
        self.engine = engine
        self.profiles = profiles
        self.objections = objections
        self.kafka_bootstrap = kafka_bootstrap
        self.topic = topic
        self.partitions = partitions
        self.data_dir = data_dir
        self.id_hash_key = id_hash_key

    def publish(self, command: PublishValidated) -> Published:
        """Snapshots and extracts, then the validated batches marked published; raises
        :class:`ValidationFailed` (nothing published) when the validation did not pass."""
        validation = command.validation
        if not validation.passed:
            raise ValidationFailed(f"validation failed; nothing published; report: {validation.report}")
        profiles = list(self.profiles())
        sent = self.send_snapshots(profiles, command.grants)
        extracts = self.write_extracts(profiles, command.grants)
        batch_ids = [b.batch_id for b in validation.batches]
        flow_batches.mark_published(self.engine, batch_ids)
        return Published(snapshots=sent, extracts=extracts, batches=batch_ids, report=validation.report,
                         data_docs=validation.data_docs)

    def snapshot(self, profile: Profile, grants: Grants) -> dict[str, object]:
        """What the published topic holds for one profile: the shared fields, no clear ID number."""
        return published_snapshot(profile, grants, id_hash_key=self.id_hash_key)

    def send_snapshots(self, profiles: list[Profile], grants: Grants) -> int:
        """Send the profiles that changed since the last publish; remember their versions once acked."""
        from kafka_adapter import clients
        from kafka_adapter.admin import ensure_topics

        engine = self.engine
        bootstrap_servers = self.kafka_bootstrap()
        topic = self.topic
        ensure_topics(bootstrap_servers, [topic], partitions=self.partitions, compacted=[topic])
        sent_before = flow_batches.published_versions(engine)
        changed = [p for p in profiles if sent_before.get(p.profile_id) != p.version]
        producer = clients.producer(bootstrap_servers, client_id="onceonly-publish", key_serializer=str.encode,
                                    value_serializer=lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8"))
        try:
            futures = [producer.send(topic, key=p.profile_id, value=self.snapshot(p, grants)) for p in changed]
            producer.flush()
            for future in futures:
                future.get(timeout=60)  # raises if the broker did not acknowledge
        finally:
            producer.close()
        flow_batches.save_published(engine, {p.profile_id: p.version for p in changed})
        return len(changed)

    def write_extracts(self, profiles: list[Profile], grants: Grants) -> dict[str, Path]:
        """One extract per department: the profile id and its granted fields, nothing else; and in its
        ``notices.jsonl`` feed, a notice for each profile of its previous extract that was merged away or
        split since (old id → new id, which granted fields changed)."""
        written: dict[str, Path] = {}
        active = sorted((p for p in profiles if p.is_active), key=lambda p: p.profile_id)
        by_id = {p.profile_id: p for p in profiles}
        splits = logged_splits(self.engine)
        for department, grant in grants.departments.items():
            folder = self.data_dir / "extracts" / department
            folder.mkdir(parents=True, exist_ok=True)
            previous = _read_rows(folder / "profiles.jsonl")
            rows = [extract_row(p, grant) for p in active]
            columns = ["profile_id", *grant.field_names]
            csv_path = folder / "profiles.csv"
            with csv_path.open("w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=columns)
                writer.writeheader()
                writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
            with (folder / "profiles.jsonl").open("w", encoding="utf-8") as fh:
                for row in rows:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            current = {str(r["profile_id"]): r for r in rows}
            feed = folder / "notices.jsonl"
            sent = {str(n["notice_id"]) for n in _read_rows(feed, key="notice_id").values()}
            fresh = [n for n in notices(previous, current, by_id, splits, grant.field_names) if n.notice_id not in sent]
            with feed.open("a", encoding="utf-8") as fh:
                for notice in fresh:
                    fh.write(json.dumps(notice.as_dict(), ensure_ascii=False) + "\n")
            self.write_objections_feed(department, folder / "objections.csv")
            (folder / "grant.json").write_text(json.dumps({
                "department": department, "title": grant.title, "residents": len(rows),
                "fields": [{"field": g.field, "purpose": g.purpose, "sharing": g.sharing, "basis": g.basis}
                           for g in grant.fields],
                "notices": len(sent) + len(fresh),
            }, ensure_ascii=False, indent=2), encoding="utf-8")
            written[department] = csv_path
        return written

    def write_objections_feed(self, department: str, path: Path) -> int:
        """The open objections routed to ``department``, as the file it answers in: it fills ``answer``
        (corrected, confirmed, not_ours), ``note`` and ``suggested_department`` and sends it back
        (``onceonly objections answers FILE --department D``). The proposed value is masked unless its
        grant shows the field. Written through the objections service, so the disclosure is audited."""
        from core.access import Principal

        reader = Principal(user_id=f"feed:{department}", username=f"feed:{department}", role="department_reader",
                           department=department)
        rows = self.objections().for_principal(reader, status="open", limit=100_000)
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(OBJECTION_COLUMNS))
            writer.writeheader()
            for row in rows:
                writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in OBJECTION_COLUMNS[:7]})
        return len(rows)


def logged_splits(engine: Engine) -> list[Split]:
    """Every ProfileSplit in the store's event log (each is recorded in both profiles' streams)."""
    from sqlalchemy import select

    from schemas.codec import decode
    from schemas.profile_events import ProfileSplit
    from store.profile_tables import profile_event_log as log

    found: dict[str, Split] = {}
    with engine.connect() as conn:
        for row in conn.execute(select(log.c.payload).where(log.c.type == "ProfileSplit").order_by(log.c.occurred_at)):
            event = decode(row.payload)
            if isinstance(event, ProfileSplit):
                key = f"{event.from_profile}>{event.to_profile}@{event.caused_by}"
                found.setdefault(key, Split(event_id=key, from_profile=event.from_profile,
                                            to_profile=event.to_profile, occurred_at=event.occurred_at))
    return list(found.values())


def _read_rows(path: Path, key: str = "profile_id") -> dict[str, dict[str, str | None]]:
    if not path.is_file():
        return {}
    rows: dict[str, dict[str, str | None]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[str(row[key])] = row
    return rows
