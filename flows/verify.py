"""The verify flow: replay the log (profile-events and places) into a scratch database, up to the
offsets the live store has applied, and compare its checksum with the live store's. A mismatch
means the store is not the fold of the log: the run fails loudly. (Events the workers have not
applied yet are left out on both sides, so a verify run while they catch up is no false alarm.)"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from onceonly import bootstrap


class StoreDiverged(RuntimeError):
    """The live profile store differs from a replay of the log."""


@task(name="replay-and-compare", timeout_seconds=7200, cache_policy=NO_CACHE)
def replay_and_compare() -> dict[str, object]:
    from services.verification import verify_applied

    with bootstrap.hub() as hub:
        settings = hub.settings
        result = verify_applied(hub.profile_projection, scratch_dir=settings.data_dir / "verify",
                                bootstrap=hub.kafka_bootstrap(), profile_events_topic=settings.profile_events_topic,
                                places_topic=settings.places_topic)
    return {"events": result.events, "live": result.live, "replayed": result.replayed}


@flow(name="verify", log_prints=True)
def verify_flow() -> dict[str, object]:
    result = replay_and_compare()
    same = result["live"] == result["replayed"]
    create_markdown_artifact(key="verify-replay", markdown=(
        f"Replayed {result['events']} events: live `{result['live']}`, replayed `{result['replayed']}` — "
        + ("**identical**" if same else "**MISMATCH**")))
    if not same:
        get_run_logger().error("MISMATCH: the live store is not the fold of the log (%s ≠ %s)",
                               result["live"], result["replayed"])
        raise StoreDiverged(f"live store checksum {result['live']} ≠ replayed {result['replayed']}")
    return result
