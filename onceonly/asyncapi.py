"""The hub's topics as an AsyncAPI 3.0 document: who sends what on which topic, keyed by what.

Generated, not written: the channels come from the settings (topic names, partitions) and the
department mapping files (one ``raw.<source>`` topic each, and a department's own topic for a
``kind: kafka`` source); the messages are the codec's registered types, each payload the codec's
envelope ``{"type": <name>, "data": <the model's JSON Schema>}`` with the schemas taken from the
pydantic models (``models_json_schema``), so a model change shows up in the document.

``docs/asyncapi.json`` is :func:`reference_document` (the repository's mappings, no topic prefix),
rewritten by ``onceonly asyncapi``; a unit test fails when it is stale. The query service serves
the document of its own settings at ``/asyncapi.json``.

Keys are said in words on every message (``bindings.kafka.key``): a record identity, a profile id,
an objection id, a place key, never a raw ID number (a department that keys rows by ID number has
its record id replaced by the keyed hash).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from connectors.spec import ConnectorSpec
from core.profile.model import GoldenFields
from onceonly import __version__
from onceonly.settings import PROJECT_ROOT, Settings
from schemas.codec import registered_types
from schemas.objection_events import ObjectionEvent
from schemas.place_events import PlaceAssignmentCorrected
from schemas.profile_events import PROFILE_EVENT_TYPES, STEWARD_COMMAND_TYPES
from schemas.record_events import MatcherSwitched, RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_PATH = PROJECT_ROOT / "docs" / "asyncapi.json"
PUBLISHED_SCHEMAS = PROJECT_ROOT / "schemas" / "published"
PUBLISHED_TOPIC = "profiles.published"  # services.publishing.PUBLISHED_TOPIC (not imported: it pulls in the store)
KAFKA_BINDING = "0.5.0"
# Message tags: a codec type (bytes made by schemas.codec.encode) or a payload of another shape.
CODEC_TAG = "codec"
OTHER_TAG = "not-codec"

Action = Literal["send", "receive"]

# What each message's Kafka key is, in words (the key is always a UTF-8 string).
RECORD_IDENTITY = ("`<source>:<record_id>`, the source record's stable identity: every version of one "
                   "record lands on one partition, in order. A department that keys its rows by ID number "
                   "has the record id replaced by the keyed hash (HMAC), so no key holds a raw ID number.")
PROFILE_ID = "The profile id (an opaque, deterministic id, never an ID number): one profile's events stay in order."
OBJECTION_ID = "The objection id: one objection's events (seq 1, 2, 3 …) stay in order on one partition."
PLACE_KEY = "The place key corrected (a normalised building, compound or door-number address, no resident data)."
DEAD_LETTER_KEY = ("`<source>:<location>`, where the letter came from: a file and row, or "
                   "`topic[partition]@offset`. Never the row's contents.")
KEYS: dict[str, str] = {
    SourceRecord.__name__: RECORD_IDENTITY,
    RecordStandardised.__name__: RECORD_IDENTITY,
    MatcherSwitched.__name__: "`matcher-switch`: one key for every switch (no resident data).",
    DeadLetter.__name__: DEAD_LETTER_KEY,
    PlaceAssignmentCorrected.__name__: PLACE_KEY,
    **{t.__name__: PROFILE_ID for t in PROFILE_EVENT_TYPES},
    **{name: OBJECTION_ID for name, t in registered_types().items() if issubclass(t, ObjectionEvent)},
}
COMMANDS = frozenset(t.__name__ for t in STEWARD_COMMAND_TYPES)
SNAPSHOT = "ProfileSnapshot"


@dataclass(frozen=True)
class Party:
    """Who sends or receives on a topic: an entry point of the hub, or someone outside it."""

    id: str
    title: str


WORKER = "the stream worker (`onceonly worker`)"
LEDGER = Party("worker.ledger", f"{WORKER}, agent `ledger`")
STANDARDISE = Party("worker.standardise", f"{WORKER}, agent `standardise`")
RESOLVE = Party("worker.resolve", f"{WORKER}, agent `resolve` (through the resolver's outbox)")
PROJECT = Party("worker.project", f"{WORKER}, agent `project`")
PLACES = Party("worker.places", f"{WORKER}, agent `places`")
SWEEP = Party("worker.objections-sweep", f"{WORKER}, timer `objections_sweep`")
WORKER_START = Party("worker.start", f"{WORKER}, when it starts (and its timer `matcher_announce`)")
WORKER_AGENTS = Party("worker", f"{WORKER}, any agent")
SERVICE = Party("query-service", "the query service (`onceonly serve`): API and web console")
CONNECTORS = Party("connectors", "every department's connector (`onceonly pull`, the ingest flow)")
REPLAY = Party("replay", "`onceonly replay` and the verify flow (rebuild the store from the log, compare)")
TRAIN = Party("train", "`onceonly train` and the train flow (the matcher's parameters from current records)")
STEWARD_CLI = Party("cli.steward", "`onceonly steward …` (a steward's decision from the command line)")
PLACES_CLI = Party("cli.places", "`onceonly places correct`")
OBJECTIONS_CLI = Party("cli.objections", "`onceonly objections sweep | answers | verify`")
PUBLISH = Party("flows.publish", "the publish flow (`onceonly flows publish`), only after validation passed")
DEPARTMENTS = Party("departments", "department systems and other readers outside the hub")


@dataclass(frozen=True)
class Use:
    party: Party
    action: Action
    summary: str
    messages: tuple[str, ...] = ()  # empty: every message of the channel
    group: bool = False  # a faust agent: consumes in the worker's consumer group


@dataclass(frozen=True)
class Topic:
    id: str  # the channel id: the topic's name without the prefix
    address: str
    title: str
    description: str
    messages: tuple[str, ...]
    uses: tuple[Use, ...]
    partitions: int | None = None  # None: not the hub's topic (a department's own)
    compacted: bool = False


def reference_settings() -> Settings:
    """The settings ``docs/asyncapi.json`` describes: the repository's mappings, no topic prefix."""
    return Settings(topic_prefix="", topic_partitions=4, app_id="onceonly", mappings_dir=PROJECT_ROOT / "mappings")


