"""The audit chain's checkpoint sink in memory (the real ones: ``store.audit_checkpoints.CheckpointFile``
and ``connectors.audit_checkpoint_topic.CheckpointTopic``)."""

from __future__ import annotations

from store.audit_checkpoints import Checkpoint, CheckpointSink

__all__ = ["MemoryCheckpointSink"]


class MemoryCheckpointSink(CheckpointSink):
    """Keeps every checkpoint written in ``kept``; sinks given the same list share one place."""

    def __init__(self, kept: list[Checkpoint] | None = None, *, name: str = "memory") -> None:
        self.kept: list[Checkpoint] = kept if kept is not None else []
        self.name = name

    def write(self, checkpoint: Checkpoint) -> None:
        self.kept.append(checkpoint)

    def read(self) -> list[str]:
        return [checkpoint.to_json() for checkpoint in self.kept]
