"""Corrupted inputs and what the loaders must do with each (tests/data/test_fuzz_inputs.py and
bench/fuzz_inputs.py share them).

Three valid inputs are corrupted: the CSV long-format fixture (``csv``), the OpinionQA fixture
wave (``opinionqa``) and a JSON Lines file of preference pairs (``jsonl``). Every case carries an
expectation worked out here, independently of the loaders:

* :class:`Invalid`: the input is bad. The loader must raise ``DataError`` naming exactly this
  file, line and column, and the command that imports it (``build`` / ``pairs import``) must exit
  with status 2 and leave the database file byte for byte as it was.
* :class:`SameAs`: the corruption may leave a valid input (a truncation at a line end, a cut
  inside the last field, a duplicated blank answer, a byte-order mark, CRLF line ends, a huge but
  legal JSON string, ...). The loader must do exactly what it does with ``clean``: the same
  content written out cleanly -- accept it with an equal result, or reject it with the same
  error (which must then name its line and column too, and leave the database as it was).

Nothing here accepts an exception blindly: only ``DataError``, only with the expected location.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from persona_core.data.csv_long import load_csv
from persona_core.data.errors import DataError
from persona_core.data.opinionqa import load_opinionqa
from persona_core.preferences.io import WINNERS, read_pairs_jsonl

FIXTURES = Path(__file__).parent / "fixtures"
CSV_DIR = FIXTURES / "csv_small"
OPINIONQA_DIR = FIXTURES / "opinionqa" / "American_Trends_Panel_W99"
PAIRS_FILE = "pairs.jsonl"

FORMATS = ("csv", "opinionqa", "jsonl")
FILES = {
    "csv": ("questions.csv", "answers.csv", "respondents.csv"),
    "opinionqa": ("info.csv", "metadata.csv", "responses.csv"),
    "jsonl": (PAIRS_FILE,),
}
DIR_NAME = {"csv": "csv_small", "opinionqa": "American_Trends_Panel_W99"}
COMMON_KINDS = ("truncate", "latin1", "utf16", "utf16_nobom", "unknown_option", "duplicate_row", "huge_field",
                "nul_byte", "bom", "line_ends")
KINDS = {
    "csv": (*COMMON_KINDS, "extra_field"),
    "opinionqa": (*COMMON_KINDS, "extra_field"),
    "jsonl": (*COMMON_KINDS, "escaped_nul", "lone_surrogate", "line_separator", "missing_field"),
}

BASE_PAIRS = [
    {"prompt": "Best pet?", "response_a": "Cats.", "response_b": "Dogs.", "conversation_id": "c1"},
    {"prompt": "2+2?", "response_a": "4", "response_b": "5", "winner": "model_a", "judge": "arena_1",
     "model_a": "m1", "model_b": "m2"},
    {"prompt": "Café au lait — oui?", "response_a": "Oui, très bien.", "response_b": "Non.", "choice": "b",
     "annotator": "prism_7", "rationale": "more honest", "lang": "fr"},
    {"prompt": "日本の首都は?", "response_a": "東京です。", "response_b": "大阪です。", "choice": "a",
     "annotator": "ann 2"},
    {"prompt": "Hi", "response_a": "Hello 👋", "response_b": "Yo", "choice": "tie (bothbad)", "annotator": "prism_7",
     "rationale": "both rude", "tags": ["greeting", "short"]},
]
VOTE_LINES = [i for i, p in enumerate(BASE_PAIRS) if "choice" in p or "winner" in p]

PLACEHOLDER = "\ue000"  # a private-use character standing in for raw bytes spliced in after encoding
LATIN1 = "éèàçñöüßø°±©«»¿"  # one byte each in Latin-1, never valid UTF-8 on their own
LINE_SEPARATORS = "\u2028\u2029\x85\x0b\x0c\x1c\x1d\x1e"  # str.splitlines() breaks at these; JSONL does not
SURROGATES = ("\ud83d", "\udc4b", "\ud800")
TEXT = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Invalid:
    file: str
    line: int
    column: str | re.Pattern


@dataclass(frozen=True)
class SameAs:
    clean: dict[str, bytes]  # the same content written cleanly
    why: str


@dataclass
class Case:
    fmt: str
    kind: str
    target: str
    files: dict[str, bytes]
    expect: Invalid | SameAs
    note: str = ""

    def __repr__(self) -> str:  # hypothesis prints failing cases; keep huge fields out of it
        sizes = {n: len(b) for n, b in self.files.items()}
        return f"Case({self.fmt}/{self.kind} on {self.target}: {self.note}; sizes {sizes}; expect {self.expect_text()})"

    def expect_text(self) -> str:
        if isinstance(self.expect, Invalid):
            col = self.expect.column.pattern if isinstance(self.expect.column, re.Pattern) else self.expect.column
            return f"DataError at {self.expect.file} line {self.expect.line} column {col!r}"
        return f"same as clean ({self.expect.why})"


# ------------------------------------------------------------------------ base inputs
def base_files(fmt: str) -> dict[str, bytes]:
    if fmt == "jsonl":
        return {PAIRS_FILE: _jsonl(BASE_PAIRS)}
    src = CSV_DIR if fmt == "csv" else OPINIONQA_DIR
    files = {name: (src / name).read_bytes() for name in FILES[fmt]}
    for name, raw in files.items():  # the oracle below assumes ASCII, one record per line, "\n" or "\r\n"
        rows = _rows(raw)
        assert raw.isascii() and raw.count(b"\n") == len(rows) and b"\r" not in raw.replace(b"\r\n", b""), name
    return files


def _jsonl(objs: list[dict], ascii_only: bool = False) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=ascii_only) + "\n" for o in objs).encode("utf-8")


def _rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def _csv_text(rows: list[list[str]]) -> str:
    """Rows as CSV text with "\n" line ends (written with "\r\n" first, so that the writer
    quotes every field holding a "\r" too: with lineterminator "\n" it leaves a bare "\r"
    unquoted, which every reader takes for a line break)."""
    out = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(row)
        out.append(buf.getvalue()[:-2] + "\n")
    return "".join(out)


def _col(header: list[str], i: int) -> str:
    return header[i] if i < len(header) and header[i] else f"#{i + 1}"


def _splice(text: str, replacement: bytes) -> bytes:
    """``text`` as UTF-8 with the placeholder replaced by raw bytes."""
    data = text.encode("utf-8")
    ph = PLACEHOLDER.encode("utf-8")
    assert data.count(ph) == 1
    return data.replace(ph, replacement)


def _scan_partial(line: str) -> tuple[int, bool]:
    """(number of fields, ends inside an open quoted field) of a line cut short."""
    fields, quoted, after_quote, at_start = 1, False, False, True
    for ch in line:
        if quoted:
            if ch == '"':
                quoted, after_quote = False, True
            continue
        if after_quote and ch == '"':
            quoted, after_quote = True, False
            continue
        after_quote = False
        if ch == ",":
            fields, at_start = fields + 1, True
        elif ch == '"' and at_start:
            quoted, at_start = True, False
        else:
            at_start = False
    return fields, quoted


# -------------------------------------------------------------- CSV-like strategies
def _question_options(fmt: str, files: dict[str, bytes]) -> dict[str, tuple[set[str], set[str]]]:
    """question id -> (its options, other texts that count as missing), from the clean files."""
    if fmt == "csv":
        survey = _load_dir("csv", files)
        return {q.id: ({o.casefold() for o in q.options}, set()) for q in survey.questions}
    from persona_core.data.csv_long import read_csv_table
    from persona_core.data.opinionqa import parse_info

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "info.csv").write_bytes(files["info.csv"])
        info = parse_info(read_csv_table(Path(d) / "info.csv"))
    return {i.question.id: (set(i.question.options), set(i.refusals)) for i in info}


@st.composite
def csv_case(draw, fmt: str, kind: str) -> Case:
    base = base_files(fmt)
    if kind == "unknown_option":
        target = "answers.csv" if fmt == "csv" else "responses.csv"
    else:
        target = draw(st.sampled_from(FILES[fmt]))
    raw = base[target]
    rows = _rows(raw)
    header = rows[0]

    def case(data: bytes, expect, note: str) -> Case:
        return Case(fmt, kind, target, {**base, target: data}, expect, note)

    def same_rows(new_rows: list[list[str]], why: str) -> SameAs:
        return SameAs({**base, target: _csv_text(new_rows).encode()}, why)

    def cell() -> tuple[int, int]:
        r = draw(st.integers(1, len(rows) - 1))
        return r, draw(st.integers(0, len(rows[r]) - 1))

    if kind == "truncate":
        lines = raw.decode().splitlines(keepends=True)
        first = len(lines[0]) + len(lines[1])  # keep the header and one data row
        cut = draw(st.integers(first, len(raw) - 1))
        k, offset = _line_at(lines, cut)
        partial = lines[k][:offset]
        note = f"cut at byte {cut} (line {k + 1}, column {offset + 1})"
        if offset == 0:
            return case(raw[:cut], same_rows(rows[:k], f"{k} whole lines"), note)
        if offset >= len(lines[k].rstrip("\r\n")):
            return case(raw[:cut], same_rows(rows[: k + 1], "last line without (all of) its line end"), note)
        n_fields, open_quote = _scan_partial(partial)
        if open_quote:  # the file ends inside a quoted field
            return case(raw[:cut], Invalid(target, k + 1, _col(header, n_fields - 1)), note)
        if n_fields < len(header):  # fields missing
            return case(raw[:cut], Invalid(target, k + 1, _col(header, n_fields)), note)
        cells = next(csv.reader([partial]))
        return case(raw[:cut], same_rows(rows[:k] + [cells], "last field cut short"), note)

    if kind in ("latin1", "nul_byte"):
        r = draw(st.integers(0, len(rows) - 1))  # the header too
        c = draw(st.integers(0, len(rows[r]) - 1))
        value = rows[r][c]
        o = draw(st.integers(0, len(value)))
        new = [list(x) for x in rows]
        new[r][c] = value[:o] + PLACEHOLDER + value[o:]
        byte = draw(st.sampled_from(LATIN1)).encode("latin-1") if kind == "latin1" else b"\x00"
        column = f"#{c + 1}" if r == 0 else _col(header, c)
        return case(_splice(_csv_text(new), byte), Invalid(target, r + 1, column),
                    f"{byte!r} in line {r + 1} field {c + 1} at {o}")

    if kind == "utf16":
        return case(raw.decode().encode("utf-16"), Invalid(target, 1, "#1"), "whole file UTF-16 with BOM")

    if kind == "utf16_nobom":
        text = raw.decode()
        return case(text.encode("utf-16-le"), Invalid(target, 1, "#2" if text.startswith(",") else "#1"),
                    "whole file UTF-16-LE without BOM")

    if kind == "unknown_option":
        options = _question_options(fmt, base)
        if fmt == "csv":
            r = draw(st.integers(1, len(rows) - 1))
            c = header.index("answer")
            known, missing = options[rows[r][header.index("question_id")]]
            ok = lambda v: v.strip() != "" and v.strip().casefold() not in known  # noqa: E731
        else:
            r = draw(st.integers(1, len(rows) - 1))
            c = header.index(draw(st.sampled_from(sorted(options))))
            known, missing = options[header[c]]
            ok = lambda v: (v.strip() != "" and v.strip() not in known and v.strip() not in missing  # noqa: E731
                            and v.strip().casefold() not in {"refused", "refused/dk", "dk/refused", "no answer"})
        value = draw(st.text(TEXT, min_size=1, max_size=30).filter(ok))
        new = [list(x) for x in rows]
        new[r][c] = value
        return case(_csv_text(new).encode(), Invalid(target, r + 1, header[c]), f"line {r + 1}: {value!r}")

    if kind == "duplicate_row":
        r = draw(st.integers(1, len(rows) - 1))
        q = draw(st.integers(1, len(rows)))
        new = rows[:q] + [rows[r]] + rows[q:]
        line = r + 2 if q <= r else q + 1  # where the second copy is
        note = f"line {r + 1} copied to line {q + 1}"
        key = {"questions.csv": "question_id", "answers.csv": "question_id", "respondents.csv": "respondent_id",
               "info.csv": "key", "metadata.csv": "key", "responses.csv": "QKEY"}[target]
        if target == "answers.csv" and rows[r][header.index("answer")] == "":
            return case(_csv_text(new).encode(), same_rows(rows, "a blank answer is skipped"), note)
        return case(_csv_text(new).encode(), Invalid(target, line, key), note)

    if kind == "huge_field":
        r, c = cell()
        size = draw(st.integers(csv.field_size_limit() + 1, csv.field_size_limit() + 50_000))
        new = [list(x) for x in rows]
        new[r][c] = ("a huge, field " * (size // 14 + 1))[:size]
        return case(_csv_text(new).encode(), Invalid(target, r + 1, _col(header, c)),
                    f"{size:,} characters in line {r + 1} field {c + 1}")

    if kind == "extra_field":
        r = draw(st.integers(1, len(rows) - 1))
        new = [list(x) for x in rows]
        new[r].append(draw(st.text(TEXT, max_size=10)))
        return case(_csv_text(new).encode(), Invalid(target, r + 1, f"#{len(header) + 1}"), f"line {r + 1}")

    if kind == "bom":
        return case(b"\xef\xbb\xbf" + raw, SameAs(base, "UTF-8 byte-order mark"), "BOM")

    if kind == "line_ends":
        lf = raw.replace(b"\r\n", b"\n")
        other = lf.replace(b"\n", b"\r\n") if lf == raw else lf
        return case(other, SameAs(base, "the other line ends"), "CRLF" if lf == raw else "LF")

    raise ValueError(kind)


def _line_at(lines: list[str], pos: int) -> tuple[int, int]:
    """(0-based line, offset in it) of character ``pos``."""
    for k, line in enumerate(lines):
        if pos < len(line):
            return k, pos
        pos -= len(line)
    raise ValueError("past the end")


# ------------------------------------------------------------------ JSONL strategies
@st.composite
def jsonl_case(draw, kind: str) -> Case:
    base = base_files("jsonl")
    raw = base[PAIRS_FILE]
    objs = [dict(o) for o in BASE_PAIRS]

    def case(data: bytes, expect, note: str) -> Case:
        return Case("jsonl", kind, PAIRS_FILE, {PAIRS_FILE: data}, expect, note)

    def same(new_objs: list[dict], why: str) -> SameAs:
        return SameAs({PAIRS_FILE: _jsonl(new_objs, ascii_only=True)}, why)

    def string_field(k: int) -> str:
        return draw(st.sampled_from([key for key, v in objs[k].items() if isinstance(v, str)]))

    def line() -> int:
        return draw(st.integers(0, len(objs) - 1))

    if kind == "truncate":
        lines = raw.split(b"\n")[:-1]
        first = len(lines[0]) + 1
        cut = draw(st.integers(first, len(raw) - 1))
        k, offset = _line_at([ln + b"\n" for ln in lines], cut)
        note = f"cut at byte {cut} (line {k + 1}, byte {offset + 1})"
        if offset == 0:
            return case(raw[:cut], same(objs[:k], f"{k} whole lines"), note)
        if offset == len(lines[k]):
            return case(raw[:cut], same(objs[: k + 1], "last line without its newline"), note)
        try:
            lines[k][:offset].decode("utf-8")
            column: str | re.Pattern = re.compile(r"character \d+")
        except UnicodeDecodeError as exc:  # cut inside a multi-byte character
            column = f"byte {exc.start + 1}"
        return case(raw[:cut], Invalid(PAIRS_FILE, k + 1, column), note)

    if kind in ("latin1", "nul_byte"):
        k = line()
        key = string_field(k)
        o = draw(st.integers(0, len(objs[k][key])))
        objs[k][key] = objs[k][key][:o] + PLACEHOLDER + objs[k][key][o:]
        text = _jsonl(objs).decode("utf-8")
        line = text.split("\n")[k]
        if kind == "latin1":
            byte = draw(st.sampled_from(LATIN1)).encode("latin-1")
            column = f"byte {line.encode('utf-8').index(PLACEHOLDER.encode('utf-8')) + 1}"
        else:
            byte = b"\x00"
            column = f"character {line.index(PLACEHOLDER) + 1}"  # a raw control character in a JSON string
        return case(_splice(text, byte), Invalid(PAIRS_FILE, k + 1, column), f"{byte!r} in {key!r} of line {k + 1}")

    if kind == "utf16":
        return case(raw.decode().encode("utf-16"), Invalid(PAIRS_FILE, 1, "byte 1"), "whole file UTF-16 with BOM")

    if kind == "utf16_nobom":
        data = raw.decode().encode("utf-16-le")
        first = data.split(b"\n")[0]
        try:
            first.decode("utf-8")
            column = "character 2"  # '{' then a NUL byte
        except UnicodeDecodeError as exc:
            column = f"byte {exc.start + 1}"
        return case(data, Invalid(PAIRS_FILE, 1, column), "whole file UTF-16-LE without BOM")

    if kind == "unknown_option":
        k = draw(st.sampled_from(VOTE_LINES))
        key = "choice" if "choice" in objs[k] else "winner"
        objs[k][key] = draw(st.text(TEXT, max_size=20).filter(lambda v: v.strip().lower() not in WINNERS))
        return case(_jsonl(objs), Invalid(PAIRS_FILE, k + 1, key), f"{key}={objs[k][key]!r} on line {k + 1}")

    if kind == "duplicate_row":
        k, q = line(), draw(st.integers(0, len(objs)))
        new = objs[:q] + [objs[k]] + objs[q:]
        return case(_jsonl(new), same(new, "pairs may repeat"), f"line {k + 1} copied to line {q + 1}")

    if kind == "huge_field":
        k = line()
        key = string_field(k)
        size = draw(st.integers(csv.field_size_limit() + 1, 3 * csv.field_size_limit()))
        objs[k][key] = ("a huge, legal JSON string " * (size // 26 + 1))[:size]
        return case(_jsonl(objs), same(objs, "a long string is legal JSON"), f"{size:,} characters in {key!r}")

    if kind in ("escaped_nul", "lone_surrogate", "line_separator"):
        k = line()
        key = string_field(k)
        o = draw(st.integers(0, len(objs[k][key])))
        char = {"escaped_nul": lambda: "\x00", "lone_surrogate": lambda: draw(st.sampled_from(SURROGATES)),
                "line_separator": lambda: draw(st.sampled_from(LINE_SEPARATORS))}[kind]()
        objs[k][key] = objs[k][key][:o] + char + objs[k][key][o:]
        note = f"{char!r} in {key!r} of line {k + 1}"
        if kind == "line_separator":  # raw in the file: legal inside a JSON string
            return case(_jsonl(objs), same(objs, "a line separator inside a JSON string"), note)
        return case(_jsonl(objs, ascii_only=True), Invalid(PAIRS_FILE, k + 1, key), note)

    if kind == "missing_field":
        k = line()
        key = draw(st.sampled_from(["prompt", "response_a", "response_b"]))
        del objs[k][key]
        return case(_jsonl(objs), Invalid(PAIRS_FILE, k + 1, key), f"no {key!r} on line {k + 1}")

    if kind == "bom":
        return case(b"\xef\xbb\xbf" + raw, SameAs(base, "UTF-8 byte-order mark"), "BOM")

    if kind == "line_ends":
        return case(raw.replace(b"\n", b"\r\n"), SameAs(base, "CRLF line ends"), "CRLF")

    raise ValueError(kind)


def cases(fmt: str, kind: str | None = None) -> st.SearchStrategy[Case]:
    """Cases of one format (and one kind, or any of the format's kinds)."""
    kinds = st.just(kind) if kind is not None else st.sampled_from(KINDS[fmt])
    if fmt == "jsonl":
        return kinds.flatmap(jsonl_case)
    return kinds.flatmap(lambda kd: csv_case(fmt, kd))


# --------------------------------------------------------------------------- running
def _write(root: Path, fmt: str, files: dict[str, bytes]) -> Path:
    """The input on disk: the file (jsonl) or the folder (csv, opinionqa) a loader is given."""
    if fmt == "jsonl":
        root.mkdir(parents=True, exist_ok=True)
        (root / PAIRS_FILE).write_bytes(files[PAIRS_FILE])
        return root / PAIRS_FILE
    d = root / DIR_NAME[fmt]
    d.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (d / name).write_bytes(data)
    return d


def _load(fmt: str, path: Path):
    if fmt == "csv":
        return load_csv(path)
    if fmt == "opinionqa":
        return load_opinionqa(path)
    return read_pairs_jsonl(path)


def _load_dir(fmt: str, files: dict[str, bytes]):
    with tempfile.TemporaryDirectory() as d:
        return _load(fmt, _write(Path(d), fmt, files))


def _signature(fmt: str, result) -> object:
    """What must be equal between two accepted loads."""
    if fmt == "jsonl":
        return [(r.line, r.prompt, r.response_a, r.response_b, json.dumps(r.meta, sort_keys=True), r.annotator,
                 r.choice, r.rationale) for r in result]
    attrs = result.attributes
    return (result.fingerprint(), result.n_respondents, list(map(str, attrs.dtypes)),
            attrs.to_json(orient="split", default_handler=str))


@dataclass
class Outcome:
    accepted: bool
    signature: object = None
    error: DataError | None = None

    def key(self) -> tuple:
        if self.accepted:
            return ("accepted", self.signature)
        e = self.error
        return ("DataError", Path(e.file).name if e.file else None, e.row, e.column, e.problem)


def outcome(fmt: str, path: Path) -> Outcome:
    """Load ``path``; only a ``DataError`` counts as a rejection (anything else propagates)."""
    try:
        result = _load(fmt, path)
    except DataError as exc:
        return Outcome(False, error=exc)
    return Outcome(True, signature=_signature(fmt, result))


def _check_location(err: DataError, file: str, line: int, column: str | re.Pattern) -> None:
    assert err.file is not None and Path(err.file).name == file, f"wrong file: {err}"
    assert err.row == line, f"wrong line (expected {line}): {err}"
    if isinstance(column, re.Pattern):
        assert err.column is not None and column.fullmatch(err.column), f"wrong column (expected {column.pattern}): {err}"
    else:
        assert err.column == column, f"wrong column (expected {column!r}): {err}"
    message = str(err)
    assert file in message and f"row {line}" in message and f"column {err.column!r}" in message, message
    assert len(message) < 3000, f"message of {len(message):,} characters"


# ------------------------------------------------------------------ the database side
def make_template_db(directory: Path) -> Path:
    """A migrated SQLite database holding a survey and some pairs: what an import would write into."""
    from db.session import dispose_engine, session_scope, upgrade_database
    from persona_core.preferences.io import import_pairs

    from persona_core.data.survey_db import save_survey

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "template.db"
    url = f"sqlite:///{path}"
    upgrade_database(url)
    with session_scope(url) as s:
        save_survey(s, load_csv(CSV_DIR))
    pairs = directory / "seed.jsonl"
    pairs.write_bytes(base_files("jsonl")[PAIRS_FILE])
    import_pairs(url, pairs, source="seed")
    dispose_engine(url)
    assert sorted(p.name for p in directory.glob("template.db*")) == ["template.db"]
    return path


def _db_state(db: Path) -> dict[str, str]:
    """sha256 of the database file and of any -wal / -shm / -journal beside it."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(db.parent.glob(db.name + "*"))}


def _run_cli(fmt: str, path: Path, db: Path) -> tuple[int, str]:
    from db.session import dispose_engine
    from persona_core.cli import main

    url = f"sqlite:///{db}"
    if fmt == "jsonl":
        argv = ["pairs", "import", str(path), "--db", url]
    else:
        argv = ["build", "--dataset", fmt, "--path", str(path), "--db", url]
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    finally:
        dispose_engine(url)
    return code, err.getvalue()


def _check_rejected_by_cli(case: Case, path: Path, db: Path, error: DataError) -> None:
    before = _db_state(db)
    code, stderr = _run_cli(case.fmt, path, db)
    assert code == 2, f"exit status {code}, stderr: {stderr[-2000:]}"
    assert f"error: {error}" in stderr, stderr[-2000:]
    assert _db_state(db) == before, "the database changed"


def _check_accepted_import(case: Case, path: Path, db: Path, records) -> None:
    """JSONL only (a survey build takes seconds): the import stores exactly the loaded pairs."""
    from sqlalchemy import create_engine, text

    before = _db_state(db)
    code, stderr = _run_cli(case.fmt, path, db)
    assert code == 0, stderr[-2000:]
    assert _db_state(db) != before, "an import that stored pairs left the file unchanged: the byte check is blind"
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            stored = c.execute(text("select prompt, response_a, response_b from preference_pair "
                                    "where source = 'import' order by id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in stored] == [(r.prompt, r.response_a, r.response_b) for r in records]


def check(case: Case, workdir: Path, template_db: Path) -> str:
    """Run one case; raise AssertionError if the loader or the import misbehaves. Returns the
    outcome: ``rejected`` (bad input, located), ``accepted`` (equal to the clean content) or
    ``rejected_like_clean`` (the clean content is rejected the same way)."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = _write(workdir / "input", case.fmt, case.files)
    db = workdir / "db" / "persona.db"
    db.parent.mkdir()
    shutil.copyfile(template_db, db)
    got = outcome(case.fmt, path)
    exp = case.expect
    if isinstance(exp, Invalid):
        assert not got.accepted, "accepted bad input"
        _check_location(got.error, exp.file, exp.line, exp.column)
        _check_rejected_by_cli(case, path, db, got.error)
        return "rejected"
    clean = outcome(case.fmt, _write(workdir / "clean", case.fmt, exp.clean))
    assert got.key() == clean.key(), f"differs from the clean content:\n  got   {_short(got)}\n  clean {_short(clean)}"
    if got.accepted:
        if case.fmt == "jsonl":
            _check_accepted_import(case, path, db, read_pairs_jsonl(path))
        return "accepted"
    err = got.error
    assert err.row is not None and err.column is not None, f"no line or column: {err}"
    _check_location(err, Path(err.file).name, err.row, err.column)
    _check_rejected_by_cli(case, path, db, err)
    return "rejected_like_clean"


def _short(o: Outcome) -> str:
    return "accepted" if o.accepted else f"DataError({str(o.error)[:300]!r})"


@dataclass
class Tally:
    """Counts per format, kind and outcome."""

    counts: dict = field(default_factory=dict)

    def add(self, case: Case, result: str) -> None:
        kinds = self.counts.setdefault(case.fmt, {})
        outcomes = kinds.setdefault(case.kind, {})
        outcomes[result] = outcomes.get(result, 0) + 1

    def total(self) -> int:
        return sum(n for kinds in self.counts.values() for o in kinds.values() for n in o.values())
