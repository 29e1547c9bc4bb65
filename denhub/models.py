"""Every table: the kernel's and each listed domain's models (kernel.hooks.Domain.models), so that
Base.metadata is complete for Alembic and the test schemas."""

import kernel.accounts
import kernel.health
import kernel.mail
import kernel.ratelimit
import kernel.signin_links  # noqa: F401
from denhub.domains import DOMAINS
from kernel.db import Base

MODEL_MODULES = tuple(module for domain in DOMAINS for module in domain.models)  # imported with the domains
metadata = Base.metadata