def reference_document() -> dict[str, Any]:
    return asyncapi_document(reference_settings())


def render(document: Mapping[str, Any]) -> str:
    """The document as checked in: indented JSON, UTF-8 (Chinese titles stay readable)."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def write(path: Path, settings: Settings | None = None) -> Path:
    path.write_text(render(asyncapi_document(settings) if settings is not None else reference_document()),
                    encoding="utf-8")
    return path


def asyncapi_document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the hub that ``settings`` configure."""
    specs = _mappings(settings)
    topics = _topics(settings, specs)
    codec = dict(sorted(registered_types().items()))  # by name: the registry's order is the modules' import order
    models = list(codec.values()) + [GoldenFields]
    refs, definitions = models_json_schema([(m, "serialization") for m in models],
                                           ref_template="#/components/schemas/{model}")
    messages: dict[str, Any] = {name: _codec_message(name, model, refs[(model, "serialization")])
                                for name, model in codec.items()}
    messages[SNAPSHOT] = _snapshot_message(refs[(GoldenFields, "serialization")])
    for spec in specs.values():
        if spec.kind == "kafka":
            messages[_pushed_message_id(spec)] = _pushed_message(spec)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "OnceOnly topics",
            "version": __version__,
            "description": (
                "Every Kafka topic of the OnceOnly hub: what each carries, keyed by what, and who sends and "
                "receives it. Codec messages travel as UTF-8 JSON `{\"type\": <message name>, \"data\": "
                "<payload>}` (`schemas.codec`); payload schemas are the pydantic models' JSON Schema. "
                "Topic names carry `ONCEONLY_TOPIC_PREFIX` when set. Generated by `onceonly asyncapi`; "
                "the query service serves its own at `/asyncapi.json`."),
        },
        "defaultContentType": "application/json",
        "channels": {t.id: _channel(t) for t in topics},
        "operations": dict(_operations(topics, settings)),
        "components": {"messages": messages, "schemas": definitions.get("$defs", {})},
    }


