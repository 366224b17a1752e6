"""The publish flow: validate (``flows.validate``), then, only if validation passed, send profile
snapshots and department extracts (``services.publishing``). A failed validation quarantines its
batches, publishes nothing and fails the run with the steward's report; a later run over the
corrected data publishes."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.validate import check
from onceonly import bootstrap
from onceonly.bootstrap import Hub
from services.publishing import Published, PublishValidated, ValidationFailed, published_topic
from services.validation import Validation


@task(name="publish", timeout_seconds=1800, cache_policy=NO_CACHE)
def publish(hub: Hub, validation: Validation, grants_file: Path | None = None) -> Published:
    return hub.publishing.publish(PublishValidated(validation, bootstrap.grants(grants_file)))


@flow(name="validate-and-publish", log_prints=True)
def validate_and_publish(grants_file: str | None = None) -> Published:
    """Validate (GX), then publish what passed; a failure quarantines the batches and fails the run."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    with bootstrap.hub() as hub:  # the settings, read once; the store, audit log and services of this run
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
