"""Languages (issue 17): gettext catalogues, the visitor's language for each request, and locale formatting.

The catalogues are the .po files under locales/<code>/LC_MESSAGES/messages.po, in the repository; each is
compiled in memory with Babel the first time it is needed (create_app loads every configured language at
start-up), once per process, never per request, so a fresh clone needs no compile step. A translation that
is fuzzy, or whose %(placeholders)s differ from the English text, is left out: that message shows in English.

Which language a request gets: ?lang= (remembered in a cookie) > the denhub_lang cookie > the signed-in
account's preference (kernel.auth.current_user) > Accept-Language > English. The choice lives in a context
variable for the request, so templates, flash messages and filters need no parameter; mail and PDFs rendered
outside a request use `language(code)`. Adding a language: a catalogue (`make messages LANG=xx` creates it,
see docs/i18n.md) and its code in DENHUB_LANGUAGES.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
import logging
import re
from collections.abc import Iterator
from http.cookies import CookieError, SimpleCookie

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from kernel.settings import PROJECT_ROOT

log = logging.getLogger("denhub")

LOCALES_DIR = PROJECT_ROOT / "locales"
DEFAULT = "en"
COOKIE = "denhub_lang"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60
# The switch shows each language in its own name.
NATIVE_NAMES = {"en": "English", "bn": "বাংলা", "ur": "اردو"}
# CLDR says which digits a locale writes (Locale.default_numbering_system); Babel formats with ASCII digits.
_DIGITS = {"beng": "০১২৩৪৫৬৭৮৯", "arabext": "۰۱۲۳۴۵۶۷۸۹", "arab": "٠١٢٣٤٥٦٧٨٩", "deva": "०१२३४५६७८९"}

_current: contextvars.ContextVar[str] = contextvars.ContextVar("denhub_language", default=DEFAULT)
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def current() -> str:
    """The language code of this request (or of the `language(...)` block around this code)."""
    return _current.get()


@contextlib.contextmanager
def language(code: str | None) -> Iterator[str]:
    """Render in `code` inside the block (an email or PDF in the language the attendee booked in); an unknown or
    empty code is English."""
    chosen = code if code and code in available() else DEFAULT
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def set_current(code: str) -> None:
    _current.set(code)


# --- catalogues ----------------------------------------------------------------------------------------------

_configured: tuple[str, ...] = ("en", "bn", "ur")


def configure(languages: str) -> tuple[str, ...]:
    """DENHUB_LANGUAGES ("en,bn,ur"): the languages offered, English always first; a code Babel does not know
    is refused so that a typo fails at start-up."""
    global _configured
    codes = [DEFAULT]
    for raw in languages.split(","):
        code = raw.strip().replace("-", "_")
        if not code or code in codes:
            continue
        try:
            Locale.parse(code)
        except (ValueError, UnknownLocaleError):
            raise ValueError(f"DENHUB_LANGUAGES: unknown language {raw.strip()!r}") from None
        codes.append(code)
    _configured = tuple(codes)
    for code in _configured:
        translations(code)  # compiled now, at start-up
    return _configured


def available() -> tuple[str, ...]:
    return _configured


def catalogue_path(code: str):
    return LOCALES_DIR / code / "LC_MESSAGES" / "messages.po"


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def _usable(msgid: str, msgstr: str) -> bool:
    """A translation keeps the English text's placeholders, and formats."""
    if placeholders(msgstr) - placeholders(msgid):
        return False
    try:
        msgstr % _AnyValue()
    except (KeyError, ValueError, TypeError):
        return False
    return True


class _AnyValue(dict):
    def __missing__(self, key: str) -> str:
        return ""


@functools.cache
def translations(code: str) -> NullTranslations:
    """The compiled catalogue of `code`, once per process; English (or a missing catalogue) translates nothing."""
    path = catalogue_path(code)
    if code == DEFAULT or not path.is_file():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=code)
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        english = " ".join(ids)
        if not all(_usable(english, s) for s in strings if s):
            log.warning("catalogue %s: broken placeholders in the translation of %r; shown in English", code,
                        ids[0])
            message.string = tuple("" for _ in strings) if isinstance(message.string, tuple) else ""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def gettext(message: str, **values) -> str:
    """`message` in this request's language, with %(name)s values put in (the English text if that fails)."""
    text = translations(current()).gettext(message)
    return _format(text, message, values)


def ngettext(singular: str, plural: str, n: int, **values) -> str:
    """The plural form for `n` in this request's language; `n` is available as %(num)s."""
    text = translations(current()).ngettext(singular, plural, n)
    values.setdefault("num", format_number(n))
    return _format(text, singular if n == 1 else plural, values)


def _format(text: str, english: str, values: dict) -> str:
    if not values:
        return text
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        return english % values


_ = gettext


def N_(message: str) -> str:
    """Marks a module constant for `make messages`; translate it with gettext where it is shown."""
    return message


def _jinja_gettext(message: str) -> str:
    return translations(current()).gettext(message)


