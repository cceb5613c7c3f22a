"""Import pairs from JSONL, export votes as DPO JSONL and as CSV.

Import records (one JSON object per line)::

    {"prompt": str, "response_a": str, "response_b": str, ...metadata}

Optional vote fields load existing judgements (PRISM- or Chatbot-Arena-style exports):
``annotator`` (or ``judge``) with ``choice`` (``a``/``b``/``tie``/``both_bad``) or ``winner``
(``model_a``/``model_b``/``tie``/``tie (bothbad)``), and ``rationale``. Every other field is
kept in the pair's ``meta``. The whole file is checked first: any bad line raises a
:class:`DataError` naming every bad line (its ``row`` and ``column`` point at the first), and
nothing is stored. The file is UTF-8 (a BOM is accepted); lines end at ``\n`` only, so a JSON
string may hold U+2028 and the like; strings with NUL characters or unpaired surrogates are
refused, as the database cannot store them.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, TextIO

from sqlalchemy.orm import Session

from persona_core.data.errors import DataError, shown
from persona_core.preferences import store
from persona_core.preferences.order import choice_to_shown

WINNERS = {"model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "both_bad", "both_bad": "both_bad",
           "a": "a", "b": "b"}
VOTE_KEYS = ("annotator", "judge", "choice", "winner", "rationale")
MAX_REPORTED = 20


@dataclass
class PairRecord:
    """One validated import line."""

    line: int
    prompt: str
    response_a: str
    response_b: str
    meta: dict = field(default_factory=dict)
    annotator: str | None = None
    choice: str | None = None
    rationale: str = ""


@dataclass(frozen=True)
class ImportResult:
    pairs: int
    votes: int
    pair_ids: list[int]


Problem = tuple[str, str]  # (column: the field's key, or "character k" / "byte k" of the line; message)


def _text(obj: dict, key: str, problems: list[Problem]) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        problems.append((key, f"{key!r} is missing" if value is None else f"{key!r} must be a string, got {type(value).__name__}"))
        return ""
    if key == "prompt" and not value.strip():
        problems.append((key, "'prompt' is empty"))
    return value


def _unstorable(value: object) -> str | None:
    """Why a JSON value cannot go into the database (NUL characters, unpaired surrogates), if so."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (\\u0000), which the database cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"contains an unpaired surrogate {value[exc.start]!r}, which is not valid Unicode"
        return None
    if isinstance(value, dict):
        items = [x for kv in value.items() for x in kv]
    elif isinstance(value, list):
        items = value
    else:
        return None
    return next((why for why in map(_unstorable, items) if why), None)


