"""docs/asyncapi.json: current, complete (every codec type a message), and a well-formed AsyncAPI 3.0
document whose payload schemas accept what the codec really writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from onceonly.asyncapi import CODEC_TAG, DOCUMENT_PATH, OTHER_TAG, reference_document, render
from schemas.codec import encode, registered_types
from schemas.objection_events import ObjectionRaised
from schemas.profile_events import ProfileCreated, ReviewResolved
from schemas.record_events import RecordStandardised
from schemas.source_record import DeadLetter, SourceRecord

WHEN = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


@cache
def document() -> dict[str, Any]:
    return reference_document()


def tags(message: dict[str, Any]) -> set[str]:
    return {t["name"] for t in message.get("tags", [])}


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(pointer: str) -> Any:
    assert pointer.startswith("#/"), pointer
    node: Any = document()
    for part in pointer[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{pointer} does not resolve (at {part!r})"
        node = node[part]
    return node


def test_the_checked_in_document_is_what_the_generator_writes_now() -> None:
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == render(document()), (
        "docs/asyncapi.json is stale: run `onceonly asyncapi` and commit the result")


def test_every_codec_type_is_a_message_and_every_codec_message_is_a_registered_type() -> None:
    messages = document()["components"]["messages"]
    codec_messages = {name for name, m in messages.items() if CODEC_TAG in tags(m)}
    assert codec_messages == set(registered_types())
    # The others say why they are not the codec's: a department's own schema, the published snapshots.
    others = {name for name, m in messages.items() if OTHER_TAG in tags(m)}
    assert others == {"ProfileSnapshot", "housing.change"}
    assert codec_messages | others == set(messages)
    for name in codec_messages:
        assert messages[name]["payload"]["properties"]["type"] == {"const": name}


def test_the_document_has_what_asyncapi_3_requires() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert {"channels", "operations", "components"} <= set(doc)
    for channel_id, channel in doc["channels"].items():
        assert channel["address"] and channel["messages"], channel_id
        for message_ref in channel["messages"].values():
            assert message_ref["$ref"].startswith("#/components/messages/")
    for operation_id, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), operation_id
        channel_ref = operation["channel"]["$ref"]
        assert channel_ref.startswith("#/channels/")
        # A 3.0 operation's messages must be messages of its own channel.
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), operation_id
    for pointer in set(refs(doc)):
        resolve(pointer)


def test_every_topic_has_a_sender_and_a_receiver_and_every_message_on_a_topic_says_its_key() -> None:
    doc = document()
    actions: dict[str, set[str]] = {}
    for operation in doc["operations"].values():
        actions.setdefault(operation["channel"]["$ref"].rsplit("/", 1)[1], set()).add(operation["action"])
    assert {c: {"send", "receive"} for c in doc["channels"]} == actions
    messages = doc["components"]["messages"]
    on_topics = {ref["$ref"].rsplit("/", 1)[1] for c in doc["channels"].values() for ref in c["messages"].values()}
    for name in on_topics:
        assert messages[name]["bindings"]["kafka"]["key"]["description"], name
    # The hub's topics as the settings name them, one raw topic per department mapping.
    assert {"raw.public_security", "raw.housing", "raw.grid_centre", "records", "places", "deadletter",
            "profile-events", "objections", "profiles.published", "housing.changes"} <= set(doc["channels"])


def test_every_payload_schema_is_valid_json_schema() -> None:
    doc = document()
    for message in doc["components"]["messages"].values():
        Draft202012Validator.check_schema(message["payload"])
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def payload_validator(message: str) -> Draft202012Validator:
    registry: Registry = Registry().with_resource(
        "urn:onceonly:asyncapi", Resource.from_contents(document(), default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:onceonly:asyncapi#/components/messages/{message}/payload"},
                                registry=registry)


WRITTEN: list[BaseModel] = [
    SourceRecord.of(source="public_security", record_id="h-1", payload={"姓名": "张三"}, mapping_version="ps-1",
                    observed_at=WHEN),
    DeadLetter(source="civil_affairs", location="a.csv:3", reason="no 姓名", observed_at=WHEN,
               raw_row={"姓名": ""}),
    RecordStandardised(event_id="e1", source="public_security", record_id="h-1", change="end",
                       content_hash="end", observed_at=WHEN),
    ProfileCreated(profile_id="p-1", version=1, occurred_at=WHEN, caused_by="e1"),
    ReviewResolved(profile_id="p-1", version=2, occurred_at=WHEN, caused_by="c1", review_id="r1",
                   decision="confirm", steward="wang", linked_profile_id="p-2"),
    ObjectionRaised(event_id="ev-00001", objection_id="obj-00001", seq=1, occurred_at=WHEN, actor="li",
                    actor_role="community_worker", profile_id="p-1", field="phones", reason="换号了",
                    disputed_digest="ab" * 32),
]


@pytest.mark.parametrize("event", WRITTEN, ids=lambda e: type(e).__name__)
def test_what_the_codec_writes_validates_against_its_message_payload(event: BaseModel) -> None:
    payload_validator(type(event).__name__).validate(json.loads(encode(event)))


def test_a_payload_of_the_wrong_type_or_shape_does_not_validate() -> None:
    written = json.loads(encode(WRITTEN[3]))
    with pytest.raises(ValidationError):
        payload_validator("RecordLinked").validate(written)  # a ProfileCreated is not a RecordLinked
    with pytest.raises(ValidationError):
        payload_validator("ProfileCreated").validate({**written, "data": {**written["data"], "version": 0}})


def test_every_topic_the_hub_creates_is_a_channel_of_the_document() -> None:
    from onceonly import bootstrap
    from onceonly.asyncapi import reference_settings

    addresses = {channel["address"] for channel in document()["channels"].values()}
    assert set(bootstrap.hub_topics(reference_settings())) <= addresses
