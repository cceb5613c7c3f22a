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
Files must be UTF-8 (a BOM is accepted) without NUL bytes, quoted strictly (nothing
after a closing quote; every quoted field closed), with fields of at most
``csv.field_size_limit()`` (131,072) characters.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from persona_core.data.errors import DataError, shown
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


_TOKENS = re.compile(r'"|,|\r\n|\n|\r|[^",\r\n]+')
_NEWLINES = frozenset(("\r\n", "\n", "\r"))


@dataclass
class _Spot:
    """Where a character of a CSV text is, as the strict reader splits the text."""

    line: int  # 1-based editor line of the character
    record_line: int  # line where its record starts
    field: int  # 0-based field index within the record
    in_header: bool  # the record is the header (the first non-blank record)


def _spot(text: str, pos: int) -> _Spot:
    """Locate character ``pos`` of ``text`` (quote-aware: a quoted field may span lines)."""
    line = record_line = 1
    field = 0
    quoted = after_quote = False  # inside a quoted field / just after its closing quote
    content = header_done = False
    for m in _TOKENS.finditer(text, 0, pos):
        tok = m.group()
        if tok in _NEWLINES:
            line += 1
            if quoted:
                continue
            if content:
                header_done = True
            record_line, field, content, after_quote = line, 0, False, False
            continue
        content = True
        if quoted:
            if tok == '"':
                quoted, after_quote = False, True
        elif tok == '"' and after_quote:  # "" inside a quoted field
            quoted, after_quote = True, False
        elif tok == ",":
            field, after_quote = field + 1, False
        elif tok == '"' and not after_quote and _field_start(text, m.start()):
            quoted = True
        else:
            after_quote = False
    return _Spot(line, record_line, field, not header_done)


def _field_start(text: str, i: int) -> bool:
    return i == 0 or text[i - 1] in ",\r\n"


def _column_of(spot: _Spot, header: Sequence[str] | None) -> str:
    """The column name for a located problem: the header's name, else ``#k``."""
    if not spot.in_header and header is not None and spot.field < len(header) and header[spot.field]:
        return header[spot.field]
    return f"#{spot.field + 1}"


def _first_record(text: str) -> list[str] | None:
    """The header of ``text`` read leniently (only to name a column in an error message)."""
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            if record and any(c.strip() for c in record):
                return [c.strip() for c in record]
    except csv.Error:
        pass
    return None