def _mappings(settings: Settings) -> dict[str, ConnectorSpec]:
    from onceonly import bootstrap  # the one list of sources (the five known first, then any mapping file)

    specs = bootstrap.mappings(settings) if settings.mappings_dir.is_dir() else {}
    return {source: specs[source] for source in bootstrap.sources(settings) if source in specs}


def _topics(settings: Settings, specs: Mapping[str, ConnectorSpec]) -> list[Topic]:
    from onceonly import bootstrap

    partitions = settings.topic_partitions
    objection_types = tuple(sorted(n for n, t in registered_types().items() if issubclass(t, ObjectionEvent)))
    profile_types = tuple(t.__name__ for t in PROFILE_EVENT_TYPES)
    found: list[Topic] = []
    for source in bootstrap.sources(settings):
        spec = specs.get(source)
        addresses = spec is not None and spec.holds == "standard_addresses"
        title = spec.title if spec is not None and spec.title else source
        found.append(Topic(
            f"raw.{source}", settings.raw_topic(source), f"raw.{source}: {title}",
            "Source records as the department gave them (来源记录), one message per version of a row, "
            "an `end` when the row was deleted. Holds ID numbers in clear inside payloads: internal to the hub.",
            ("SourceRecord",),
            (Use(_connector(source), "send", _connector_summary(source, spec)),
             Use(SERVICE, "send", "re-processing of dead letters after a mapping fix (stewards, the console)"),
             Use(LEDGER, "receive", "lands every version in the SQL ledger (`source_records`)", group=True),
             Use(STANDARDISE, "receive", "standardises each version into the canonical fields, or dead-letters it",
                 group=True),
             *(() if addresses else (Use(TRAIN, "receive", "reads the current records to estimate the matcher"),))),
            partitions))
    found += [
        Topic("records", settings.records_topic, "records: standardised resident records",
              "One canonical resident record (or its end) per source-record version, to be resolved into profiles; "
              "and the matcher switches (`MatcherSwitched`, key `matcher-switch`): the resolver resolves the records "
              "after a switch with that parameter version, so resolving the topic again switches at the same place.",
              ("RecordStandardised", "MatcherSwitched"),
              (Use(STANDARDISE, "send", "resident sources' records in canonical form", ("RecordStandardised",)),
               Use(TRAIN, "send", "a switch to the version it stored", ("MatcherSwitched",)),
               Use(TRAIN, "receive", "reads the records as standardised to estimate the matcher",
                   ("RecordStandardised",)),
               Use(WORKER_START, "send", "a switch to the newest stored version, before its agents start; the "
                   "resolve agent also announces a version stored since", ("MatcherSwitched",)),
               Use(RESOLVE, "receive", "matches each record to a profile (or opens one, or asks a steward); "
                   "switches matcher parameters where a switch stands", group=True)),
              settings.records_partitions),
        Topic("places", settings.places_topic, "places: the gazetteer's log (标准地址库)",
              "The grid centre's standard addresses (standardised records) and stewards' corrections of which "
              "community and grid a place belongs to.",
              ("RecordStandardised", "PlaceAssignmentCorrected"),
              (Use(STANDARDISE, "send", "standard-address sources' records in canonical form", ("RecordStandardised",)),
               Use(SERVICE, "send", "a steward's correction of a place's community and grid",
                   ("PlaceAssignmentCorrected",)),
               Use(PLACES_CLI, "send", "a steward's correction from the command line", ("PlaceAssignmentCorrected",)),
               Use(PLACES, "receive", "projects the gazetteer and re-derives the profiles located through a place",
                   group=True),
               Use(REPLAY, "receive", "rebuilds the gazetteer from the log")),
              partitions),
        Topic("deadletter", settings.deadletter_topic, "deadletter: what could not be read or applied (死信)",
              "A row or message refused at some stage, with the reason and, for the connector stage, the native "
              "row (which may hold ID numbers in clear: every reader outside the hub shows it redacted).",
              ("DeadLetter",),
              (Use(CONNECTORS, "send", "rows the connector could not read"),
               Use(WORKER_AGENTS, "send", "messages an agent could not standardise, decode or apply"),
               Use(SERVICE, "receive", "dead-letter pages, pipeline health, scorecards, re-processing")),
              partitions),
        Topic("profile-events", settings.profile_events_topic, "profile-events: the profiles' log (画像事件)",
              "Every change to a resident profile, one stream per profile (`profile_id` + `version`). The SQL "
              "profile store is a projection of this topic and is rebuilt from it.",
              profile_types,
              (Use(RESOLVE, "send", "links, merges, reviews and the derived events (deceased, moved)"),
               Use(SERVICE, "send", "the events of a steward's decision (confirm, reject, split, undo a merge)"),
               Use(STEWARD_CLI, "send", "the events of a steward's decision from the command line"),
               Use(PROJECT, "receive", "projects the profiles into the SQL profile store", group=True),
               Use(REPLAY, "receive", "rebuilds the profile store from the log and compares")),
              partitions),
        Topic("objections", settings.objections_topic, "objections: data objections (数据异议)",
              "One objection's life, keyed by its id: raised, routed to the department that holds the value, "
              "answered, escalated when overdue, followed through merges, closed.",
              objection_types,
              (Use(SERVICE, "send", "raise, route, answer and withdraw (community workers, departments, stewards)"),
               Use(SWEEP, "send", "closes objections corrected at source, escalates the overdue, follows merges"),
               Use(OBJECTIONS_CLI, "send", "a department's answers file, a sweep"),
               Use(OBJECTIONS_CLI, "receive", "compares (or rebuilds) the objections table with the topic's fold")),
              partitions),
        Topic(PUBLISHED_TOPIC, settings.topic(PUBLISHED_TOPIC), "profiles.published: the latest profile snapshots",
              "Compacted: each resident's latest snapshot, keyed by profile id; a merged-away profile as its "
              "redirect. Not codec-encoded: the payload is the snapshot itself.",
              (SNAPSHOT,),
              (Use(PUBLISH, "send", "every profile whose version changed since the last publish (acks=all)"),
               Use(DEPARTMENTS, "receive", "readers of the published profiles")),
              partitions, compacted=True),
    ]
    for source, spec in specs.items():
        if spec.kind == "kafka":
            topic = str(spec.transport["topic"])
            found.append(Topic(
                topic, topic, f"{topic}: {spec.title or source} (the department's own topic)",
                f"The {source} department's system publishes every change here, to its published JSON Schema "
                f"(`schemas/published/{spec.transport['schema']}`); the hub only reads, from offsets it saves itself "
                "(no consumer group), and re-keys each record by its identity on `raw." + source + "`.",
                (_pushed_message_id(spec),),
                (Use(Party(f"department.{source}", f"the {source} department's system"), "send",
                     "one message per change of a row"),
                 Use(_connector(source), "receive", "the connector's pull: validates and reads each message")),
                None))
    return found


