"""Template rules a browser enforces and in-process tests cannot see."""

from __future__ import annotations

import re

from kernel.settings import PROJECT_ROOT

FORM_TAG = re.compile(r"<(/?)form\b", re.IGNORECASE)


def test_no_template_nests_a_form_in_another():
    """Browsers drop a form nested in another, so its button submits the outer one (the waiting-list form
    inside the booking form did: name, email and CSRF token ended up in a GET URL)."""
    nested = []
    for path in sorted((PROJECT_ROOT / "templates").rglob("*.html")):
        depth = 0
        text = path.read_text(encoding="utf-8")
        for tag in FORM_TAG.finditer(text):
            depth += -1 if tag.group(1) else 1
            if depth > 1:
                nested.append(f"{path.relative_to(PROJECT_ROOT)}:{text.count(chr(10), 0, tag.start()) + 1}")
    assert not nested, f"forms nested in forms: {nested}"
