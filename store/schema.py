"""Every table module of the store, imported for their side effect on ``store.tables.metadata``.

The migrations (``store/migrations``) must create exactly this schema; a unit test compares them.
"""

from __future__ import annotations

import store.audit
import store.auth_tables
import store.dead_letter_outcomes
import store.flow_batches  # the flows' batches and published versions
import store.login_failures
import store.matcher_parameters
import store.objection_tables
import store.pipeline_samples
import store.place_tables
import store.profile_tables
import store.pull_holds
import store.resolver_tables
import store.tables  # noqa: F401
