"""Security headers (HSTS only over https, Permissions-Policy always) and whose X-Forwarded-For is believed."""

from __future__ import annotations

from tests.conftest import login
from tests.core.helpers import CLIENT_ADDRESS, new_client, running_app


async def test_permissions_policy_always_and_hsts_only_with_https(settings, client):
    for path in ("/", "/login", "/no-such-page"):
        response = await client.get(path)
        assert "camera=(self)" in response.headers["permissions-policy"]
        assert "geolocation=()" in response.headers["permissions-policy"]
        assert "strict-transport-security" not in response.headers  # DENHUB_HTTPS=false
    async with running_app(settings, https=True) as app, new_client(app, base_url="https://testserver") as secure:
        response = await secure.get("/")
        assert response.headers["strict-transport-security"] == "max-age=31536000"
        assert "camera=(self)" in response.headers["permissions-policy"]


async def _wrong_logins_from_forged_addresses(app, count: int) -> list[int]:
    """Wrong passwords for different accounts, each claiming another address in X-Forwarded-For; statuses."""
    statuses = []
    async with new_client(app) as client:
        for n in range(count):
            client.headers["x-forwarded-for"] = f"198.51.100.{n + 1}"
            statuses.append((await login(client, f"nobody{n}@example.org", "wrong password")).status_code)
    return statuses


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(settings):
    # login_max_failures=1: 4 wrong sign-ins per address. Forged headers do not make the sender anyone else.
    async with running_app(settings, login_max_failures=1) as app:
        assert await _wrong_logins_from_forged_addresses(app, 5) == [401, 401, 401, 401, 429]
    # Behind a configured proxy, its X-Forwarded-For names the visitor: five visitors, five addresses.
    async with running_app(settings, login_max_failures=1, trusted_proxies=f"10.0.0.1, {CLIENT_ADDRESS}") as app:
        assert await _wrong_logins_from_forged_addresses(app, 5) == [401] * 5
