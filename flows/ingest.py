"""The ingest flow: one department's connector run, as its mapping file declares.

Retries and a timeout on the pull; a concurrency limit per source (``ingest-<source>``, one slot,
created by ``flows.serve``) so two scheduled runs of one department never overlap; the run's
counts (read / new / unchanged / dead-lettered) recorded as a table artifact.
"""

from __future__ import annotations

from dataclasses import asdict

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency

from onceonly import bootstrap


def limit_name(source: str) -> str:
    return f"ingest-{source}"


def artifact_key(source: str) -> str:
    return "ingest-" + source.replace("_", "-").lower()  # artifact keys: lower case, digits, dashes


@task(name="pull", retries=2, retry_delay_seconds=30, timeout_seconds=3600, cache_policy=NO_CACHE)
def pull(source: str) -> dict[str, int]:
    """Collected once: re-running after a failure sends nothing the broker already acknowledged."""
    from connectors.spec import ConnectorSpec

    with bootstrap.hub() as hub, concurrency(limit_name(source), occupy=1):
        counts = hub.ingest.pull(ConnectorSpec.load(hub.ingest.mapping_path(source)))
    if not counts.balanced:
        raise RuntimeError(f"{source}: counts do not add up: {counts}")
    return asdict(counts)


@flow(name="ingest", log_prints=True)
def ingest_flow(source: str) -> dict[str, int]:
    """Pull one department (``source``: a mapping file's name) and record its counts."""
    counts = pull(source)
    create_table_artifact(key=artifact_key(source), table=[{"source": source, **counts}],
                          description=f"{source}: read = new + unchanged + dead-lettered")
    get_run_logger().info("%s: %s", source, counts)
    return counts
