"""Parsing judging forms: (data or None, errors keyed by field, values to re-show)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import FormData

from judging import scoring, tie_breaks
from judging.competitions import Settings
from judging.entrants import EntrantInput
from judging.errors import InvalidInput, JudgingError
from judging.models import Criterion, Round
from judging.rubric import CriterionInput
from kernel.auth import form_id, form_int
from kernel.text import has_control_characters, one_line

HONEYPOT_FIELD = "website"  # hidden from people; bots fill it in
EMAIL_RE = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
TIE_BREAK_SLOTS = 3


def valid_email(value: str) -> bool:
    return len(value) <= 254 and bool(EMAIL_RE.match(value)) and not has_control_characters(value)


def form_values(form: FormData, limit: int = 4000) -> dict[str, str]:
    return {k: v[:limit] for k, v in form.multi_items() if isinstance(v, str)}


def _int(value: str | None) -> int | None:
    """A whole number that fits the database's Integer columns, or None."""
    return form_int(value)


ENTRANT_LIMITS = {"name": 120, "enterprise": 160, "pitch": 200, "social_mission": 3000}


def parse_entrant(form: FormData, rounds: list[Round] = ()) -> tuple[EntrantInput | None, dict, dict]:
    values = form_values(form)
    errors: dict[str, str] = {}
    clean = {k: values.get(k, "").strip() for k in (*ENTRANT_LIMITS, "contact_email")}
    for key in ("name", "enterprise"):  # on badges, results PDFs and emails: one line (kernel.text)
        clean[key] = one_line(clean[key])
    if not clean["name"]:
        errors["name"] = "Enter the name of the person pitching."
    if not clean["enterprise"]:
        errors["enterprise"] = "Enter the enterprise’s name."
    if not clean["pitch"]:
        errors["pitch"] = "Describe the idea in one line."
    if has_control_characters(clean["pitch"]):
        errors["pitch"] = "Keep the pitch to one line."
    if not clean["social_mission"]:
        errors["social_mission"] = "Tell us the social mission: who benefits and how."
    for key, limit in ENTRANT_LIMITS.items():
        if len(clean[key]) > limit and key not in errors:
            errors[key] = f"Keep this to {limit} characters."
    if not valid_email(clean["contact_email"]):
        errors["contact_email"] = "Enter an email address like name@example.com."
    round_id = None
    if values.get("round_id"):
        round_id = form_id(values["round_id"])
        if round_id not in {r.id for r in rounds}:
            errors["round_id"] = "Choose one of this competition’s rounds."
    if errors:
        return None, errors, values
    return EntrantInput(name=clean["name"], enterprise=clean["enterprise"], pitch=clean["pitch"],
                        social_mission=clean["social_mission"], contact_email=clean["contact_email"].lower(),
                        round_id=round_id), {}, values


@dataclass
class AdvanceInput:
    final_id: int
    entrant_ids: list[int]  # hand-picked heat entrants, or empty with heat_id and top
    heat_id: int | None = None
    top: int | None = None


def parse_advance(form: FormData) -> AdvanceInput:
    """The "Advance to the final" forms: final_id, and either entrant (checked, repeated) or heat_id and top.
    Anything else raises InvalidInput."""
    final_id = form_id(form.get("final_id"))
    if final_id is None:
        raise InvalidInput("Choose the final to advance entrants into.")
    entrant_ids = []
    for value in form.getlist("entrant"):
        number = form_id(value)
        if number is None:
            raise InvalidInput("Choose entrants from the list.")
        entrant_ids.append(number)
    raw_top, raw_heat = str(form.get("top", "")).strip(), str(form.get("heat_id", "")).strip()
    if entrant_ids and (raw_top or raw_heat):
        raise InvalidInput("Advance either a heat’s top entrants or entrants you choose, not both at once.")
    if entrant_ids:
        return AdvanceInput(final_id, entrant_ids)
    if not raw_top and not raw_heat:
        raise InvalidInput("Choose the entrants to advance, or how many of a heat’s top entrants.")
    top, heat_id = _int(raw_top), form_id(raw_heat)
    if heat_id is None:
        raise InvalidInput("Choose the heat to take the top entrants from.")
    if top is None or not 1 <= top <= 100:
        raise InvalidInput("Say how many of the heat’s top entrants advance: a whole number from 1 to 100.")
    return AdvanceInput(final_id, [], heat_id, top)


def tie_break_choices(criteria: list[Criterion]) -> list[tuple[str, str]]:
    specs = [scoring.CriterionSpec(c.id, c.key, c.name, c.scale_min, c.scale_max, c.weight) for c in criteria]
    options = [(tie_breaks.CRITERION_PREFIX + c.key, tie_breaks.describe_rule(tie_breaks.CRITERION_PREFIX + c.key, specs))
               for c in criteria]
    return options + [(tie_breaks.SPREAD, tie_breaks.describe_rule(tie_breaks.SPREAD)),
                      (tie_breaks.CHAIR, tie_breaks.describe_rule(tie_breaks.CHAIR))]


