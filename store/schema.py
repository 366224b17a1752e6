"""Every table module of the store, imported for their side effect on ``store.tables.metadata``.

The migrations (``store/migrations``) must create exactly this schema; a unit test compares them.
"""

from __future__ import annotations

import flows.state  # noqa: F401 - the flows' batches and published versions
import store.audit  # noqa: F401
import store.auth_tables  # noqa: F401
import store.dead_letter_outcomes  # noqa: F401 - re-processed dead letters
import store.matcher_parameters  # noqa: F401
import store.pipeline_samples  # noqa: F401 - pipeline health over time
import store.place_tables  # noqa: F401 - the gazetteer
import store.profile_tables  # noqa: F401
import store.resolver_tables  # noqa: F401
import store.tables  # noqa: F401
