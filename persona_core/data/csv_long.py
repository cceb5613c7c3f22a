"""CSV long format loader, and the strict CSV reader the other CSV loaders share.

A survey in long format is a directory with

``answers.csv``      one row per answer: ``respondent_id, question_id, answer``
``questions.csv``    ``question_id, text, options`` and optionally ``ordinal``
``respondents.csv``  optional: ``respondent_id`` plus any attribute columns

Decisions (the rules the loader enforces):

* ``options`` is the ordered list of answer texts, either a JSON list
  (``["Agree", "Neutral", "Disagree"]``) or a ``|``-separated string
  (``Agree|Neutral|Disagree``). A value starting with ``[`` is read as JSON.
* ``ordinal`` (optional) is ``true/false``, ``yes/no`` or ``1/0``; blank or absent
  means ordinal (the options are in their natural order).
* ``answer`` is the option **text**, matched exactly after trimming surrounding
  spaces (a case-insensitive match is accepted when it is unambiguous). Option
  *indices* are not accepted: with options such as ``1 .. 10`` a number is ambiguous
  between a text and a position, and guessing wrong would silently corrupt data.
* A row with a blank ``answer`` is a missing answer and is skipped (counted in the log).
* Respondents are those with at least one answer, in order of first appearance in
  ``answers.csv``. When ``respondents.csv`` is given, every answering respondent must
  be listed there; listed respondents without answers are left out (logged).
* Attribute columns that are entirely numbers become numeric, others stay text.

Every problem raises :class:`~persona_core.data.errors.DataError` naming the file,
the line (1-based as in an editor; the header is line 1) and the column.
Files must be UTF-8 (a BOM is accepted).
"""
from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from persona_core.data.errors import DataError
from persona_core.data.survey import Answers, Question, Survey

log = logging.getLogger(__name__)

ANSWERS_FILE = "answers.csv"
QUESTIONS_FILE = "questions.csv"
RESPONDENTS_FILE = "respondents.csv"

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# --------------------------------------------------------------------------- reader
@dataclass
class CsvTable:
    """A CSV file read strictly: header, string cells, and the editor line of each row."""

    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int] = field(default_factory=list)  # 1-based line where each row starts

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, column: str) -> int:
        """Position of ``column``; :class:`DataError` (line 1) if the header lacks it."""
        try:
            return self.header.index(column)
        except ValueError:
            raise DataError(
                f"missing column {column!r} (header has: {', '.join(h for h in self.header if h)})",
                file=self.path,
                row=1,
                column=column,
            ) from None

    def require(self, *columns: str) -> dict[str, int]:
        return {c: self.index(c) for c in columns}

    def column(self, name: str) -> list[str]:
        i = self.index(name)
        return [r[i] for r in self.rows]

    def error(self, k: int, column: str | None, problem: str) -> DataError:
        """A :class:`DataError` pointing at data row ``k`` (0-based) of this file."""
        return DataError(problem, file=self.path, row=self.lines[k], column=column)