def parse_settings(form: FormData) -> tuple[Settings | None, dict, dict]:
    values = form_values(form)
    errors: dict[str, str] = {}
    name = one_line(values.get("name", ""))
    if not name or len(name) > 160:
        errors["name"] = "Name the competition (up to 160 characters)."
    minutes = values.get("pitch_minutes", "").strip()
    try:
        pitch_seconds = round(float(minutes) * 60)
    except ValueError:
        pitch_seconds = 0
    if not 30 <= pitch_seconds <= 3600:
        errors["pitch_minutes"] = "A pitch lasts from half a minute to 60 minutes."
    weight = _int(values.get("audience_weight_percent"))
    if weight is None or not 0 <= weight <= 100:
        errors["audience_weight_percent"] = "Enter a whole percentage from 0 (judges only) to 100."
    chain = [values.get(f"tie_break_{i}", "") for i in range(TIE_BREAK_SLOTS)]
    chain = [rule for rule in chain if rule]
    if len(set(chain)) != len(chain):
        errors["tie_break"] = "Each tie-break rule can be used once."
    if errors:
        return None, errors, values
    return Settings(name=name, pitch_seconds=pitch_seconds, audience_weight_percent=weight, tie_break=chain,
                    applications_open=values.get("applications_open") in ("on", "1", "yes")), {}, values


def parse_rubric(form: FormData) -> tuple[list[CriterionInput] | None, dict, dict]:
    """Rows id_<i>, name_<i> ... remove_<i>; a row with an empty id and an empty name is ignored."""
    values = form_values(form)
    errors: dict[str, str] = {}
    rows: list[CriterionInput] = []
    indexes = sorted({int(m.group(1)) for k in values if (m := re.fullmatch(r"name_(\d{1,3})", k))})
    for i in indexes:
        raw_id = values.get(f"id_{i}", "").strip()
        name = one_line(values.get(f"name_{i}", ""))
        if not raw_id and not name:
            continue
        numbers = {k: _int(values.get(f"{k}_{i}")) for k in ("scale_min", "scale_max", "weight", "position")}
        bad = [k for k, v in numbers.items() if v is None]
        if bad or (raw_id and _int(raw_id) is None):
            errors[f"row_{i}"] = (f"“{name or 'New criterion'}”: scale, weight and position are whole numbers of "
                                  "up to 9 digits.")
            continue
        rows.append(CriterionInput(
            id=_int(raw_id) if raw_id else None, key=one_line(values.get(f"key_{i}", ""), 40), name=name[:80],
            description=one_line(values.get(f"description_{i}", ""), 300), scale_min=numbers["scale_min"],
            scale_max=numbers["scale_max"], weight=numbers["weight"], position=numbers["position"],
            remove=values.get(f"remove_{i}") in ("on", "1", "yes"),
        ))
    if errors:
        return None, errors, values
    return rows, {}, values


@dataclass(frozen=True)
class ScoreInput:
    """A judge's save: criterion id -> value, the feedback for the entrant, the private note for the
    organisers, and "save" (a draft) or "submit"."""

    values: dict[int, int]
    feedback: str
    private_note: str
    action: str


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def parse_scores(form: FormData) -> ScoreInput:
    """The plain form: fields c<id>, feedback, private_note, action. Non-numbers raise InvalidInput."""
    values: dict[int, int] = {}
    for key, value in form.multi_items():
        match = re.fullmatch(r"c(\d{1,9})", key)
        if not match or not isinstance(value, str) or value == "":
            continue
        number = _int(value)
        if number is None:
            raise InvalidInput("Scores are whole numbers on each criterion’s scale.")
        if int(match.group(1)) in values:
            raise InvalidInput("Each criterion takes one score.")
        values[int(match.group(1))] = number
    action = form.get("action", "save")
    return ScoreInput(values, _text(form.get("feedback", "")), _text(form.get("private_note", "")),
                      action if isinstance(action, str) else "save")


def parse_positions(form: FormData, prefix: str) -> dict[int, int]:
    """Fields <prefix><entrant id> = whole number; anything else raises InvalidInput."""
    positions: dict[int, int] = {}
    for key, value in form.multi_items():
        match = re.fullmatch(rf"{prefix}(\d{{1,9}})", key)
        if not match or not isinstance(value, str):
            continue
        if value.strip() == "":
            continue
        number = _int(value)
        if number is None or number < 0:
            raise InvalidInput("Enter whole numbers from 0 upwards, of up to 9 digits.")
        positions[int(match.group(1))] = number
    return positions


def parse_json_scores(body: object) -> ScoreInput:
    """The script's save, {"values": {"<criterion id>": n}, "feedback": "...", "private_note": "...",
    "action": "save" | "submit"}. Anything else raises InvalidInput (or JudgingError for the action).

    "comment" is read as the feedback when "feedback" is absent: a scoring page loaded before the two boxes
    existed (still open on a judge's phone) sends its one box, which the feedback pack always printed."""
    if not isinstance(body, dict):
        raise InvalidInput("Send the scores as a JSON object.")
    raw = body.get("values", {})
    if not isinstance(raw, dict):
        raise InvalidInput("Scores are sent as an object of criterion number to score.")
    values: dict[int, int] = {}
    for key, value in raw.items():
        criterion_id = form_id(key) if isinstance(key, str) and key.isdigit() else None
        if criterion_id is None:
            raise InvalidInput("Scores are keyed by criterion number.")
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("Scores are whole numbers on each criterion’s scale.")
        values[criterion_id] = value
    feedback = body.get("feedback", body.get("comment", ""))
    if not isinstance(feedback, str):
        raise InvalidInput("The feedback is text.", field="feedback")
    private_note = body.get("private_note", "")
    if not isinstance(private_note, str):
        raise InvalidInput("The private note is text.", field="private_note")
    action = body.get("action", "save")
    if action not in ("save", "submit"):
        raise JudgingError("Choose “Save draft” or “Submit scores”.")
    return ScoreInput(values, feedback, private_note, action)
