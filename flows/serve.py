"""Serving the flows on schedule (``onceonly flows serve``): one ingest deployment per department
mapping on its mapping's ``schedule``, and validate-and-publish, train-matcher and verify on theirs.

``serve`` runs the deployments in this process against the Prefect API (a Prefect server, or a
temporary local one); watch them in the Prefect UI.
"""

from __future__ import annotations

from typing import Any

from onceonly import bootstrap
from onceonly.settings import Settings

PUBLISH_CRON = "*/30 * * * *"  # validate and publish every half hour
TRAIN_CRON = "0 4 * * 0"  # re-estimate the matcher on Sundays at 04:00
VERIFY_CRON = "0 5 * * *"  # replay and compare every morning


def _scheduled_sources(settings: Settings) -> list[str]:
    return [source for source, spec in sorted(bootstrap.mappings(settings).items())
            if spec.schedule and spec.kind != "ingest"]


def deployments_expected(settings: Settings) -> int:
    """How many deployments :func:`deployments` serves (without importing Prefect)."""
    return len(_scheduled_sources(settings)) + 3


def deployments(settings: Settings) -> list[Any]:
    """The deployments: ingest per mapping that declares a schedule (pushed sources have none)."""
    from flows.ingest import ingest_flow
    from flows.publish import validate_and_publish
    from flows.train import train_flow
    from flows.verify import verify_flow

    mappings = bootstrap.mappings(settings)
    found = [
        ingest_flow.to_deployment(name=f"ingest-{source}", cron=mappings[source].schedule, parameters={"source": source},
                                  tags=["ingest", source], concurrency_limit=1)
        for source in _scheduled_sources(settings)
    ]
    found.append(validate_and_publish.to_deployment(name="validate-and-publish", cron=PUBLISH_CRON,
                                                    concurrency_limit=1))
    found.append(train_flow.to_deployment(name="train-matcher", cron=TRAIN_CRON, concurrency_limit=1))
    found.append(verify_flow.to_deployment(name="verify", cron=VERIFY_CRON, concurrency_limit=1))
    return found


def ensure_limits(settings: Settings) -> None:
    """One slot per department's ingest (``flows.ingest.limit_name``), on the Prefect server."""
    from prefect.client.orchestration import get_client

    from flows.ingest import limit_name

    with get_client(sync_client=True) as client:
        for source in bootstrap.mappings(settings):
            client.upsert_global_concurrency_limit_by_name(limit_name(source), 1)


def serve_flows(settings: Settings | None = None) -> None:
    from prefect import serve

    settings = bootstrap.hub(settings).settings  # none given: read once, in the bootstrap
    ensure_limits(settings)
    serve(*deployments(settings))
