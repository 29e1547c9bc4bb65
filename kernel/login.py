"""Signing in and out, and the account page: the kernel's own pages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kernel import ratelimit
from kernel.accounts import authenticate, normalise_email
from kernel.auth import PUBLIC, SIGNED_IN, client_address, flash, guard, home_for, safe_next
from kernel.web import render


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
    account_key = normalise_email(email)
    address_key = client_address(request)
    db = request.app.state.db
    window = settings.login_window_seconds
    async with db.read() as session:
        account_failures = await ratelimit.count_recent(
            session=session, bucket="login-account", key=account_key, window_seconds=window,
            up_to=settings.login_max_failures,
        )
        address_failures = await ratelimit.count_recent(
            session=session, bucket="login-address", key=address_key, window_seconds=window,
            up_to=settings.login_max_failures * 4,
        )
    if account_failures >= settings.login_max_failures or address_failures >= settings.login_max_failures * 4:
        minutes = max(1, window // 60)
        return render(
            request,
            "auth/login.html",
            {"email": email, "next": next_url,
             "error": f"Too many failed sign-in attempts. Wait {minutes} minutes and try again."},
            status_code=429,
            headers={"Retry-After": str(window)},
        )
    async with db.write() as session:
        user = await authenticate(session=session, email=email, password=password)
        if user is None:
            await ratelimit.record(session=session, bucket="login-account", key=account_key)
            await ratelimit.record(session=session, bucket="login-address", key=address_key)
        else:
            await ratelimit.clear(session=session, bucket="login-account", key=account_key)
            await ratelimit.prune(session=session)
    if user is None:
        return render(
            request,
            "auth/login.html",
            {"email": email, "next": next_url, "error": "That email and password do not match an account."},
            status_code=401,
        )
    request.session.clear()  # a fresh session (and CSRF token) on every sign-in
    request.session["uid"] = user.id
    request.session["sv"] = user.session_version
    request.state.user = user
    flash(request, f"Signed in as {user.name}.")
    return RedirectResponse(safe_next(next_url, home_for(request, user)), status_code=303)


@guard(SIGNED_IN)
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@guard(SIGNED_IN)
async def account(request: Request) -> Response:
    return render(request, "auth/account.html", {})


routes = [
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/account", account, methods=["GET"], name="account"),
]
