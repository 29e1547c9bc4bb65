"""Imports every domain's models so Base.metadata is complete (for Alembic and test schemas)."""

import kernel.accounts  # noqa: F401
import kernel.mail  # noqa: F401
import kernel.ratelimit  # noqa: F401
import events.models  # noqa: F401
import judging.models  # noqa: F401
import ticketing.checkin  # noqa: F401
import ticketing.models  # noqa: F401
from kernel.db import Base

metadata = Base.metadata