def _parse(text: str, line: int) -> tuple[PairRecord | None, list[Problem]]:
    """One JSONL line as a record, or its problems with the column each is in."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at")  # "Invalid control character at", "Unterminated string starting at"
        return None, [(f"character {exc.colno}", f"not valid JSON ({what} at column {exc.colno})")]
    except RecursionError:
        return None, [("character 1", "not valid JSON (nested too deeply)")]
    if not isinstance(obj, dict):
        first = len(text) - len(text.lstrip()) + 1
        return None, [(f"character {first}", f"expected a JSON object, got {type(obj).__name__}")]
    problems: list[Problem] = []
    for key, value in obj.items():
        why = _unstorable(key) or _unstorable(value)
        if why:
            problems.append((key, f"{shown(key)} {why}"))
    prompt, a, b = (_text(obj, k, problems) for k in ("prompt", "response_a", "response_b"))
    annotator_key = "annotator" if "annotator" in obj else "judge"
    choice_key = "choice" if "choice" in obj else "winner"
    annotator = obj.get(annotator_key)
    raw_choice = obj.get(choice_key)
    choice = None
    if raw_choice is not None:
        choice = WINNERS.get(str(raw_choice).strip().lower()) if isinstance(raw_choice, str) else None
        if choice is None:
            problems.append((choice_key, f"unknown choice {shown(raw_choice)}; use a, b, tie, both_bad "
                                         "(or model_a, model_b, tie, tie (bothbad))"))
        if annotator is None:
            problems.append((choice_key, "a 'choice' needs an 'annotator'"))
    if annotator is not None:
        if not isinstance(annotator, str) or not annotator.strip():
            problems.append((annotator_key, "'annotator' must be a non-empty string"))
        elif len(annotator.strip()) > store.MAX_NAME:
            problems.append((annotator_key, f"'annotator' is longer than {store.MAX_NAME} characters"))
        else:
            annotator = annotator.strip()
        if raw_choice is None:
            problems.append((annotator_key, "an 'annotator' needs a 'choice'"))
    rationale = obj.get("rationale") or ""
    if not isinstance(rationale, str):
        problems.append(("rationale", "'rationale' must be a string"))
    if problems:
        return None, problems
    meta = {k: v for k, v in obj.items() if k not in ("prompt", "response_a", "response_b", *VOTE_KEYS)}
    return PairRecord(line, prompt, a, b, meta, annotator, choice, rationale), []


def parse_line(text: str, line: int) -> tuple[PairRecord | None, list[str]]:
    """One JSONL line as a record, or the problems found in it."""
    record, problems = _parse(text, line)
    return record, [message for _, message in problems]


def _lines(raw: bytes) -> list[tuple[int, str | None, Problem | None]]:
    """``(line number, text, decoding problem)`` per line: lines end at ``\\n`` only (a JSON string
    may hold U+2028 and the like), a trailing ``\\r`` and a leading UTF-8 BOM are dropped."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    out = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        if chunk.endswith(b"\r"):
            chunk = chunk[:-1]
        try:
            out.append((number, chunk.decode("utf-8"), None))
        except UnicodeDecodeError as exc:
            hint = ("the file is UTF-16 encoded; save it as UTF-8" if number == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff"))
                    else "save the file as UTF-8")
            out.append((number, None, (f"byte {exc.start + 1}",
                                       f"not valid UTF-8 (byte 0x{chunk[exc.start]:02x} at byte {exc.start + 1} of the line); {hint}")))
    if out and out[-1][1] == "":
        out.pop()  # the final newline
    return out


def read_pairs_jsonl(path: str | Path) -> list[PairRecord]:
    """Every record of a UTF-8 JSONL file; :class:`DataError` listing each bad line (blank lines are
    skipped). The error's ``row`` and ``column`` point at the first bad line: ``column`` is the
    bad field's key, or ``character k`` (``byte k`` for a bad encoding) of the line. Strings with NUL
    characters or unpaired surrogates are refused (the database cannot store them)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc}", file=path) from exc
    records, bad = [], []
    for number, text, problem in _lines(raw):
        if problem is not None:
            bad.append((number, [problem]))
            continue
        if not text.strip():
            continue
        record, problems = _parse(text, number)
        if problems:
            bad.append((number, problems))
        else:
            records.append(record)
    if bad:
        listed = "\n".join(f"  line {n}: {'; '.join(m for _, m in p)}" for n, p in bad[:MAX_REPORTED])
        more = f"\n  ... and {len(bad) - MAX_REPORTED} more" if len(bad) > MAX_REPORTED else ""
        raise DataError(f"{len(bad)} bad line(s), nothing was imported:\n{listed}{more}", file=path, row=bad[0][0],
                        column=bad[0][1][0][0])
    if not records:
        raise DataError("no records", file=path)
    return records


def store_records(session: Session, records: Iterable[PairRecord], *, source: str = "import",
                  file: str | None = None) -> ImportResult:
    """Store validated records (pairs and their votes) in the caller's transaction."""
    ids, votes = [], 0
    for r in records:
        meta = {**r.meta, "import": {"file": file, "line": r.line}} if file else dict(r.meta)
        pid = store.add_pair(session, prompt=r.prompt, response_a=r.response_a, response_b=r.response_b,
                             source=source, meta=meta)
        ids.append(pid)
        if r.annotator is not None:
            store.submit(session, pair_id=pid, annotator=r.annotator, choice=r.choice, displayed_order="ab",
                         token=store.new_token(), rationale=r.rationale, extra_facts={"imported": True})
            votes += 1
    return ImportResult(pairs=len(ids), votes=votes, pair_ids=ids)