def _jinja_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def install(env) -> None:
    """jinja2.ext.i18n on `env`, newstyle (values are escaped under autoescape, %-formatting always applied)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_jinja_gettext, _jinja_ngettext, newstyle=True)
    env.globals.update(current_language=current, text_direction=direction, html_lang=html_lang,
                       language_switch=switch_links)


# --- locale facts and formatting -----------------------------------------------------------------------------

@functools.cache
def locale_of(code: str) -> Locale:
    return Locale.parse("en_GB" if code == DEFAULT else code)


def direction(code: str | None = None) -> str:
    return "rtl" if locale_of(code or current()).text_direction == "rtl" else "ltr"


def html_lang(code: str | None = None) -> str:
    code = code or current()
    return "en-GB" if code == DEFAULT else code.replace("_", "-")


@functools.cache
def _digit_table(code: str) -> dict[int, str] | None:
    digits = _DIGITS.get(locale_of(code).default_numbering_system)
    return str.maketrans("0123456789", digits) if digits else None


def native_digits(text: str, code: str | None = None) -> str:
    """`text` with ASCII digits written as the locale writes them (Bengali digits in Bengali)."""
    table = _digit_table(code or current())
    return text.translate(table) if table else text


def format_number(n: int) -> str:
    from babel.numbers import format_decimal

    code = current()
    return str(n) if code == DEFAULT else native_digits(format_decimal(n, locale=locale_of(code)), code)


# --- choosing a language -------------------------------------------------------------------------------------

def valid(code: str | None) -> str | None:
    """`code` if it is one of the configured languages (bn-BD and BN count as bn), else None."""
    if not code or len(code) > 16:
        return None
    code = code.strip().replace("-", "_")
    for candidate in (code, code.split("_")[0].lower()):
        if candidate in _configured:
            return candidate
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best configured language for an Accept-Language header (a malformed one counts as absent)."""
    if not header or len(header) > 1000:
        return None
    preferred: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:30]):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or not re.fullmatch(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*", tag):
            continue
        quality = 1.0
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        if match:
            try:
                quality = float(match.group(1))
            except ValueError:
                continue
        if quality > 0:
            preferred.append((-quality, index, tag))
    tags = [tag for _q, _i, tag in sorted(preferred)]
    found = Locale.negotiate(tags, list(_configured), sep="-") if tags else None
    return valid(str(found)) if found else None


def choose(query: str | None, cookie: str | None, account: str | None, accept: str | None) -> tuple[str, str]:
    """(language, where it came from): ?lang= > cookie > account > Accept-Language > English."""
    for source, value in (("query", valid(query)), ("cookie", valid(cookie)), ("account", valid(account)),
                          ("header", from_accept_language(accept))):
        if value:
            return value, source
    return DEFAULT, "default"


def switch_links(request, keep_query: bool = True) -> list[dict]:
    """The language switch: this page in each language (the path and its other query values kept). An error
    page's switch leads to the home page: what was mistyped (or a secret link) is not echoed back, and the
    page is the same whatever path it answers."""
    from urllib.parse import urlencode

    items = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] if keep_query else []
    path = request.url.path if keep_query else "/"
    here = current()
    return [{"code": code, "name": NATIVE_NAMES.get(code, locale_of(code).get_display_name(locale_of(code))),
             "lang": html_lang(code), "current": code == here,
             "href": f"{path}?{urlencode([*items, ('lang', code)])}"}
            for code in _configured]


class Languages:
    """ASGI middleware: the request's language into the context variable (and scope state "language"), and a
    ?lang= choice remembered in the denhub_lang cookie."""

    def __init__(self, app, https: bool = False) -> None:
        self.app = app
        self.cookie_flags = "; Secure" if https else ""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = _query_lang(scope.get("query_string", b""))
        headers = {k: v for k, v in scope.get("headers", ()) if k in (b"cookie", b"accept-language")}
        cookie = _cookie_lang(headers.get(b"cookie", b"").decode("latin-1"))
        accept = headers.get(b"accept-language", b"").decode("latin-1")
        code, source = choose(query, cookie, None, accept)
        scope.setdefault("state", {})["language"] = (code, source)
        token = _current.set(code)
        remember = source == "query" and code != valid(cookie)

        async def send_with_cookie(message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if remember:
                    value = (f"{COOKIE}={code}; Max-Age={COOKIE_MAX_AGE}; Path=/; SameSite=Lax; HttpOnly"
                             f"{self.cookie_flags}")
                    headers.append((b"set-cookie", value.encode("latin-1")))
                _vary_by_language(headers)
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _current.reset(token)


def _vary_by_language(headers: list) -> None:
    """A page's words follow Accept-Language and the language cookie: say so (Vary), so that no shared cache
    hands one visitor's Bengali page to another who asked for English. Pages only (text/html): the scripts'
    JSON and files are the same in every language."""
    content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
    if not content_type.startswith(b"text/html"):
        return
    at = next((i for i, (k, _v) in enumerate(headers) if k.lower() == b"vary"), None)
    have = [] if at is None else [n.strip() for n in headers[at][1].decode("latin-1").split(",") if n.strip()]
    names = have + [n for n in ("Cookie", "Accept-Language") if n.lower() not in {h.lower() for h in have}]
    value = ", ".join(names).encode("latin-1")
    if at is None:
        headers.append((b"vary", value))
    else:
        headers[at] = (b"vary", value)


def _query_lang(query_string: bytes) -> str | None:
    from urllib.parse import parse_qs

    try:
        values = parse_qs(query_string.decode("latin-1"), max_num_fields=50).get("lang")
    except ValueError:
        return None
    return values[-1] if values else None


def _cookie_lang(header: str) -> str | None:
    if COOKIE not in header:
        return None
    jar = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:  # a malformed Cookie header is no language
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel else None


def apply_account_preference(scope, user_language: str | None) -> str | None:
    """Called when the signed-in user is known (kernel.auth.current_user): their saved language wins over
    Accept-Language (the cookie and ?lang= win over it). Returns a ?lang= choice to save on the account."""
    state = scope.get("state", {})
    chosen = state.get("language")
    if chosen is None:
        return None
    code, source = chosen
    if source in ("header", "default") and valid(user_language):
        state["language"] = (valid(user_language), "account")
        _current.set(valid(user_language))
    if source == "query" and code != user_language:
        return code
    return None
