"""One route for every document a domain makes: /documents/{name}/{ref} (the documents extension point,
kernel.hooks). The provider named `name` says who may have it (its Access, checked here as guard checks a
page) and makes it: (filename, mimetype, bytes), or None for a 404. Query parameters reach the provider
with the request (a judge's score sheets: ?judge=...)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kernel.auth import PUBLIC, guard, refusal
from kernel.hooks import Document, hooks_of
from kernel.text import content_disposition

REF_MAX = 64  # no code or number a provider looks up is longer


def document_response(document: Document) -> Response:
    """A download: private (tickets and score sheets name people), never cached by a shared cache."""
    return Response(document.content, media_type=document.mimetype, headers={
        "Content-Disposition": content_disposition(document.filename), "Cache-Control": "private, no-store"})


def document_path(name: str, ref: object) -> str:
    return f"/documents/{name}/{ref}"


@guard(PUBLIC)  # each provider's own access is checked below, before it makes anything
async def document(request: Request) -> Response:
    provider = hooks_of(request.app).documents.get(request.path_params["name"])
    ref = request.path_params["ref"]
    if provider is None or len(ref) > REF_MAX:
        raise HTTPException(404, "There is no such document.")
    refused = await refusal(request, provider.access)
    if refused is not None:
        return refused
    made = await provider.make(request, ref)
    if made is None:
        raise HTTPException(404, "There is no such document.")
    return document_response(made)


routes = [Route("/documents/{name}/{ref}", document, methods=["GET"], name="document")]
