"""The objection loop (数据异议) on a fresh district: raised → routed → answered or corrected at
source → closed, or escalated when late; every count checked against the objections topic.

A district from the project's generator, resolved by the real resolver and projected into a real
SQLite store; the objections go through the hub's own service onto a real local Kafka broker.
Residents are drawn at random and a field each (spread over the departments' fields); the
simulated departments then answer: some correct the value at source (a new version of their
record, resolved and projected as their next pull would be) with or without saying so, some
confirm the value with a reason, some say "not ours", some stay silent. The hub's sweep closes
what the sources corrected; a second sweep a month later escalates what is still open.

    .venv/bin/python -m bench.objections --residents 1000 --objections 300 --seed 20261202

Prints the loop's numbers (routed to the department holding the value, closed automatically after
a correction at source, confirmed, still open, escalated), the time a decision takes (each one
waits for the broker's acknowledgement), and whether the table is the fold of the topic.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from rich.console import Console
from rich.table import Table

console = Console(width=140)
FIELDS = ("name", "phones", "ethnicity", "marital_status", "relation_to_head", "sex")
CORRECTABLE = {"phones", "ethnicity", "marital_status", "relation_to_head"}  # a new value leaves the links as they are


def corrected_value(field: str, record: object, rng: random.Random) -> dict[str, object]:
    if field == "phones":
        return {"phones": (f"+86139{rng.randrange(10**8):08d}",)}
    current = getattr(record, field)
    choices = {"ethnicity": ["01", "02", "03", "04"], "marital_status": ["10", "20", "21", "22", "30", "40"],
               "relation_to_head": ["02", "10", "20", "30", "50"]}[field]
    return {field: next(c for c in choices if c != current)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--objections", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()

    from core.access import Principal
    from core.matching import default_matcher
    from core.objections.model import Objection
    from core.planner.fields import KnownValue, read_field
    from kafka_adapter.reader import read_log
    from localinfra.kafka_broker import KafkaBroker
    from onceonly import bootstrap
    from onceonly.settings import Settings
    from schemas.objection_events import (
        ObjectionClosed,
        ObjectionEscalated,
        ObjectionEvent,
        ObjectionRaised,
        ObjectionRouted,
    )
    from schemas.record_events import RecordStandardised
    from services.objections import ObjectionService
    from store.audit import AuditLog
    from store.engine import make_engine
    from store.planner_reads import residents
    from tests.integration.api_world import KEY, project_outbox
    from tests.integration.test_resolver_state import district

    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="onceonly-objections-") as tmp, \
            KafkaBroker.started(Path(tmp) / "kafka") as broker:
        settings = Settings(data_dir=Path(tmp) / "var", id_hash_key=KEY, kafka_bootstrap=broker.bootstrap,
                            _env_file=None)
        bootstrap.prepare_topics(settings)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'store.db'}")
        items = list(district(args.residents, seed=args.seed))
        state = bootstrap.resolver_state(engine)
        state.resolve_batch(items, default_matcher())
        project_outbox(engine, state)
        by_key = {item.key: item for item in items}
        service = bootstrap.objection_service(settings, engine, AuditLog(engine))

        # raise: residents at random, one field each, by the worker of the resident's community
        people = residents(engine)
        rng.shuffle(people)
        raised: list[tuple[Objection, KnownValue]] = []
        routed_right, timings = 0, []
        for profile in people:
            if len(raised) >= args.objections:
                break
            field = rng.choice(FIELDS)
            known = read_field(profile.golden, field)
            if known is None:
                continue
            found = bootstrap_scope(engine, profile.profile_id)
            principal = (Principal(user_id="w", username="worker", role="community_worker",
                                   communities=frozenset({found})) if found else
                         Principal(user_id="s", username="steward", role="steward"))
            started = time.perf_counter()
            objection = service.raise_(principal, profile.profile_id, field, "入户核实时居民说不对")
            timings.append(time.perf_counter() - started)
            routed_right += objection.department == known.source
            raised.append((objection, known))

        # the departments answer; "corrected" ones (and a few silent ones) send a new version
        replies: Counter[str] = Counter()
        versions: list[RecordStandardised] = []
        for objection, known in raised:
            dept = Principal(user_id="d", username=f"dept_{objection.department}", role="department_reader",
                             department=objection.department)
            roll = rng.random()
            correctable = objection.field in CORRECTABLE and f"{known.source}:{known.record_id}" in by_key
            if correctable and roll < 0.45:
                silent = roll < 0.10  # corrected at source without answering
                if not silent:
                    service.answer(dept, objection.objection_id, "corrected", "已在本部门系统更正")
                replies["corrected (silently)" if silent else "corrected"] += 1
                original = by_key[f"{known.source}:{known.record_id}"]
                assert original.record is not None
                record = original.record.model_copy(update=corrected_value(objection.field, original.record, rng))
                versions.append(RecordStandardised(
                    event_id=f"{original.event_id}-fix", source=original.source, record_id=original.record_id,
                    change="upsert", content_hash=f"{objection.objection_id:0<64}"[:64],
                    observed_at=datetime.now(UTC), record=record))
            elif roll < 0.70:
                service.answer(dept, objection.objection_id, "confirmed", "与本部门底册核对无误")
                replies["confirmed"] += 1
            elif roll < 0.80:
                service.answer(dept, objection.objection_id, "not_ours")
                replies["not ours (re-routed)"] += 1
            else:
                replies["no answer"] += 1
        # the departments' next pulls
        state.resolve_batch(versions, default_matcher())
        project_outbox(engine, state)
        swept = service.sweep()
        later = datetime.now(UTC) + timedelta(days=45)
        late = ObjectionService(service.store, service.publish, service.audit, digest_key=KEY, clock=lambda: later)
        escalated = late.sweep()

        events = [logged.event for batch in read_log(broker.bootstrap, settings.objections_topic) for logged in batch]
        kinds = Counter(type(e).__name__ for e in events)
        outcomes = Counter(e.outcome for e in events if isinstance(e, ObjectionClosed))
        counts = service.store.counts()
        checks = {
            "raised = ObjectionRaised events": len(raised) == kinds[ObjectionRaised.__name__],
            "routings = raised + re-routed": kinds[ObjectionRouted.__name__] >= len(raised) + 0,
            "closed after correction = the sweep's count": outcomes["corrected_at_source"] == swept.closed,
            "escalated = ObjectionEscalated events": escalated.escalated + swept.escalated
            <= kinds[ObjectionEscalated.__name__],
            "open + closed = raised": counts["open"] + counts["closed"] == len(raised),
            "closed = ObjectionClosed events": counts["closed"] == kinds[ObjectionClosed.__name__],
            "the table is the fold of the topic": service.matches_log(cast("list[ObjectionEvent]", events)),
        }
    corrected = replies["corrected"] + replies["corrected (silently)"]
    table = Table(title=f"Objection loop ({args.residents:,} residents, seed {args.seed})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in [
        ("objections raised", f"{len(raised)}"),
        ("routed to the department holding the value", f"{routed_right} ({routed_right / max(len(raised), 1):.1%})"),
        *((f"answer: {k}", f"{v}") for k, v in sorted(replies.items())),
        ("closed automatically after the correction at source",
         f"{outcomes['corrected_at_source']} of {corrected} corrected"),
        ("closed as confirmed", f"{outcomes['confirmed']}"),
        ("still open", f"{counts['open']}"),
        ("escalated (45 days later)", f"{counts['escalated']}"),
        ("events on the objections topic", ", ".join(f"{k.removeprefix('Objection')} {v}" for k, v in sorted(kinds.items()))),
        ("raise, each waiting for the broker: mean / p95 ms",
         f"{statistics.mean(timings) * 1000:.0f} / {sorted(timings)[int(len(timings) * 0.95)] * 1000:.0f}"),
    ]:
        table.add_row(label, value)
    console.print(table)
    for name, ok in checks.items():
        console.print(f"  {'✓' if ok else '✗'} {name}")
    console.print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    if not all(checks.values()):
        sys.exit(1)


def bootstrap_scope(engine: object, profile_id: str) -> str | None:
    from store.profile_lookup import active_profiles

    found = active_profiles(engine, [profile_id]).get(profile_id)  # type: ignore[arg-type]
    return found.community if found else None


if __name__ == "__main__":
    main()