def _connector(source: str) -> Party:
    return Party(f"connector.{source}", f"the {source} connector")


def _connector_summary(source: str, spec: ConnectorSpec | None) -> str:
    kind = spec.kind if spec is not None else None
    how = {
        "sql": "reads the department's database incrementally",
        "http": "pages through the department's HTTP API incrementally",
        "files": "reads the files dropped in its inbox", "csv": "reads the files dropped in its inbox",
        "xlsx": "reads the files dropped in its inbox",
        "kafka": "reads the department's own topic",
    }.get(kind or "")
    if kind == "ingest":
        return (f"batches the department pushes to `POST /api/v1/ingest/{source}` (query service, with the "
                "department's token), through the same connector loop")
    if how is None:
        return f"`onceonly pull {source}`: each row once; a changed row is one new version"
    return f"`onceonly pull {source}` and the ingest flow: {how}; each row once, a changed row one new version"


def _channel(topic: Topic) -> dict[str, Any]:
    kafka: dict[str, Any] = {}
    if topic.partitions is not None:
        kafka["partitions"] = topic.partitions
        kafka["topicConfiguration"] = {"cleanup.policy": ["compact" if topic.compacted else "delete"]}
    kafka["bindingVersion"] = KAFKA_BINDING
    return {
        "address": topic.address,
        "title": topic.title,
        "description": topic.description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in topic.messages},
        "bindings": {"kafka": kafka},
    }


