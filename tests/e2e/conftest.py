"""Browser tests: the real app under uvicorn, on a fresh SQLite database with the demo programme, driven by
Debian's Chromium through Playwright's async API.

Why the async API: the sync API marks its own event loop as running in this thread for as long as the
browser is open, so a session-scoped sync browser would break every pytest-asyncio test that runs after
these. The browser fixtures and the tests share pytest-asyncio's session loop instead (see `pytestmark`
in the test modules).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import pytest_asyncio

from kernel import keyring
from tests.conftest import skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
SERVER_START_SECONDS = 30

DEVICES: dict[str, dict] = {
    "phone": {
        "viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
        "is_mobile": True, "has_touch": True,
    },
    "desktop": {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1},
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


class Mailbox:
    """Every email the app sent to the loopback SMTP server (aiosmtpd), parsed; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self.port = 0

    # aiosmtpd handler hook, called on the controller's own thread and loop
    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self._messages.append(message)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    async def wait_for(self, match: Callable[[EmailMessage], bool], timeout: float = 20.0) -> EmailMessage:
        """The first email for which match(message) is true, polling until `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages if match(m)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                seen = [(m["To"], m["Subject"]) for m in self.messages]
                raise AssertionError(f"no matching email within {timeout:.0f} s; received: {seen}")
            await asyncio.sleep(0.2)


@dataclass
class Server:
    url: str
    log_path: Path
    demo_login: DemoLogin
    database_url: str = ""
    mailbox: Mailbox = field(default_factory=Mailbox)

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def use_its_signing_keys(self) -> None:
        """Make this test process seal and open events' signing keys with the server's key file (kernel.keyring),
        as a test writing tickets straight into the server's database, or reading their QR payloads, must."""
        keyring.use_file(Path(self.database_url.split(":///", 1)[1]).parent / "var" / "signing-keys")

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _denhub_command() -> list[str]:
    script = Path(sys.executable).with_name("denhub")
    return [str(script)] if script.exists() else [sys.executable, "-m", "denhub.cli"]


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        _denhub_command() + args, env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        command = " ".join(args)
        pytest.fail(f"denhub {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def smtp_mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port, started before the app so it sends there."""
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port(), server_hostname="localhost",
                            ready_timeout=5.0)
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory, smtp_mailbox) -> Iterator[Server]:
    """uvicorn on a free port, on a fresh migrated SQLite database holding the demo programme; its email
    goes to `smtp_mailbox`."""
    tmp = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # A developer's own DENHUB_* settings must not leak in; .env is still read by the app, so the
    # settings these tests depend on are all given explicitly.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENHUB_")}
    database_url = f"sqlite+aiosqlite:///{tmp / 'e2e.sqlite3'}"
    env.update(
        DENHUB_DATABASE_URL=database_url,
        DENHUB_VAR_DIR=str(tmp / "var"),
        DENHUB_ENV="development",
        DENHUB_BASE_URL=url,
        DENHUB_HTTPS="false",
        # Far longer than the 2 s default, so that "an organiser's edit shows at once" can only pass
        # because the edit cleared the cache, never because the cached page happened to expire.
        DENHUB_LISTING_CACHE_SECONDS="30",
        DENHUB_SMTP_URL=f"smtp://127.0.0.1:{smtp_mailbox.port}",
        PYTHONUNBUFFERED="1",
    )
    _run(["db", "upgrade"], env)
    demo_output = _run(["demo"], env)
    match = re.search(r"demo organiser login: (\S+) / (\S+)", demo_output)
    assert match, f"`denhub demo` did not print the demo login:\n{demo_output}"

    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "denhub.app:app_factory",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
            time.sleep(0.1)
        yield Server(url=url, log_path=log_path, demo_login=DemoLogin(match[1], match[2]),
                     database_url=database_url, mailbox=smtp_mailbox)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def live_server(server: Server) -> str:
    """The base URL of the running app, e.g. http://127.0.0.1:54321."""
    return server.url