def import_pairs(db_url: str | None, path: str | Path, *, source: str = "import") -> ImportResult:
    """Validate the whole file, then store it in one transaction (all or nothing)."""
    from db.session import session_scope

    records = read_pairs_jsonl(path)
    with session_scope(db_url, write_lock=True) as session:
        return store_records(session, records, source=source, file=Path(path).name)


# ------------------------------------------------------------------------- export
@dataclass(frozen=True)
class DPOExport:
    records: list[dict]
    ties: int
    both_bad: int

    @property
    def counts(self) -> dict:
        return {"written": len(self.records), "left_out_ties": self.ties, "left_out_both_bad": self.both_bad}


def dpo_records(session: Session, *, annotator: str | None = None, source: str | None = None) -> DPOExport:
    """``{prompt, chosen, rejected}`` for every current decisive vote (ties and both-bad are
    left out and counted). One record per vote, oldest first."""
    votes = store.list_votes(session, annotator=annotator)
    pairs = {p.id: p for p in store.list_pairs(session, ids=sorted({v.pair_id for v in votes}))}
    records, ties, both_bad = [], 0, 0
    for v in votes:
        pair = pairs[v.pair_id]
        if source is not None and pair.source != source:
            continue
        if v.choice == "tie":
            ties += 1
        elif v.choice == "both_bad":
            both_bad += 1
        else:
            chosen, rejected = (pair.response_a, pair.response_b) if v.choice == "a" else (pair.response_b, pair.response_a)
            records.append({"prompt": pair.prompt, "chosen": chosen, "rejected": rejected})
    return DPOExport(records, ties, both_bad)


def write_dpo(export: DPOExport, out: TextIO) -> None:
    for record in export.records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


CSV_COLUMNS = [
    "annotation_id", "pair_id", "annotator", "choice", "shown_choice", "displayed_order", "status", "rationale",
    "seconds", "created_at", "replaces_id", "source", "steered_side", "steered_shown", "persona", "method", "model",
    "checkpoint", "prompt", "response_a", "response_b",
]


def csv_rows(session: Session) -> list[dict]:
    """Every annotation (the whole history, all statuses) with its pair, oldest first."""
    votes = store.list_votes(session, status=None)
    pairs = {p.id: p for p in store.list_pairs(session, ids=sorted({v.pair_id for v in votes}))}
    rows = []
    for v in votes:
        p, f = pairs[v.pair_id], v.facts
        persona = f.get("persona")
        rows.append({
            "annotation_id": v.id, "pair_id": v.pair_id, "annotator": v.annotator, "choice": v.choice,
            "shown_choice": choice_to_shown(v.choice, v.displayed_order), "displayed_order": v.displayed_order,
            "status": v.status, "rationale": v.rationale, "seconds": "" if v.seconds is None else round(v.seconds, 3),
            "created_at": v.created_at.isoformat(), "replaces_id": v.replaces_id or "", "source": p.source,
            "steered_side": f.get("steered_side") or "", "steered_shown": f.get("steered_shown") or "",
            "persona": (persona.get("title") or persona.get("key") or "") if isinstance(persona, dict) else (persona or ""),
            "method": f.get("method") or "", "model": f.get("model") or "", "checkpoint": f.get("checkpoint") or "",
            "prompt": p.prompt, "response_a": p.response_a, "response_b": p.response_b,
        })
    return rows


def write_csv(rows: list[dict], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    write_csv(rows, buf)
    return buf.getvalue()
