"""The hub administrator's accounts page: invite people (an emailed link to set their password), change a
role, switch an account off or on. Who organises which event is the events domain's page (events.organisers)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from kernel import invitations
from kernel.accounts import ROLE_LABELS, AccountError, Role, User
from kernel.auth import ADMINS, flash, guard
from kernel.hooks import Domain, MenuEntry
from kernel.web import render

HOME = "/admin/accounts"


def _back() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


async def _page(request: Request, *, values=None, errors=None, status_code: int = 200) -> Response:
    async with request.app.state.db.read() as session:
        users = list(await session.scalars(select(User).order_by(User.is_active.desc(), User.role, User.name)))
    return render(request, "admin/accounts.html", {
        "users": users, "roles": ROLE_LABELS, "values": values or {"role": Role.ORGANISER.value},
        "errors": errors or {},
    }, status_code=status_code, headers={"Cache-Control": "private, no-store"})


@guard(ADMINS)
async def accounts(request: Request) -> Response:
    return await _page(request)


@guard(ADMINS)
async def invite(request: Request) -> Response:
    form = await request.form()
    values = {key: str(form.get(key, "")).strip()[:254] for key in ("email", "name", "role")}
    errors = {}
    if values["role"] not in {role.value for role in Role}:
        errors["role"] = "Choose what the account is for."
    if not values["email"]:
        errors["email"] = "Enter the email address to send the invitation to."
    if not errors:
        try:
            async with request.app.state.db.write() as session:
                user, _ = await invitations.invite(
                    session=session, email=values["email"], name=values["name"][:120], role=values["role"],
                    base_url=request.app.state.settings.base_url, invited_by=request.state.user.name)
        except AccountError as exc:
            errors["email"] = str(exc)
        else:
            flash(request, f"Invitation sent to {user.email}.")
            return _back()
    return await _page(request, values=values, errors=errors, status_code=422)


async def _other_account(request: Request, session) -> User:
    user = await session.get(User, request.path_params["user_id"])
    if user is None:
        raise HTTPException(404, "There is no account with that number.")
    if user.id == request.state.user.id:
        # So that the hub is never left without an administrator by a slip of the hand.
        raise HTTPException(409, "You cannot change your own account here: ask another hub administrator.")
    return user


@guard(ADMINS)
async def change_role(request: Request) -> Response:
    role = str((await request.form()).get("role", ""))
    if role not in {r.value for r in Role}:
        raise HTTPException(422, "Choose one of the roles listed.")
    async with request.app.state.db.write() as session:
        user = await _other_account(request, session)
        user.role = role
        user.session_version += 1  # signed in elsewhere with the old role: signed out
    flash(request, f"{user.name} is now {Role(role).label.lower()}.")
    return _back()


@guard(ADMINS)
async def set_active(request: Request) -> Response:
    active = str((await request.form()).get("active", "")) == "1"
    async with request.app.state.db.write() as session:
        user = await _other_account(request, session)
        user.is_active = active
        if not active:
            user.session_version += 1
    flash(request, f"{user.name}'s account is {'switched on' if active else 'switched off'}.")
    return _back()


@guard(ADMINS)
async def reinvite(request: Request) -> Response:
    async with request.app.state.db.write() as session:
        user = await _other_account(request, session)
        if user.has_password or not user.is_active:
            raise HTTPException(409, "That account already has a password (or is switched off).")
        await invitations.send_invitation(session=session, user=user, base_url=request.app.state.settings.base_url,
                                          invited_by=request.state.user.name)
    flash(request, f"A new invitation is on its way to {user.email}.")
    return _back()


routes = [
    Route("/admin/accounts", accounts, methods=["GET"], name="admin_accounts"),
    Route("/admin/accounts/invite", invite, methods=["POST"], name="admin_invite"),
    Route("/admin/accounts/{user_id:int}/role", change_role, methods=["POST"], name="admin_change_role"),
    Route("/admin/accounts/{user_id:int}/active", set_active, methods=["POST"], name="admin_set_active"),
    Route("/admin/accounts/{user_id:int}/invite", reinvite, methods=["POST"], name="admin_reinvite"),
]

# The kernel's own pages for accounts, shaped as a domain so the assembly lists it with the others.
DOMAIN = Domain(
    name="accounts",
    models=(invitations,),
    routes=(*invitations.routes, *routes),
    menu=(MenuEntry("Accounts", HOME, frozenset({Role.ADMIN.value})),),
)
