"""Organisers' Markdown: rendered, then sanitised so nothing in it can run in a visitor's browser."""

from __future__ import annotations

import pytest
from markupsafe import Markup

from kernel.markdown import render_markdown
from tests.core.helpers import assert_no_active_content, elements
from tests.events.test_public import SCRIPTY


def test_formatting():
    html = render_markdown(
        "**bold** and *italic* and `code`\n\n> quoted\n\n---\n\n| a | b |\n|---|:-:|\n| 1 | 2 |"
    )
    assert isinstance(html, Markup)  # so templates do not escape it a second time
    for fragment in (
        "<strong>bold</strong>",
        "<em>italic</em>",
        "<code>code</code>",
        "<blockquote>",
        "<hr>",
        "<table>",
        "<th>b</th>",
        "<td>2</td>",
    ):
        assert fragment in html, fragment


def test_links_get_rel_and_keep_safe_schemes():
    html = render_markdown(
        "[web](https://example.org) [mail](mailto:hub@example.org) [phone](tel:+441214567890)"
    )
    links = [attrs for tag, attrs in elements(html) if tag == "a"]
    assert [link["href"] for link in links] == [
        "https://example.org",
        "mailto:hub@example.org",
        "tel:+441214567890",
    ]
    for link in links:
        assert set(link["rel"].split()) == {"noopener", "noreferrer", "nofollow"}


@pytest.mark.parametrize("text", SCRIPTY)
def test_nothing_active_survives(text):
    html = render_markdown(text)
    assert_no_active_content(html)
    assert "<img" not in html and "<svg" not in html  # images and SVG are not allowed at all


def test_the_safety_check_itself_notices_active_content():
    """Guards the tests above: the checker must fail on what it is meant to catch."""
    for bad in (
        '<a href=" JavaScript:alert(1)">x</a>',
        '<p onclick="x()">x</p>',
        "<script>x()</script>",
        '<img src="x" onerror="x()">',
        '<iframe src="https://evil.example"></iframe>',
    ):
        with pytest.raises(AssertionError):
            assert_no_active_content(bad)
    assert_no_active_content('<a href="https://example.org" rel="noopener">fine</a>')


def test_empty_description():
    assert render_markdown("") == "" and render_markdown(None) == ""
