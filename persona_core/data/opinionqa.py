"""Loader for the OpinionQA release of Pew's American Trends Panel (Santurkar et al. 2023).

Layout (the user downloads the release; Pew's terms forbid shipping it)::

    human_resp/American_Trends_Panel_W26/info.csv       one row per question
    human_resp/American_Trends_Panel_W26/metadata.csv   the demographic keys and their options
    human_resp/American_Trends_Panel_W26/responses.csv  one row per respondent

``info.csv``: ``key`` (question id, e.g. ``CARS5_W27``), ``question`` (wording),
``option_mapping`` (a Python dict string ``{1.0: 'Yes', 2.0: 'No', 99.0: 'Refused'}``),
``references`` (the option texts as a Python list string) and ``option_ordinal`` (a
Python list of numbers, one per *substantive* option: the options after them in
``references`` are refusals). Extra columns (the release has unnamed index columns)
are ignored.

``metadata.csv``: ``key`` (e.g. ``AGE``, ``POLPARTY``) and ``options`` (a Python list).

``responses.csv``: ``QKEY`` (respondent id), one column per question key holding the
chosen option *text*, the demographic columns named in ``metadata.csv`` and a weight
``WEIGHT_W<n>``.

Rules:

* Options are the substantive references, ordered by ``option_ordinal`` (stable). The
  question is ordinal when these values are all distinct; equal values (e.g. all 1, as
  for "which industry") mark a nominal question kept in the release's order. Without
  ``references`` the option texts come from ``option_mapping`` in code order; without
  ``option_ordinal`` every non-refusal option is substantive and ordinal.
* "Refused" answers (the refusal references, any text "Refused") and blank cells count
  as missing. Any other text that is not an option raises :class:`DataError` naming
  ``responses.csv``, the line and the question column.
* Each question key (``info.csv``) and demographic key (``metadata.csv``) appears once.
* Demographics listed in ``metadata.csv`` become respondent attributes (categorical in
  the metadata's option order; values outside those options, e.g. "Refused", become
  missing). The weight column is survey bookkeeping and is not loaded.
* Respondents with no substantive answer are left out (logged).
"""
from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from persona_core.data.csv_long import CsvTable, read_csv_table
from persona_core.data.errors import DataError, shown
from persona_core.data.survey import Answers, Question, Survey

log = logging.getLogger(__name__)

INFO_FILE = "info.csv"
METADATA_FILE = "metadata.csv"
RESPONSES_FILE = "responses.csv"
WAVE_DIR_PREFIX = "American_Trends_Panel_"
_WAVE_RE = re.compile(r"^W?(\d+)$", re.I)
_REFUSED = {"refused", "refused/dk", "dk/refused", "no answer"}


@dataclass(frozen=True)
class OpinionQAQuestion:
    """A parsed ``info.csv`` row: the question and the texts that mean 'no answer'."""

    question: Question
    refusals: frozenset[str]


def _is_refusal(text: str) -> bool:
    return text.strip().casefold() in _REFUSED


def _wave_label(wave: str | int) -> str:
    m = _WAVE_RE.match(str(wave).strip())
    if not m:
        raise ValueError(f"wave {wave!r} is not like 'W26' or '26'")
    return f"W{int(m.group(1))}"


