"""The organiser's event form: parse and validate, returning field errors and the input to show again."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError
from starlette.datastructures import FormData, UploadFile

from events.models import ACCESS_FEATURES, Category
from kernel.text import one_line
from kernel.web import LONDON

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED_SLUGS = {"past", "new", "manage", "static"}
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_IMAGE_PIXELS = 40_000_000

LIMITS = {
    "title": 160, "slug": 80, "summary": 300, "description": 20_000, "venue_name": 160,
    "venue_address": 300, "accessibility_notes": 2_000, "image_alt": 300,
}
# Fields on one line wherever they go (an email's subject, a PDF ticket, a calendar file, a CSV cell): a line
# break or control character pasted into one becomes a space (kernel.text.one_line).
ONE_LINE_FIELDS = ("title", "slug", "summary", "category", "venue_name", "venue_address", "starts_at", "ends_at",
                   "capacity", "image_alt")
TEXT_FIELDS = ["title", "slug", "summary", "description", "category", "venue_name", "venue_address",
               "starts_at", "ends_at", "capacity", "accessibility_notes", "image_alt"]


@dataclass
class ImageUpload:
    content_type: str
    width: int
    height: int
    data: bytes


@dataclass
class EventInput:
    title: str
    slug: str
    summary: str
    description: str
    category: str
    venue_name: str
    venue_address: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int | None
    accessibility_notes: str
    features: dict[str, bool]
    image: ImageUpload | None
    image_alt: str
    remove_image: bool


def whole_number(text: str, low: int, high: int) -> int:
    """Digits only (no signs, spaces or "1_000"), within [low, high]; ValueError otherwise."""
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValueError(text)
    value = int(text)
    if not low <= value <= high:
        raise ValueError(text)
    return value


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].strip("-") or "event"


def parse_local_datetime(value: str) -> dt.datetime:
    """A datetime-local value ("2026-11-14T18:30") read as Birmingham time, returned in UTC."""
    naive = dt.datetime.fromisoformat(value.strip())
    if naive.tzinfo is not None:
        raise ValueError("no time zone expected")
    return naive.replace(tzinfo=LONDON).astimezone(dt.UTC)


def to_local_input(value: dt.datetime | None) -> str:
    return value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M") if value else ""


def values_from_event(event) -> dict:
    values = {name: getattr(event, name, "") or "" for name in TEXT_FIELDS if hasattr(event, name)}
    values["starts_at"] = to_local_input(event.starts_at)
    values["ends_at"] = to_local_input(event.ends_at)
    values["capacity"] = "" if event.capacity is None else str(event.capacity)
    values["image_alt"] = ""
    for attr, _label in ACCESS_FEATURES:
        values[attr] = bool(getattr(event, attr))
    return values


def check_image(upload: UploadFile, data: bytes, max_bytes: int) -> tuple[ImageUpload | None, str | None]:
    if len(data) > max_bytes:
        # `data` stops at max_bytes + 1; the upload's own size is what the organiser chose.
        size = max(upload.size or 0, len(data))
        return None, f"The image is {size // 1024} KB; the largest allowed is {max_bytes // 1024} KB."
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            width, height = probe.size
            if width * height > MAX_IMAGE_PIXELS:
                return None, "The image has too many pixels; please resize it below 40 megapixels."
            probe.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None, "That file is not an image we can show. Use a JPEG, PNG, WebP or GIF."
    if fmt not in IMAGE_TYPES:
        return None, "That file is not an image we can show. Use a JPEG, PNG, WebP or GIF."
    return ImageUpload(IMAGE_TYPES[fmt], width, height, data), None


async def parse_event_form(form: FormData, *, max_image_bytes: int) -> tuple[EventInput | None, dict, dict]:
    """Returns (input or None, errors by field, values to put back in the form)."""
    values: dict = {}
    errors: dict[str, str] = {}
    for name in TEXT_FIELDS:
        raw = form.get(name, "")
        # PostgreSQL cannot store NUL in text; no browser sends it, so it goes rather than causing a 500.
        values[name] = raw.replace("\x00", "").strip() if isinstance(raw, str) else ""
        if name in ONE_LINE_FIELDS:
            values[name] = one_line(values[name])
    for attr, _label in ACCESS_FEATURES:
        values[attr] = form.get(attr) in ("on", "1", "true")
    remove_image = form.get("remove_image") in ("on", "1", "true")

    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors[name] = f"Keep this to {limit} characters or fewer (it has {len(values[name])})."
    if not values["title"]:
        errors.setdefault("title", "Give the event a title.")
    if not values["venue_name"]:
        errors.setdefault("venue_name", "Say where the event is.")
    try:
        Category(values["category"])
    except ValueError:
        errors["category"] = "Choose a category from the list."

    if not values["slug"] and values["title"] and "title" not in errors:
        values["slug"] = slugify(values["title"])
    if "slug" not in errors and values["slug"]:
        if not SLUG_RE.match(values["slug"]):
            errors["slug"] = "Use lower-case letters, numbers and single hyphens only, e.g. bangla-month-2026."
        elif values["slug"] in RESERVED_SLUGS:
            errors["slug"] = f"“{values['slug']}” is reserved; choose another web address."

    starts = ends = None
    for name, label in (("starts_at", "start"), ("ends_at", "end")):
        if not values[name]:
            errors[name] = f"Enter the {label} date and time."
            continue
        try:
            parsed = parse_local_datetime(values[name])
        except ValueError:
            errors[name] = f"Enter the {label} as a date and time, e.g. 2026-11-14 18:30."
            continue
        if name == "starts_at":
            starts = parsed
        else:
            ends = parsed
    if starts and ends and ends <= starts:
        errors["ends_at"] = "The event must end after it starts."

    capacity = None
    if values["capacity"]:
        try:
            capacity = whole_number(values["capacity"], 1, 100_000)
        except ValueError:
            errors["capacity"] = "Capacity must be a whole number from 1 to 100000, or left empty."

    image = None
    upload = form.get("image")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(max_image_bytes + 1)
        image, error = check_image(upload, data, max_image_bytes)
        if error:
            errors["image"] = error

    if errors:
        return None, errors, values
    assert starts is not None and ends is not None
    return (
        EventInput(
            title=values["title"], slug=values["slug"], summary=values["summary"],
            description=values["description"], category=values["category"],
            venue_name=values["venue_name"], venue_address=values["venue_address"],
            starts_at=starts, ends_at=ends, capacity=capacity,
            accessibility_notes=values["accessibility_notes"],
            features={attr: values[attr] for attr, _ in ACCESS_FEATURES},
            image=image, image_alt=values["image_alt"], remove_image=remove_image,
        ),
        errors,
        values,
    )
