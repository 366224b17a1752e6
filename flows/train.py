"""The train-matcher flow: re-estimate the matcher (EM) from the raw topics' current records and
store the parameters as a new version (``services.training``); running workers pick it up
(``store.matcher_parameters``, switched on the records topic)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from onceonly import bootstrap


@task(name="estimate-matcher", timeout_seconds=3600, cache_policy=NO_CACHE)
def estimate(seed: int) -> str:
    from services.training import TrainMatcher

    with bootstrap.hub() as hub:
        return hub.training.train(TrainMatcher(seed=seed)).parameters.version


@flow(name="train-matcher", log_prints=True)
def train_flow(seed: int = 0) -> str:
    version = estimate(seed)
    create_markdown_artifact(key="matcher-version", markdown=f"Stored matcher parameters **{version}**; "
                                                             "workers load it without a restart.")
    get_run_logger().info("stored matcher parameters %s", version)
    return version
