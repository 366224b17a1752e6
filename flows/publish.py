"""The publish flow: only after validation passed, send profile snapshots and department extracts.

(a) Every profile whose version changed since the last publish goes to the compacted topic
``profiles.published`` keyed by profile id (acks=all), so a reader of the topic sees each
resident's latest snapshot: only the fields some grant shares, conditional ones masked, the ID
number as a keyed hash and masked, never in clear (:func:`core.planner.published_snapshot`). A
merged-away profile is published as its redirect.
(b) Each department in ``config/grants.yaml`` gets an extract under
``<data_dir>/extracts/<department>/`` (CSV and JSONL) holding the profile id and exactly the
fields it is granted; an ID number only where granted.

A failed validation quarantines its batches (``store.flow_batches``), publishes nothing and fails the
run with the steward's report; a later run over the corrected data publishes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine

from core.planner import Grants, extract_row, published_snapshot
from core.planner.notices import Split, notices
from core.profile import Profile
from flows.validate import Validation, check
from onceonly import bootstrap
from onceonly.bootstrap import Hub
from onceonly.settings import PROJECT_ROOT, Settings
from store import flow_batches

PUBLISHED_TOPIC = "profiles.published"
GRANTS_FILE = PROJECT_ROOT / "config" / "grants.yaml"  # bootstrap.GRANTS_FILE: one file, one model


class ValidationFailed(RuntimeError):
    """Validation failed: the batch is quarantined and nothing was published."""


@dataclass(frozen=True)
class Published:
    snapshots: int
    extracts: dict[str, Path]  # department → its CSV
    batches: list[str]
    report: str | None
    data_docs: str


def published_topic(settings: Settings) -> str:
    return settings.topic(PUBLISHED_TOPIC)


def load_grants(path: Path | None = None) -> Grants:
    """The grants model the query service reads too (:func:`onceonly.bootstrap.grants`)."""
    return bootstrap.grants(path or GRANTS_FILE)


def snapshot(settings: Settings, profile: Profile, grants: Grants) -> dict[str, object]:
    """What the published topic holds for one profile: the shared fields, no clear ID number."""
    return published_snapshot(profile, grants, id_hash_key=settings.id_hash_key.get_secret_value())


def send_snapshots(settings: Settings | Hub, profiles: list[Profile], grants: Grants | None = None) -> int:
    """Send the profiles that changed since the last publish; remember their versions once acked."""
    from kafka import KafkaProducer

    from kafka_adapter.admin import ensure_topics
    from kafka_adapter.security import client_options

    hub = bootstrap.hub(settings)
    settings, engine = hub.settings, hub.engine
    bootstrap_servers = hub.kafka_bootstrap()
    topic = published_topic(settings)
    ensure_topics(bootstrap_servers, [topic], partitions=settings.topic_partitions, compacted=[topic])
    sent_before = flow_batches.published_versions(engine)
    changed = [p for p in profiles if sent_before.get(p.profile_id) != p.version]
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **client_options(bootstrap_servers), acks="all", client_id="onceonly-publish",
                             key_serializer=str.encode,
                             value_serializer=lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8"))
    try:
        shared = grants or load_grants()
        futures = [producer.send(topic, key=p.profile_id, value=snapshot(settings, p, shared)) for p in changed]
        producer.flush()
        for future in futures:
            future.get(timeout=60)  # raises if the broker did not acknowledge
    finally:
        producer.close()
    flow_batches.save_published(engine, {p.profile_id: p.version for p in changed})
    return len(changed)


def write_extracts(settings: Settings | Hub, profiles: list[Profile], grants: Grants) -> dict[str, Path]:
    """One extract per department: the profile id and its granted fields, nothing else; and in its
    ``notices.jsonl`` feed, a notice for each profile of its previous extract that was merged away or
    split since (old id → new id, which granted fields changed)."""
    hub = bootstrap.hub(settings)
    settings = hub.settings
    written: dict[str, Path] = {}
    active = sorted((p for p in profiles if p.is_active), key=lambda p: p.profile_id)
    by_id = {p.profile_id: p for p in profiles}
    splits = logged_splits(hub.engine)
    for department, grant in grants.departments.items():
        folder = settings.data_dir / "extracts" / department
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
        write_objections_feed(hub, department, folder / "objections.csv")
        (folder / "grant.json").write_text(json.dumps({
            "department": department, "title": grant.title, "residents": len(rows),
            "fields": [{"field": g.field, "purpose": g.purpose, "sharing": g.sharing, "basis": g.basis}
                       for g in grant.fields],
            "notices": len(sent) + len(fresh),
        }, ensure_ascii=False, indent=2), encoding="utf-8")
        written[department] = csv_path
    return written


OBJECTION_COLUMNS = ("objection_id", "profile_id", "field", "reason", "proposed_value", "due_on", "escalated",
                     "answer", "note", "suggested_department")


def write_objections_feed(settings: Settings | Hub, department: str, path: Path) -> int:
    """The open objections routed to ``department``, as the file it answers in: it fills ``answer``
    (corrected, confirmed, not_ours), ``note`` and ``suggested_department`` and sends it back
    (``onceonly objections answers FILE --department D``). The proposed value is masked unless its
    grant shows the field. Written through the objections service, so the disclosure is audited."""
    from core.access import Principal

    service = bootstrap.hub(settings).objections
    reader = Principal(user_id=f"feed:{department}", username=f"feed:{department}", role="department_reader",
                       department=department)
    rows = service.for_principal(reader, status="open", limit=100_000)
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


@task(name="publish", timeout_seconds=1800, cache_policy=NO_CACHE)
def publish(settings: Settings | Hub, validation: Validation, grants_file: Path | None = None) -> Published:
    if not validation.passed:
        raise ValidationFailed(f"validation failed; nothing published; report: {validation.report}")
    hub = bootstrap.hub(settings)
    profiles = list(hub.profile_projection.profiles())
    grants = load_grants(grants_file)
    sent = send_snapshots(hub, profiles, grants)
    extracts = write_extracts(hub, profiles, grants)
    batch_ids = [b.batch_id for b in validation.batches]
    flow_batches.mark_published(hub.engine, batch_ids)
    return Published(snapshots=sent, extracts=extracts, batches=batch_ids, report=validation.report,
                     data_docs=validation.data_docs)


@flow(name="validate-and-publish", log_prints=True)
def validate_and_publish(grants_file: str | None = None) -> Published:
    """Validate (GX), then publish what passed; a failure quarantines the batches and fails the run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    hub = bootstrap.hub()  # the settings, read once; the store, audit log and services of this run
    logger = get_run_logger()
    validation = check(hub)
    logger.info("Data Docs: %s", validation.data_docs)
    report = Path(validation.report or "")
    create_markdown_artifact(key="validation-report", markdown=report.read_text(encoding="utf-8"),
                             description="GX validation of the source batches and the profile store")
    if not validation.passed:
        logger.error("validation failed (%s): batches quarantined, nothing published; report %s",
                     ", ".join(sorted(validation.failed_suites())), report)
        raise ValidationFailed(f"validation failed; batches quarantined; report: {report}")
    published = publish(hub, validation, Path(grants_file) if grants_file else None)
    create_table_artifact(key="published-extracts", table=[
        {"department": d, "extract": str(p)} for d, p in published.extracts.items()],
        description=f"{published.snapshots} profile snapshots sent to {published_topic(hub.settings)}")
    logger.info("published %d snapshots and %d extracts", published.snapshots, len(published.extracts))
    return published
