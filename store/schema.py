"""Every table module of the store, imported for their side effect on ``store.tables.metadata``."""

from __future__ import annotations

import store.matcher_parameters  # noqa: F401
import store.profile_tables  # noqa: F401
import store.resolver_tables  # noqa: F401
import store.tables  # noqa: F401
