"""In-memory fakes of the adapters' abstract bases, for unit tests: each subclasses the same base
as the real adapter and passes the same contract suite (``tests/contract``)."""

from tests.fakes.audit import MemoryCheckpointSink
from tests.fakes.gazetteer import MemoryGazetteer
from tests.fakes.ledger import MemoryLedger
from tests.fakes.projection import MemoryProjection
from tests.fakes.resolver import MemoryBacking, MemoryResolverState

__all__ = ["MemoryBacking", "MemoryCheckpointSink", "MemoryGazetteer", "MemoryLedger", "MemoryProjection", "MemoryResolverState"]