@pytest.fixture(scope="session")
def demo_login(server: Server) -> DemoLogin:
    """The organiser login that `denhub demo` printed."""
    return server.demo_login


@pytest.fixture(scope="session")
def mailbox(server: Server) -> Mailbox:
    """The emails the running app has sent (to the loopback SMTP server)."""
    return server.mailbox


@pytest.fixture(autouse=True)
def server_log_clean(request) -> Iterator[None]:
    """Fails a browser test when the server logged an error or a traceback while it ran."""
    if "server" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("server")
    start = server.log_size()
    yield
    logged = server.log_since(start)
    problems = [line for line in logged.splitlines() if " ERROR " in line or line.startswith("Traceback")]
    assert not problems, "the server logged errors during this test:\n" + logged[-4000:]


# --- the browser ---------------------------------------------------------------------------------------

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(params=list(DEVICES))
def device(request) -> str:
    """"phone" (390x844, touch) or "desktop" (1280x800); override with parametrize("device", [...])."""
    return request.param


class PageProblems:
    """What a user would not see but should not happen: script errors, CSP refusals, broken assets."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page) -> None:
        def on_console(msg) -> None:
            # A 404 or 422 page is itself reported as a failed load; broken assets are caught below.
            if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
                self.items.append(f"console: {msg.text}")

        def on_response(response) -> None:
            if response.request.resource_type != "document" and response.status >= 400:
                self.items.append(f"{response.status} for {response.request.resource_type} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.items.append(f"page error: {exc}"))
        page.on("response", on_response)
        def on_request_failed(request) -> None:
            # Chromium says ERR_ABORTED only when it cancelled the request itself: the page moved on (a test
            # presses on while a slow machine is still fetching a font or a deferred script). A missing or
            # broken asset is still caught: as a 4xx/5xx response above, or as another network error here.
            if request.failure == "net::ERR_ABORTED" and "/static/" in request.url:
                return
            self.items.append(f"request failed: {request.url} {request.failure}")

        page.on("requestfailed", on_request_failed)


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest_asyncio.fixture(loop_scope="session")
async def new_context(browser, device, live_server, page_problems):
    """A factory for browser contexts on the current device; every page opened in them is watched."""
    contexts = []

    async def make(**options):
        context = await browser.new_context(
            base_url=live_server, locale="en-GB", timezone_id="Europe/London", **DEVICES[device], **options
        )
        context.set_default_timeout(10_000)
        context.on("page", page_problems.watch)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await context.close()
    assert not page_problems.items, "problems in the browser:\n" + "\n".join(page_problems.items)


@pytest_asyncio.fixture(loop_scope="session")
async def page(new_context) -> AsyncIterator:
    context = await new_context()
    yield await context.new_page()


# --- helpers -------------------------------------------------------------------------------------------

async def screenshot(page, name: str, device: str) -> Path:
    """A full-page PNG in tests/artifacts/ (gitignored), for people to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{device}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_fits_width(page) -> None:
    """Nothing makes the page scroll sideways (on a 390 px phone as on a desktop)."""
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if widths[0] > widths[1]:
        # Name the culprits: the innermost elements that reach past the right edge.
        culprits = await page.evaluate(
            """(limit) => [...document.querySelectorAll("body *")]
                .filter(e => e.getBoundingClientRect().right > limit
                             && ![...e.children].some(c => c.getBoundingClientRect().right > limit))
                .slice(0, 5)
                .map(e => `<${e.tagName.toLowerCase()} class="${e.className}">`
                          + ` ${e.textContent.trim().slice(0, 40)}`
                          + ` (right edge ${Math.round(e.getBoundingClientRect().right)} px)`)""",
            widths[1],
        )
        raise AssertionError(
            f"page is {widths[0]} px wide in a {widths[1]} px viewport: " + "; ".join(culprits)
        )