def _decode_utf8(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        pos = e.start
        line_start = raw.rfind(b"\n", 0, pos) + 1
        line = raw.count(b"\n", 0, pos) + 1
        column = None
        if line > 1:
            header_line = raw[: raw.find(b"\n")].decode("utf-8", errors="replace").lstrip("\ufeff")
            header = next(csv.reader([header_line]), [])
            prefix = raw[line_start:pos].decode("utf-8", errors="replace")
            fields = next(csv.reader([prefix + "x"]), [""])
            i = len(fields) - 1
            column = header[i].strip() if 0 <= i < len(header) else None
        raise DataError(
            f"not valid UTF-8 (byte 0x{raw[pos]:02x} at byte offset {pos}); "
            "save the file with UTF-8 encoding",
            file=path,
            row=line,
            column=column,
        ) from None
    return text.lstrip("\ufeff")


def read_csv_table(path: str | Path, required: Sequence[str] = ()) -> CsvTable:
    """Read a UTF-8 CSV file strictly.

    Raises :class:`DataError` for a missing or empty file, non-UTF-8 bytes, a row with
    the wrong number of fields, duplicate column names, a header without data rows,
    and for each name in ``required`` missing from the header. Cells are stripped of
    surrounding whitespace; blank lines are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError("file is empty", file=path)
    text = _decode_utf8(raw, path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    prev_end = 0
    try:
        for record in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if not record or all(not c.strip() for c in record):
                continue
            record = [c.strip() for c in record]
            if header is None:
                header = record
                seen: set[str] = set()
                for name in header:
                    if name and name in seen:
                        raise DataError("duplicate column name", file=path, row=start, column=name)
                    seen.add(name)
                continue
            if len(record) != len(header):
                col = header[len(record)] if len(record) < len(header) else None
                raise DataError(
                    f"expected {len(header)} fields, found {len(record)}", file=path, row=start, column=col
                )
            rows.append(record)
            lines.append(start)
    except csv.Error as e:
        raise DataError(f"malformed CSV: {e}", file=path, row=reader.line_num) from None
    if header is None:
        raise DataError("file is empty", file=path)
    table = CsvTable(path=path, header=header, rows=rows, lines=lines)
    table.require(*required)
    if not rows:
        raise DataError("no data rows (only a header)", file=path, row=1)
    return table


# ----------------------------------------------------------------------- helpers
def parse_options(value: str) -> list[str]:
    """Options cell: a JSON list string or a ``|``-separated string."""
    value = value.strip()
    if value.startswith("["):
        opts = json.loads(value)
        if not isinstance(opts, list):
            raise ValueError("JSON options must be a list")
        opts = [str(o).strip() for o in opts]
    else:
        opts = [o.strip() for o in value.split("|")]
    return opts


def parse_bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v == "":
        return None
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true/false, yes/no or 1/0")


def attributes_frame(ids: Iterable[str], columns: dict[str, list[str]]) -> pd.DataFrame:
    """Attribute table from string columns: all-numeric columns become numbers, blanks NaN."""
    data = {}
    for name, values in columns.items():
        s = pd.Series([v if v != "" else None for v in values], dtype=object)
        num = pd.to_numeric(s, errors="coerce")
        keep = num if num.notna().sum() == s.notna().sum() and s.notna().any() else s
        data[name] = keep.to_numpy()
    return pd.DataFrame(data, index=pd.Index(list(ids), name="respondent_id"))


# ------------------------------------------------------------------------ loader
@dataclass(frozen=True)
class CsvLongConfig:
    """Names of the files in a long-format directory."""

    answers: str = ANSWERS_FILE
    questions: str = QUESTIONS_FILE
    respondents: str = RESPONDENTS_FILE


def _read_questions(table: CsvTable) -> list[Question]:
    idx = table.require("question_id", "text", "options")
    has_ordinal = "ordinal" in table.header
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for k, row in enumerate(table.rows):
        qid = row[idx["question_id"]]
        if not qid:
            raise table.error(k, "question_id", "empty question id")
        if qid in first_line:
            raise table.error(k, "question_id", f"duplicate question id {qid!r} (first on line {first_line[qid]})")
        first_line[qid] = table.lines[k]
        text = row[idx["text"]]
        if not text:
            raise table.error(k, "text", f"question {qid!r} has no text")
        try:
            opts = parse_options(row[idx["options"]])
        except (ValueError, json.JSONDecodeError) as e:
            raise table.error(k, "options", f"cannot read options: {e}") from None
        if any(o == "" for o in opts):
            raise table.error(k, "options", f"question {qid!r} has an empty option")
        if len(opts) < 2:
            raise table.error(k, "options", f"question {qid!r} needs at least 2 options, has {len(opts)}")
        if len(set(opts)) != len(opts):
            dup = next(o for o in opts if opts.count(o) > 1)
            raise table.error(k, "options", f"question {qid!r} lists option {dup!r} twice")
        ordinal = True
        if has_ordinal:
            try:
                b = parse_bool(row[table.index("ordinal")])
            except ValueError as e:
                raise table.error(k, "ordinal", str(e)) from None
            ordinal = True if b is None else b
        questions.append(Question(id=qid, text=text, options=tuple(opts), ordinal=ordinal))
    return questions


def _option_lookup(questions: Sequence[Question]) -> dict[tuple[str, str], int]:
    """``(question_id, answer text) -> option index``; case-insensitive aliases when unambiguous."""
    lookup: dict[tuple[str, str], int] = {}
    for q in questions:
        lowered: dict[str, list[int]] = {}
        for i, o in enumerate(q.options):
            lookup[(q.id, o)] = i
            lowered.setdefault(o.casefold(), []).append(i)
        for low, idxs in lowered.items():
            if len(idxs) == 1:
                lookup.setdefault((q.id, low), idxs[0])
    return lookup


def load_csv(path: str | Path, config: CsvLongConfig | None = None) -> Survey:
    """Load a long-format survey directory (see the module docstring for the format)."""
    cfg = config or CsvLongConfig()
    root = Path(path)
    if not root.is_dir():
        raise DataError("directory not found (expected answers.csv, questions.csv)", file=root)
    qtable = read_csv_table(root / cfg.questions)
    questions = _read_questions(qtable)
    qindex = {q.id: i for i, q in enumerate(questions)}
    lookup = _option_lookup(questions)

    atable = read_csv_table(root / cfg.answers, required=("respondent_id", "question_id", "answer"))
    ia = atable.require("respondent_id", "question_id", "answer")
    rid_index: dict[str, int] = {}
    resp: list[int] = []
    ques: list[int] = []
    opt: list[int] = []
    seen: dict[tuple[int, int], int] = {}
    blanks = 0
    for k, row in enumerate(atable.rows):
        rid, qid, ans = row[ia["respondent_id"]], row[ia["question_id"]], row[ia["answer"]]
        if not rid:
            raise atable.error(k, "respondent_id", "empty respondent id")
        qi = qindex.get(qid)
        if qi is None:
            raise atable.error(k, "question_id", f"unknown question id {qid!r} (not in {cfg.questions})")
        if ans == "":
            blanks += 1
            continue
        o = lookup.get((qid, ans))
        if o is None:
            o = lookup.get((qid, ans.casefold()))
        if o is None:
            opts = " | ".join(questions[qi].options)
            raise atable.error(k, "answer", f"answer {ans!r} is not among the options of {qid!r}: {opts}")
        ri = rid_index.setdefault(rid, len(rid_index))
        key = (ri, qi)
        if key in seen:
            raise atable.error(
                k, "question_id",
                f"duplicate answer of respondent {rid!r} to question {qid!r} (first on line {seen[key]})",
            )
        seen[key] = atable.lines[k]
        resp.append(ri)
        ques.append(qi)
        opt.append(o)
    if blanks:
        log.info("%s: skipped %d rows with a blank answer", atable.path, blanks)
    if not resp:
        raise DataError("no answers (every answer is blank)", file=atable.path)
    respondent_ids = list(rid_index)

    attributes = pd.DataFrame(index=pd.Index(respondent_ids, name="respondent_id"))
    rpath = root / cfg.respondents
    if rpath.exists():
        attributes = _read_respondents(rpath, respondent_ids, atable)

    answered = set(ques)
    unused = [q.id for i, q in enumerate(questions) if i not in answered]
    if unused:
        log.info("%s: %d questions have no answers: %s", qtable.path, len(unused), ", ".join(unused[:10]))
    return Survey.from_codes(
        name=root.resolve().name,
        questions=questions,
        respondent_ids=respondent_ids,
        answers=Answers(np.array(resp), np.array(ques), np.array(opt)),
        attributes=attributes,
        source={"kind": "csv", "path": str(root)},
    )


def _read_respondents(path: Path, respondent_ids: list[str], answers: CsvTable) -> pd.DataFrame:
    table = read_csv_table(path, required=("respondent_id",))
    i_id = table.index("respondent_id")
    ids = table.column("respondent_id")
    first: dict[str, int] = {}
    for k, rid in enumerate(ids):
        if not rid:
            raise table.error(k, "respondent_id", "empty respondent id")
        if rid in first:
            raise table.error(k, "respondent_id", f"duplicate respondent id {rid!r} (first on line {first[rid]})")
        first[rid] = table.lines[k]
    missing = [r for r in respondent_ids if r not in first]
    if missing:
        # point at the first answers.csv line of the first unlisted respondent
        ia = answers.index("respondent_id")
        k = next(k for k, row in enumerate(answers.rows) if row[ia] == missing[0])
        raise answers.error(
            k, "respondent_id",
            f"respondent {missing[0]!r} is not listed in {path.name} ({len(missing)} respondents missing)",
        )
    extra = len(ids) - len(respondent_ids)
    if extra:
        log.info("%s: %d listed respondents have no answers and are left out", path, extra)
    cols = {h: [r[j] for r in table.rows] for j, h in enumerate(table.header) if j != i_id and h}
    frame = attributes_frame(ids, cols)
    return frame.reindex(respondent_ids)