def _operations(topics: Iterable[Topic], settings: Settings) -> Iterable[tuple[str, dict[str, Any]]]:
    for topic in topics:
        for use in topic.uses:
            operation: dict[str, Any] = {
                "action": use.action,
                "channel": {"$ref": f"#/channels/{topic.id}"},
                "title": use.party.title,
                "summary": use.summary,
                "messages": [{"$ref": f"#/channels/{topic.id}/messages/{name}"}
                             for name in (use.messages or topic.messages)],
            }
            if use.group:  # faust consumes in one group named after the app id: workers share the partitions
                operation["bindings"] = {"kafka": {"groupId": {"type": "string", "const": settings.app_id},
                                                   "bindingVersion": KAFKA_BINDING}}
            yield f"{use.party.id}.{use.action}.{topic.id}", operation


def _docstring(model: type[BaseModel]) -> tuple[str, str]:
    text = (model.__doc__ or model.__name__).strip()
    first = text.split("\n\n", 1)[0]
    return " ".join(first.split()), " ".join(text.split())


def _codec_message(name: str, model: type[BaseModel], schema_ref: Mapping[str, Any]) -> dict[str, Any]:
    summary, description = _docstring(model)
    message: dict[str, Any] = {
        "name": name,
        "title": name,
        "summary": summary,
        "description": description,
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": ["type", "data"],
            "additionalProperties": False,
            "properties": {"type": {"const": name}, "data": dict(schema_ref)},
        },
        "tags": [{"name": CODEC_TAG}],
    }
    if name in COMMANDS:
        message["description"] += (" Not sent on a topic: the resolver turns the command into profile "
                                   "events, which are.")
        message["tags"].append({"name": "command"})
    if name in KEYS:
        message["bindings"] = _key(KEYS[name])
    return message


def _key(description: str) -> dict[str, Any]:
    return {"kafka": {"key": {"type": "string", "description": description}, "bindingVersion": KAFKA_BINDING}}


def _snapshot_message(golden_ref: Mapping[str, Any]) -> dict[str, Any]:
    active = {
        "type": "object",
        "required": ["profile_id", "version", "status", "updated_at", "records", "golden"],
        "properties": {
            "profile_id": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "status": {"const": "active"},
            "updated_at": {"type": "string", "format": "date-time"},
            "records": {"type": "array", "items": {"type": "string"},
                        "description": "The linked records' identities, `<source>:<record_id>`, sorted."},
            "golden": dict(golden_ref),
        },
    }
    redirect = {
        "type": "object",
        "required": ["profile_id", "version", "status", "merged_into"],
        "properties": {
            "profile_id": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "pattern": "^merged_into:.+$"},
            "merged_into": {"type": "string"},
        },
    }
    return {
        "name": SNAPSHOT,
        "title": SNAPSHOT,
        "summary": "A profile's latest surviving fields with their provenance, or the redirect of a merged-away one.",
        "description": "Written by `services.publishing.PublishingService.snapshot`: plain JSON, not the codec's envelope.",
        "contentType": "application/json",
        "payload": {"oneOf": [active, redirect]},
        "tags": [{"name": OTHER_TAG}],
        "bindings": _key(PROFILE_ID),
    }


def _pushed_message_id(spec: ConnectorSpec) -> str:
    return f"{spec.source}.change"


def _pushed_message(spec: ConnectorSpec) -> dict[str, Any]:
    schema_path = PUBLISHED_SCHEMAS / str(spec.transport["schema"])
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    record_id = ", ".join(spec.record_id)
    return {
        "name": _pushed_message_id(spec),
        "title": str(schema.get("title", _pushed_message_id(spec))),
        "summary": f"A change event of the {spec.source} department, to its own published JSON Schema.",
        "description": str(schema.get("description", "")),
        "contentType": "application/json",
        "payload": schema,
        "tags": [{"name": OTHER_TAG}],
        "bindings": _key(f"Chosen by the department (e.g. its record id, {record_id}); the hub ignores it and re-keys by "
                         "record identity on its raw topic."),
    }