def resolve_wave_dir(path: str | Path, wave: str | int | None = None) -> Path:
    """The wave directory holding ``info.csv``: ``path`` itself, or ``path/<wave dir>``
    when ``path`` is the ``human_resp`` directory (or its parent)."""
    root = Path(path)
    if not root.is_dir():
        raise DataError("directory not found", file=root)
    if (root / INFO_FILE).exists():
        m = re.search(r"W(\d+)$", root.name)
        if wave is not None and m and f"W{int(m.group(1))}" != _wave_label(wave):
            raise DataError(f"this is wave W{m.group(1)}, not {_wave_label(wave)}", file=root)
        return root
    if (root / "human_resp").is_dir():
        root = root / "human_resp"
    waves = sorted(
        (p for p in root.glob(f"{WAVE_DIR_PREFIX}W*") if p.is_dir()),
        key=lambda p: int(re.sub(r"\D", "", p.name.split("_")[-1]) or 0),
    )
    names = [p.name.removeprefix(WAVE_DIR_PREFIX) for p in waves]
    if wave is None:
        if len(waves) == 1:
            return waves[0]
        if not waves:
            raise DataError(f"no {INFO_FILE} and no {WAVE_DIR_PREFIX}W<n> directories", file=root)
        raise ValueError(f"{root} holds several waves; pick one with wave=...: {', '.join(names)}")
    label = _wave_label(wave)
    target = root / f"{WAVE_DIR_PREFIX}{label}"
    if not target.is_dir():
        raise DataError(f"wave {label} not found (available: {', '.join(names) or 'none'})", file=root)
    return target


def _literal(table: CsvTable, k: int, column: str, kind: type) -> object:
    text = table.rows[k][table.index(column)]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # TypeError: {[1]: 'x'}
        raise table.error(k, column, f"cannot read {shown(text, 60)} as a Python {kind.__name__}") from None
    if not isinstance(value, kind):
        raise table.error(k, column, f"expected a {kind.__name__}, found {type(value).__name__}")
    return value


def parse_info(table: CsvTable) -> list[OpinionQAQuestion]:
    """Questions from ``info.csv`` (see the module docstring for the rules)."""
    table.require("key", "question", "option_mapping")
    has_refs = "references" in table.header
    has_ord = "option_ordinal" in table.header
    out: list[OpinionQAQuestion] = []
    seen: dict[str, int] = {}
    for k, row in enumerate(table.rows):
        key = row[table.index("key")]
        if not key:
            raise table.error(k, "key", "empty question key")
        if key in seen:
            raise table.error(k, "key", f"duplicate question key {shown(key)} (first on line {seen[key]})")
        seen[key] = table.lines[k]
        text = row[table.index("question")]
        if not text:
            raise table.error(k, "question", f"question {shown(key)} has no wording")
        mapping = _literal(table, k, "option_mapping", dict)
        try:
            by_code = [str(v).strip() for _, v in sorted(mapping.items(), key=lambda kv: float(kv[0]))]
        except (TypeError, ValueError):
            raise table.error(k, "option_mapping", "option codes must be numbers") from None
        refs = [str(r).strip() for r in _literal(table, k, "references", list)] if has_refs else by_code
        if has_ord and row[table.index("option_ordinal")]:
            positions = _literal(table, k, "option_ordinal", list)
            if not all(isinstance(p, (int, float)) for p in positions):
                raise table.error(k, "option_ordinal", "positions must be numbers")
            if len(positions) > len(refs):
                raise table.error(
                    k, "option_ordinal", f"{len(positions)} positions for {len(refs)} references"
                )
            substantive = refs[: len(positions)]
            refusals = set(refs[len(positions):])
        else:
            substantive = [r for r in refs if not _is_refusal(r)]
            refusals = {r for r in refs if _is_refusal(r)}
            positions = list(range(1, len(substantive) + 1))
        keep = [i for i, r in enumerate(substantive) if not _is_refusal(r)]
        refusals |= {substantive[i] for i in range(len(substantive)) if i not in keep}
        substantive = [substantive[i] for i in keep]
        positions = [float(positions[i]) for i in keep]
        if len(substantive) < 2:
            raise table.error(k, "references", f"question {shown(key)} has fewer than 2 answer options")
        if len(set(substantive)) != len(substantive):
            raise table.error(k, "references", f"question {shown(key)} lists an option twice")
        ordinal = len(set(positions)) == len(positions)
        order = np.argsort(positions, kind="stable") if ordinal else np.arange(len(substantive))
        options = tuple(substantive[i] for i in order)
        out.append(OpinionQAQuestion(Question(key, text, options, ordinal), frozenset(refusals)))
    return out


