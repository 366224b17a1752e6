"""The validate flow: Great Expectations over each source's new batch and over the profile store
(``services.validation``); Data Docs and a steward report every run, a failing batch quarantined."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from onceonly import bootstrap
from onceonly.bootstrap import Hub
from services.validation import ValidateBatches, Validation


@task(name="validate-sources-and-store", timeout_seconds=1800, cache_policy=NO_CACHE)
def check(hub: Hub) -> Validation:
    """Validate with the hub's store and mapping files."""
    return hub.validation.validate(ValidateBatches())


@flow(name="validate", log_prints=True)
def validate_flow() -> Validation:
    """Validate every source's new batch and the profile store; Data Docs and a report every run."""
    from prefect.artifacts import create_markdown_artifact

    with bootstrap.hub() as hub:
        validation = check(hub)
    logger = get_run_logger()
    logger.info("Data Docs: %s", validation.data_docs)
    logger.info("report: %s", validation.report)
    create_markdown_artifact(key="validation-report", markdown=Path(validation.report or "").read_text(encoding="utf-8"),
                             description="GX validation of the source batches and the profile store")
    return validation
