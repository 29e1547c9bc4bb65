"""Signing in and out (by password, or by an emailed one-time link), and the account page: the kernel's own pages.

Password sign-in is limited per account from one address, per address, and per account from everywhere. Each
attempt is claimed (kernel.ratelimit.claim) before the password is checked, and given back when it was right,
so a burst of guesses, from one worker or several, gets no more checks than the limits allow. Someone else's
wrong guesses from other addresses do not lock the owner out from theirs; the owner can always ask for an
emailed sign-in link as well.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kernel import ratelimit
from kernel.accounts import authenticate, close_session, normalise_email, open_session
from kernel.auth import PUBLIC, SIGNED_IN, begin_session, client_address, flash, guard, home_for, safe_next
from kernel.settings import Settings
from kernel.signin_links import LinkRefused, check_link, email_link, redeem_link
from kernel.web import render

# (bucket, limit as a multiple of DENHUB_LOGIN_MAX_FAILURES)
_ACCOUNT_FROM_ADDRESS, _ADDRESS, _ACCOUNT = ("login-account-address", 1), ("login-address", 4), ("login-account", 10)


def _login_limits(settings: Settings, account: str, address: str) -> list[tuple[str, str, int]]:
    most = settings.login_max_failures
    return [(_ACCOUNT_FROM_ADDRESS[0], f"{account}|{address}", most * _ACCOUNT_FROM_ADDRESS[1]),
            (_ADDRESS[0], address, most * _ADDRESS[1]),
            (_ACCOUNT[0], account, most * _ACCOUNT[1])]


def _too_many(request: Request, template: str, context: dict, message: str, window: int) -> Response:
    return render(request, template, {**context, "error": message}, status_code=429,
                  headers={"Retry-After": str(window)})


@guard(PUBLIC)
async def login(request: Request) -> Response:
    settings = request.app.state.settings
    next_url = request.query_params.get("next", "")
    if request.method == "GET":
        return render(request, "auth/login.html", {"email": "", "next": next_url, "error": None})

    form = await request.form()
    # NUL can be in no address, and PostgreSQL refuses it in a query parameter (a 500, not a 401).
    email = str(form.get("email", "")).replace("\x00", "")[:254]
    password = str(form.get("password", ""))[:1024]
    next_url = str(form.get("next", ""))
    limits = _login_limits(settings, normalise_email(email), client_address(request))
    db = request.app.state.db
    window = settings.login_window_seconds
    try:
        async with db.write() as session:
            await ratelimit.claim(session=session, limits=limits, window_seconds=window)
    except ratelimit.LimitReached:
        minutes = max(1, window // 60)
        return _too_many(request, "auth/login.html", {"email": email, "next": next_url},
                         f"Too many failed sign-in attempts. Wait {minutes} minutes and try again, or have a "
                         f"sign-in link emailed to you (“Email me a sign-in link” below).", window)
    async with db.write() as session:
        user = await authenticate(session=session, email=email, password=password)
        if user is not None:  # only wrong passwords count: give this attempt back
            await ratelimit.clear(session=session, bucket=limits[0][0], key=limits[0][1])
            for bucket, key, _ in limits[1:]:
                await ratelimit.release(session=session, bucket=bucket, key=key)
            await ratelimit.prune(session=session)
            sid = await open_session(session=session, user=user)
    if user is None:
        return render(
            request,
            "auth/login.html",
            {"email": email, "next": next_url, "error": "That email and password do not match an account."},
            status_code=401,
        )
    begin_session(request, user, sid)
    flash(request, f"Signed in as {user.name}.")
    return RedirectResponse(safe_next(next_url, home_for(request, user)), status_code=303)


@guard(PUBLIC)
async def request_link(request: Request) -> Response:
    """GET: the form; POST: email a one-time sign-in link (the same answer whether or not the account exists)."""
    if request.method == "GET":
        return render(request, "auth/link_request.html", {"email": "", "sent": False, "error": None})
    settings = request.app.state.settings
    email = str((await request.form()).get("email", "")).replace("\x00", "").strip()[:254]
    context = {"email": email, "sent": False}
    if "@" not in email:
        return render(request, "auth/link_request.html", {**context, "error": "Enter your email address."},
                      status_code=422)
    window = settings.login_window_seconds
    most = settings.login_max_failures
    try:
        async with request.app.state.db.write() as session:
            # Few links per account (a mailbox is not to be flooded), more per address (people share one).
            await ratelimit.claim(session=session, window_seconds=window, limits=[
                ("signin-link-account", normalise_email(email), 3),
                ("signin-link-address", client_address(request), most * 4)])
            await email_link(session=session, email=email, base_url=settings.base_url)
    except ratelimit.LimitReached:
        return _too_many(request, "auth/link_request.html", context,
                         f"Too many sign-in links asked for. Wait {max(1, window // 60)} minutes and try again, "
                         "or use the newest link already emailed.", window)
    return render(request, "auth/link_request.html", {**context, "sent": True, "error": None})


@guard(PUBLIC)
async def use_link(request: Request) -> Response:
    """GET shows a confirm button (mail scanners that open links do not use them up); POST signs in."""
    token = request.path_params["token"]
    db = request.app.state.db
    try:
        if request.method == "GET":
            async with db.read() as session:
                account = await check_link(session=session, token=token)
            return render(request, "auth/link_confirm.html", {"account": account, "token": token},
                          headers={"cache-control": "no-store", "referrer-policy": "no-referrer"})
        async with db.write() as session:
            user = await redeem_link(session=session, token=token)
            sid = await open_session(session=session, user=user)
    except LinkRefused as refused:
        return render(request, "auth/link_request.html", {"email": "", "sent": False, "error": str(refused)},
                      status_code=refused.status)
    begin_session(request, user, sid)
    flash(request, f"Signed in as {user.name}.")
    return RedirectResponse(home_for(request, user), status_code=303)


@guard(SIGNED_IN)
async def logout(request: Request) -> Response:
    sid = request.session.get("sid")
    if isinstance(sid, str):  # end it on the server: a copy of the cookie signs no one in either
        async with request.app.state.db.write() as session:
            await close_session(session=session, sid=sid)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@guard(SIGNED_IN)
async def account(request: Request) -> Response:
    return render(request, "auth/account.html", {})


routes = [
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/login/link", request_link, methods=["GET", "POST"], name="request_sign_in_link"),
    Route("/login/link/{token}", use_link, methods=["GET", "POST"], name="sign_in_link"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/account", account, methods=["GET"], name="account"),
]