def parse_metadata(table: CsvTable) -> dict[str, list[str]]:
    """``{demographic key: ordered options}`` from ``metadata.csv``."""
    table.require("key", "options")
    out: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for k, row in enumerate(table.rows):
        key = row[table.index("key")]
        if not key:
            raise table.error(k, "key", "empty demographic key")
        if key in seen:
            raise table.error(k, "key", f"duplicate demographic key {shown(key)} (first on line {seen[key]})")
        seen[key] = table.lines[k]
        out[key] = [str(o).strip() for o in _literal(table, k, "options", list)]
    return out


def load_opinionqa(path: str | Path, wave: str | int | None = None) -> Survey:
    """Load one OpinionQA wave into a :class:`Survey` (rules in the module docstring)."""
    wave_dir = resolve_wave_dir(path, wave)
    m = re.search(r"W(\d+)$", wave_dir.name)
    label = f"W{m.group(1)}" if m else (str(wave) if wave is not None else wave_dir.name)
    info = parse_info(read_csv_table(wave_dir / INFO_FILE))
    meta_path = wave_dir / METADATA_FILE
    demographics = parse_metadata(read_csv_table(meta_path)) if meta_path.exists() else {}
    resp = read_csv_table(wave_dir / RESPONSES_FILE, required=("QKEY",))
    ids = resp.column("QKEY")
    first: dict[str, int] = {}
    for k, rid in enumerate(ids):
        if not rid:
            raise resp.error(k, "QKEY", "empty respondent key")
        if rid in first:
            raise resp.error(k, "QKEY", f"duplicate respondent key {shown(rid)} (first on line {first[rid]})")
        first[rid] = resp.lines[k]

    r_parts, q_parts, o_parts = [], [], []
    for qi, item in enumerate(info):
        q = item.question
        cells = pd.Series(resp.column(q.id), dtype=object)  # DataError if the column is missing
        lookup = {o: i for i, o in enumerate(q.options)}
        codes = cells.map(lookup)
        missing = (cells == "") | cells.isin(item.refusals) | cells.map(_is_refusal)
        bad = codes.isna() & ~missing
        if bad.any():
            k = int(np.flatnonzero(bad.to_numpy())[0])
            raise resp.error(
                k, q.id, f"answer {shown(cells.iloc[k])} is not among the options: {' | '.join(q.options)}"
            )
        rows = np.flatnonzero(codes.notna().to_numpy())
        r_parts.append(rows)
        q_parts.append(np.full(rows.size, qi))
        o_parts.append(codes.to_numpy()[rows].astype(np.int64))
    respondent = np.concatenate(r_parts)
    answered = np.unique(respondent)
    if answered.size < len(ids):
        log.info("%s: %d respondents without any answer are left out", resp.path, len(ids) - answered.size)
    if answered.size == 0:
        raise DataError("no answers (every cell is blank or refused)", file=resp.path)
    remap = np.full(len(ids), -1, dtype=np.int64)
    remap[answered] = np.arange(answered.size)
    kept_ids = [ids[i] for i in answered]

    attrs: dict[str, pd.Categorical] = {}
    for key, options in demographics.items():
        if key not in resp.header:
            log.warning("%s: demographic %r from %s is not a column", resp.path, key, METADATA_FILE)
            continue
        values = [resp.rows[i][resp.index(key)] for i in answered]
        cat = pd.Categorical(values, categories=list(dict.fromkeys(options)))
        dropped = sum(1 for v in values if v and v not in options)
        if dropped:
            log.info("%s: %d %s values outside the metadata options set to missing", resp.path, dropped, key)
        attrs[key] = cat
    attributes = pd.DataFrame(attrs, index=pd.Index(kept_ids, name="respondent_id"))

    return Survey.from_codes(
        name=f"opinionqa-{label}",
        questions=[i.question for i in info],
        respondent_ids=kept_ids,
        answers=Answers(remap[respondent], np.concatenate(q_parts), np.concatenate(o_parts)),
        attributes=attributes,
        source={"kind": "opinionqa", "wave": label, "path": str(wave_dir)},
    )
