"""The domains this app is made of, from the ground up: a domain may use the ones listed before it, never the
ones after (the import contract in pyproject.toml keeps it so). Adding a domain is a line here."""

from __future__ import annotations

from events.domain import DOMAIN as EVENTS
from judging.domain import DOMAIN as JUDGING
from kernel.account_admin import DOMAIN as ACCOUNTS
from kernel.hooks import Domain
from ticketing.domain import DOMAIN as TICKETING

# ACCOUNTS is the kernel's own pages for accounts (invitations, the administrator's page): it uses no domain.
DOMAINS: tuple[Domain, ...] = (EVENTS, TICKETING, JUDGING, ACCOUNTS)