def _decode_utf8(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        pos = e.start
        prefix = raw[:pos].decode("utf-8").lstrip("\ufeff")
        spot = _spot(prefix, len(prefix))
        header = _first_record(raw.decode("utf-8", errors="replace").lstrip("\ufeff"))
        hint = "save the file with UTF-8 encoding"
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            hint = "the file is UTF-16 encoded (it starts with a UTF-16 byte-order mark); save it as UTF-8"
        raise DataError(
            f"not valid UTF-8 (byte 0x{raw[pos]:02x} at byte offset {pos}); {hint}",
            file=path,
            row=spot.line,
            column=_column_of(spot, header),
        ) from None
    text = text.lstrip("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        spot = _spot(text, nul)
        raise DataError(
            "contains a NUL byte (0x00): not a text file, or UTF-16 encoded; save it as UTF-8 text",
            file=path,
            row=spot.line,
            column=_column_of(spot, _first_record(text[:nul] + text[nul:].replace("\x00", ""))),
        )
    return text


def _csv_problem(error: csv.Error) -> str:
    message = str(error)
    if message.startswith("field larger than field limit"):
        return (f"a field is longer than {csv.field_size_limit():,} characters, the most a CSV field may hold "
                "(is a closing quote missing?)")
    if message == "unexpected end of data":
        return 'the file ends inside a quoted field (a closing " is missing)'
    if "expected after" in message:
        return ('text after the closing quote of a quoted field (write a quote inside a quoted field as "", '
                'e.g. "5"" screen")')
    return f"malformed CSV: {message}"


def _csv_error_field(record: str) -> int:
    """The field of ``record`` (a record's text to the end of the file) where the strict reader
    fails: the first field over the size limit, text after a closing quote, or the field still
    open at the end of the text."""
    limit = csv.field_size_limit()
    field = size = 0
    quoted = after_quote = False
    for m in _TOKENS.finditer(record):
        tok = m.group()
        if quoted:
            if tok == '"':
                quoted, after_quote = False, True
            else:
                size += len(tok)
        elif tok == '"' and after_quote:
            quoted, after_quote, size = True, False, size + 1
        elif tok == ",":
            field, size, after_quote = field + 1, 0, False
        elif tok in _NEWLINES:
            break
        elif tok == '"' and _field_start(record, m.start()):
            quoted = True
        elif after_quote:
            return field  # text after a closing quote
        else:
            size += len(tok)
        if size > limit:
            return field
    return field


def read_csv_table(path: str | Path, required: Sequence[str] = ()) -> CsvTable:
    """Read a UTF-8 CSV file strictly.

    Raises :class:`DataError` for a missing or empty file, non-UTF-8 bytes, NUL bytes, malformed
    quoting (text after a closing quote, a quoted field left open at the end of the file), a
    field longer than the CSV reader's limit (``csv.field_size_limit()``, 131,072 characters),
    a row with the wrong number of fields, duplicate column names, a header without data rows,
    and for each name in ``required`` missing from the header. Each error names the line and
    the column. Cells are stripped of surrounding whitespace; blank lines are ignored.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", file=path)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError("file is empty", file=path)
    text = _decode_utf8(raw, path)
    physical = io.StringIO(text, newline="").readlines()
    reader = csv.reader(physical, strict=True)
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
                col = header[len(record)] if len(record) < len(header) else ""
                col = col or f"#{len(record) + 1 if len(record) < len(header) else len(header) + 1}"
                raise DataError(
                    f"expected {len(header)} fields, found {len(record)}", file=path, row=start, column=col
                )
            rows.append(record)
            lines.append(start)
    except csv.Error as e:
        start = prev_end + 1
        field = _csv_error_field("".join(physical[start - 1:]))
        spot = _Spot(start, start, field, header is None)
        raise DataError(_csv_problem(e), file=path, row=start, column=_column_of(spot, header)) from None
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
    raise ValueError(f"{shown(value)} is not true/false, yes/no or 1/0")


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


def read_questions(table: CsvTable) -> list[Question]:
    idx = table.require("question_id", "text", "options")
    has_ordinal = "ordinal" in table.header
    questions: list[Question] = []
    first_line: dict[str, int] = {}
    for k, row in enumerate(table.rows):
        qid = row[idx["question_id"]]
        if not qid:
            raise table.error(k, "question_id", "empty question id")
        if qid in first_line:
            raise table.error(k, "question_id", f"duplicate question id {shown(qid)} (first on line {first_line[qid]})")
        first_line[qid] = table.lines[k]
        text = row[idx["text"]]
        if not text:
            raise table.error(k, "text", f"question {shown(qid)} has no text")
        try:
            opts = parse_options(row[idx["options"]])
        except (ValueError, json.JSONDecodeError) as e:
            raise table.error(k, "options", f"cannot read options: {e}") from None
        if any(o == "" for o in opts):
            raise table.error(k, "options", f"question {shown(qid)} has an empty option")
        if len(opts) < 2:
            raise table.error(k, "options", f"question {shown(qid)} needs at least 2 options, has {len(opts)}")
        if len(set(opts)) != len(opts):
            dup = next(o for o in opts if opts.count(o) > 1)
            raise table.error(k, "options", f"question {shown(qid)} lists option {shown(dup)} twice")
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
    questions = read_questions(qtable)
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
            raise atable.error(k, "question_id", f"unknown question id {shown(qid)} (not in {cfg.questions})")
        if ans == "":
            blanks += 1
            continue
        o = lookup.get((qid, ans))
        if o is None:
            o = lookup.get((qid, ans.casefold()))
        if o is None:
            opts = " | ".join(questions[qi].options)
            raise atable.error(k, "answer", f"answer {shown(ans)} is not among the options of {qid!r}: {opts}")
        ri = rid_index.setdefault(rid, len(rid_index))
        key = (ri, qi)
        if key in seen:
            raise atable.error(
                k, "question_id",
                f"duplicate answer of respondent {shown(rid)} to question {qid!r} (first on line {seen[key]})",
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
            raise table.error(k, "respondent_id", f"duplicate respondent id {shown(rid)} (first on line {first[rid]})")
        first[rid] = table.lines[k]
    missing = [r for r in respondent_ids if r not in first]
    if missing:
        # point at the first answers.csv line of the first unlisted respondent
        ia = answers.index("respondent_id")
        k = next(k for k, row in enumerate(answers.rows) if row[ia] == missing[0])
        raise answers.error(
            k, "respondent_id",
            f"respondent {shown(missing[0])} is not listed in {path.name} ({len(missing)} respondents missing)",
        )
    extra = len(ids) - len(respondent_ids)
    if extra:
        log.info("%s: %d listed respondents have no answers and are left out", path, extra)
    cols = {h: [r[j] for r in table.rows] for j, h in enumerate(table.header) if j != i_id and h}
    frame = attributes_frame(ids, cols)
    return frame.reindex(respondent_ids)
