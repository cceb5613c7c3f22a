"""Loader for the GSS 2016-2020 panel (``gss_panel20.rda`` from the R package ``gssr``).

The file holds one R data frame: one row per panel respondent, one ``haven_labelled``
column per variable and wave. The wave is the column suffix: ``_1a`` = 2016 interview,
``_1b`` = 2018 interview, ``_2`` = 2020 re-interview. A respondent belongs to a wave
when the wave's respondent number ``id_<suffix>`` is present. Respondent ids are the
panel-wide ``yearid`` (e.g. ``20160001``).

Classification rule
-------------------
Every column of the chosen wave (plus the five panel-level columns without a suffix)
goes exactly one way, decided by :func:`classify_column` in this order:

1. **Bookkeeping -> dropped**, by variable name or wording:

   * *weight*: names starting with ``wt`` or ending in ``wt`` (``wtssall``, ``formwt``),
     ``oversamp``, wording mentioning "weights";
   * *id / sample design / administration*: ``id``, ``yearid``, ``year``, ``sampcode``,
     ``vstrat``, ``vpsu``, ``ballot``, ``form``, ``version``, ``phase``, ``issp``, interview
     date/length/mode/language, consent and record-linkage permissions, phone, fee,
     wording mentioning a ballot, questionnaire form, subsampling or filter;
   * *interviewer*: the interviewer's own characteristics (``intage``, ``intethn``,
     ``intsex``, ...) and the interviewer's ratings and observations (``coop``,
     ``comprend``, ``rlooks``, ``huclean``, ``whoelse1-6``, ...), wording naming the
     interviewer (except a reading instruction like "interviewer: read list");
   * *household/person roster*: per-person roster codes (``mar1``, ``gender3``,
     ``relate4``, ``old2``, ``relhh5``, ...), household composition (``hompop``,
     ``adults``, ``famgen``, ``hhtype``, ``rplace``, ...), wording about "person 1",
     "2nd person" (also the network roster of the mental-health module);
   * *verbatim-coded*: occupation/industry codes, ISCO, prestige and socioeconomic
     index scores, and any variable whose answer labels say "verbatim"/"uncodeable";
   * *linked external data*: college characteristics merged from IPEDS
     (``sector``, ``barate``, ...).
2. **No data in the wave -> dropped.**
3. **Demographics -> respondent attributes** (:data:`DEFAULT_DEMOGRAPHICS`: age, sex,
   race, ethnicity, birthplace and citizenship, degree and years of schooling, family
   and own income, region and place size, party id, political views, religion and
   attendance, marital status, children, work status, sexual orientation, gender).
   Values are readable: answer-label texts (categorical, in code order) when every
   used code has a label, numbers otherwise (``age`` is numeric; 89 = "89 or older").
   Demographics are never questions. For the 2020 re-interview, demographics it did
   not ask again (race, birthplace, ...) are taken from the respondent's first
   interview (2018, else 2016); age is not carried over.
4. Everything else is a candidate **question** (attitudes, behaviours, experiences,
   knowledge items). Answer codes labelled as non-answers (:data:`NON_ANSWERS`:
   "refused", "don't know", "iap", "no answer", ...) count as missing. It is dropped
   * as *numeric (no value labels)* when the column has no answer labels;
   * as *numeric/count* when a used code has no label (ages, hours, counts), unless
     the used codes are integers spanning at most ``max_options`` points: a rating
     scale with only some points labelled (``eqwlth``, ``helppoor``;
     :func:`is_labelled_scale`), whose options are all points of the range;
   * as *too few / too many options* unless ``min_options <= options <= max_options``
     (2..7; options = the used codes, see 5);
   * as *too few answers* below ``min_answers`` (300) answers in the wave.
5. A kept question has ``id`` = the variable name without the wave suffix, ``text`` =
   the variable's ``label`` wording, ``options`` = the label texts of the codes
   actually used in the wave, ordered by code (labels never chosen, mostly volunteered
   "other" or missing-value codes, are left out; an unlabelled scale point shows its
   number), and ``ordinal=True`` unless clearly nominal (:func:`is_nominal`: a
   who/which/where question, an "other"/"someone else" option, or a last option
   "neither"/"both"/"depends").

:func:`classification_counts` tallies the decisions; :func:`load_gss` logs them and
stores them in ``survey.source["classification"]``.

Reading the ``.rda`` with the pure-Python ``rdata`` package takes ~20 s, so the
parsed columns are cached (``.npz``, no pickle) under ``$PERSONA_CACHE_DIR`` (default
``~/.cache/persona_explorer``), keyed by the file's path, size and modification time.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import numpy as np
import pandas as pd

from persona_core.data import paths
from persona_core.data.errors import DataError
from persona_core.data.survey import Answers, Question, Survey

log = logging.getLogger(__name__)

WAVES: dict[str, str] = {"2016": "_1a", "2018": "_1b", "2020": "_2"}
CARRY_OVER_FROM: dict[str, tuple[str, ...]] = {"_2": ("_1b", "_1a")}
NO_CARRY_OVER = frozenset({"age"})
WAVE_ID_COLUMN = "id"  # a respondent is in a wave when id_<suffix> is present
RESPONDENT_ID_COLUMN = "yearid"
DATA_FRAME_NAME = "gss_panel20"
CACHE_VERSION = 1
_SUFFIX_RE = re.compile(r"_(1a|1b|2)$")

DEFAULT_DEMOGRAPHICS: tuple[str, ...] = (
    "age", "sex", "race", "hispanic", "born", "uscitzn",
    "degree", "educ",
    "income", "income16", "rincome", "rincom16", "coninc",
    "region", "xnorcsiz",
    "partyid", "polviews",
    "relig", "attend",
    "marital", "childs", "wrkstat",
    "sexornt", "sexbirth", "sexnow", "sexbirth1", "sexnow1",
)  # fmt: skip

NON_ANSWERS: frozenset[str] = frozenset({
    "refused", "don't know", "dont know", "dk", "no answer", "na", "iap", "inapplicable",
    "not applicable", "skipped on web", "can't choose", "cant choose", "dk, na", "uncodeable",
})  # fmt: skip

# --- bookkeeping: reasons ------------------------------------------------------------
QUESTION = "question"
ATTRIBUTE = "attribute"
DROPPED = "dropped"
R_WEIGHT = "bookkeeping: weight"
R_DESIGN = "bookkeeping: id/sample design/administration"
R_INTERVIEWER = "bookkeeping: interviewer"
R_ROSTER = "bookkeeping: household/person roster"
R_VERBATIM = "bookkeeping: verbatim-coded"
R_LINKED = "bookkeeping: linked external data"
R_EMPTY = "no data in wave"
R_NO_LABELS = "numeric (no value labels)"
R_UNLABELLED = "numeric/count (codes without labels)"
R_TOO_FEW_OPTIONS = "too few options"
R_TOO_MANY_OPTIONS = "too many options"
R_TOO_FEW_ANSWERS = "too few answers"

_DESIGN_NAMES = frozenset({
    "id", "yearid", "anesid", "fileversion", "samptype", "panstat", "year", "sampcode",
    "vstrat", "vpsu", "random", "phase", "issp", "form", "ballot", "version", "dateintv",
    "lngthinv", "mode", "spaneng", "consent", "adminconsent", "fbaccess", "phone", "srcbelt",
    "size", "respond", "feeused", "huadd", "incuspop", "kidsinhh",
})  # fmt: skip
_INTERVIEWER_NAMES = frozenset({
    "intage", "intethn", "inthisp", "intsex", "intid", "intyrs", "intrace1", "intrace2",
    "intrace3", "comprend", "coop", "huclean", "rlooks", "rgroomed", "rweight", "rhlthend",
    "hlthstrt", "neisafe", "ratetone", "whoelse1", "whoelse2", "whoelse3", "whoelse4",
    "whoelse5", "whoelse6",
})  # fmt: skip
_ROSTER_NAMES = frozenset({
    "famgen", "hhtype", "hhtype1", "hhrace", "rplace", "respnum", "visitors", "rvisitor",
    "adults", "babies", "preteen", "teens", "earnrs", "unrelat", "hompop", "dwelling",
})  # fmt: skip
_LINKED_NAMES = frozenset({
    "sector", "eftotlt", "barate", "gradtounder", "spsector", "speftotlt", "spbarate",
    "spgradtounder",
})  # fmt: skip
_ROSTER_NAME_RE = re.compile(r"^(mar|gender|relate|old|away|where|relsp|relhh|relhhd)\d+$")
_VERBATIM_NAME_RE = re.compile(r"(occ|ind|indus|isco)\d\d$|(prestg|pres|sei)10")
_WEIGHT_LABEL_RE = re.compile(r"\bweights\b", re.I)
_DESIGN_LABEL_RE = re.compile(r"\bballot\b|questionnaire|split form|subsampl|\bfilter for\b", re.I)
_INTERVIEWER_LABEL_RE = re.compile(r"\binterviewer\b(?!\s*:)", re.I)
_ROSTER_LABEL_RE = re.compile(r"\b(\d+(st|nd|rd|th)|1oth) person\b|\bperson \d+\b", re.I)
_VERBATIM_LABEL_RE = re.compile(
    r"occupation|industry code|\bnaics\b|\bisco\b|prestige|socioeconomic index|verbatim", re.I
)
_VERBATIM_VALUE_RE = re.compile(r"verbatim|uncodeable", re.I)
_LINKED_LABEL_RE = re.compile(r"college (respondent|spouse) attended", re.I)
_NOMINAL_OPTION_RE = re.compile(r"^(other\b.*|someone else|something else|none of these)$", re.I)
_NOMINAL_LAST_OPTION_RE = re.compile(r"^(neither|no preference|both|depends)$", re.I)
_NOMINAL_LABEL_RE = re.compile(r"^(who|which|where)\b", re.I)


# ================================================================== configuration
@dataclass(frozen=True)
class GSSConfig:
    """Thresholds and lists of the classification rule, and the cache settings."""

    min_answers: int = 300
    min_options: int = 2
    max_options: int = 7
    demographics: tuple[str, ...] = DEFAULT_DEMOGRAPHICS
    use_cache: bool = True
    cache_dir: str | Path | None = None


# ======================================================================= raw data
@dataclass
class GSSColumn:
    """One column of the panel: values (float, NaN = missing; or strings) and labels."""

    name: str
    values: np.ndarray
    label: str | None = None
    labels: dict[float, str] | None = None  # answer code -> text; None: no value labels

    @property
    def is_numeric(self) -> bool:
        return self.values.dtype.kind == "f"


@dataclass
class GSSData:
    """All columns of the panel file."""

    path: Path
    n_rows: int
    columns: dict[str, GSSColumn]


def default_gss_path() -> Path:
    """``$PERSONA_GSS_PATH``, else ``data/gss/gss_panel20.rda`` in the shared folder
    (:func:`persona_core.data.paths.shared_dir`: ``$PERSONA_SHARED_DIR`` or ``<repo>/../shared``)."""
    env = os.environ.get("PERSONA_GSS_PATH")
    if env:
        return Path(env)
    return paths.shared_dir() / "data" / "gss" / "gss_panel20.rda"


_C1_RE = re.compile("[\x80-\x9f]")


def _text(x: Any) -> str:
    """A string from rdata output. GSS strings are cp1252: bytes that are not UTF-8, and
    text read as Latin-1 (C1 control characters such as ``\x92``), are decoded as cp1252."""
    if isinstance(x, bytes):
        try:
            return x.decode("utf-8")
        except UnicodeDecodeError:
            return x.decode("cp1252", errors="replace")
    s = str(x)
    if _C1_RE.search(s):
        try:
            return s.encode("latin-1").decode("cp1252")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return s
    return s


def _labels_dict(obj: Any) -> dict[float, str] | None:
    if obj is None:
        return None
    if hasattr(obj, "coords") and hasattr(obj, "dims"):  # xarray named vector
        names = obj.coords[obj.dims[0]].values
        codes = np.asarray(obj.values, dtype=float)
    elif isinstance(obj, Mapping):
        names, codes = list(obj.keys()), np.asarray(list(obj.values()), dtype=float)
    else:
        return None
    return {float(c): _text(n).strip() for c, n in zip(codes, names)}


def _as_values(obj: Any) -> np.ndarray:
    if isinstance(obj, np.ma.MaskedArray):
        if obj.dtype.kind in "iufb":
            return obj.astype(float).filled(np.nan)
        return np.array([_text(v) if v is not np.ma.masked else "" for v in obj], dtype=object)
    arr = np.asarray(obj)
    if arr.dtype.kind in "iub":
        return arr.astype(float)
    if arr.dtype.kind == "f":
        return arr.astype(float, copy=False)
    return np.array([_text(v) for v in arr], dtype=object)


@dataclass
class _Labelled:
    values: Any
    attrs: Mapping[str, Any]


def _parse_rda(path: Path) -> GSSData:
    import rdata  # imported lazily: only needed on a cache miss

    def labelled(obj: Any, attrs: Mapping[str, Any]) -> _Labelled:
        return _Labelled(obj, dict(attrs))

    def frame(obj: Any, attrs: Mapping[str, Any]) -> tuple[dict, dict]:
        return dict(obj), dict(attrs)

    constructors = dict(rdata.conversion.DEFAULT_CLASS_MAP)
    constructors.update({"haven_labelled": labelled, "data.frame": frame, "tbl_df": frame, "tbl": frame})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = rdata.parser.parse_file(path)
            converted = rdata.conversion.convert(parsed, constructors, default_encoding="cp1252")
    except Exception as e:  # noqa: BLE001 - any parser failure means an unreadable file
        raise DataError(f"cannot read as an R data file: {type(e).__name__}: {e}", file=path) from None
    if DATA_FRAME_NAME in converted:
        obj = converted[DATA_FRAME_NAME]
    else:
        frames = [v for v in converted.values() if isinstance(v, tuple)]
        if len(frames) != 1:
            raise DataError(f"expected one data frame named {DATA_FRAME_NAME!r}", file=path)
        obj = frames[0]
    cols_raw, _ = obj
    columns: dict[str, GSSColumn] = {}
    n_rows = None
    for name, col in cols_raw.items():
        name = _text(name)
        if isinstance(col, _Labelled):
            lab = col.attrs.get("label")
            label = _text(np.asarray(lab).ravel()[0]).strip() if lab is not None else None
            columns[name] = GSSColumn(name, _as_values(col.values), label, _labels_dict(col.attrs.get("labels")))
        else:
            columns[name] = GSSColumn(name, _as_values(col))
        n_rows = len(columns[name].values) if n_rows is None else n_rows
        if len(columns[name].values) != n_rows:
            raise DataError("columns of different lengths", file=path, column=name)
    return GSSData(path=path, n_rows=n_rows or 0, columns=columns)


# ------------------------------------------------------------------------- cache
def _cache_file(path: Path, cache_dir: Path) -> Path:
    st = path.stat()
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    return cache_dir / "gss" / f"{path.stem}-{key}-{st.st_size}-{st.st_mtime_ns}-v{CACHE_VERSION}.npz"


def _save_cache(data: GSSData, file: Path) -> None:
    meta: dict[str, Any] = {"version": CACHE_VERSION, "n_rows": data.n_rows, "columns": []}
    values, rows, offsets = [], [], [0]
    for c in data.columns.values():
        entry: dict[str, Any] = {"name": c.name, "label": c.label}
        entry["labels"] = None if c.labels is None else [[k, v] for k, v in c.labels.items()]
        if c.is_numeric:
            idx = np.flatnonzero(~np.isnan(c.values))
            values.append(c.values[idx])
            rows.append(idx.astype(np.int32))
            offsets.append(offsets[-1] + idx.size)
        else:
            entry["strings"] = [str(v) for v in c.values]
            offsets.append(offsets[-1])
        meta["columns"].append(entry)
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(file.name + f".{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        values=np.concatenate(values) if values else np.zeros(0),
        rows=np.concatenate(rows) if rows else np.zeros(0, np.int32),
        offsets=np.asarray(offsets, dtype=np.int64),
        meta=np.array(json.dumps(meta)),
    )
    os.replace(tmp, file)


def _load_cache(file: Path, path: Path) -> GSSData:
    with np.load(file, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        values, rows, offsets = z["values"], z["rows"], z["offsets"]
    if meta.get("version") != CACHE_VERSION:
        raise ValueError("cache version mismatch")
    n = int(meta["n_rows"])
    columns: dict[str, GSSColumn] = {}
    for i, e in enumerate(meta["columns"]):
        labels = None if e["labels"] is None else {float(k): v for k, v in e["labels"]}
        if "strings" in e:
            vals = np.array(e["strings"], dtype=object)
        else:
            vals = np.full(n, np.nan)
            a, b = offsets[i], offsets[i + 1]
            vals[rows[a:b]] = values[a:b]
        columns[e["name"]] = GSSColumn(e["name"], vals, e["label"], labels)
    return GSSData(path=path, n_rows=n, columns=columns)


def read_gss_file(
    path: str | Path | None = None, *, use_cache: bool = True, cache_dir: str | Path | None = None
) -> GSSData:
    """All columns of the panel file, from the cache when it is current."""
    path = Path(path) if path is not None else default_gss_path()
    if not path.is_file():
        raise DataError("file not found (set PERSONA_GSS_PATH or pass a path)", file=path)
    cache_file = _cache_file(path, Path(cache_dir) if cache_dir else paths.cache_dir()) if use_cache else None
    if cache_file is not None and cache_file.is_file():
        try:
            t0 = time.perf_counter()
            data = _load_cache(cache_file, path)
            log.debug("GSS columns from cache %s in %.2f s", cache_file, time.perf_counter() - t0)
            return data
        except (OSError, ValueError, KeyError) as e:
            log.warning("ignoring unreadable GSS cache %s: %s", cache_file, e)
    t0 = time.perf_counter()
    data = _parse_rda(path)
    log.info("parsed %s (%d columns) in %.1f s", path, len(data.columns), time.perf_counter() - t0)
    if cache_file is not None:
        try:
            _save_cache(data, cache_file)
        except OSError as e:
            log.warning("could not write GSS cache %s: %s", cache_file, e)
    return data


# ============================================================== classification rule
@dataclass(frozen=True)
class ColumnSummary:
    """What the rule looks at: a column's name, wording, answer labels and answer counts.

    ``labels`` is ``None`` for a column without value labels; ``counts`` maps each
    answer code present in the wave to its number of respondents (missing excluded).
    """

    name: str
    label: str | None = None
    labels: Mapping[float, str] | None = None
    counts: Mapping[float, int] = field(default_factory=dict)

    def non_answer_codes(self) -> set[float]:
        return {c for c, t in (self.labels or {}).items() if is_non_answer(t)}

    def substantive_counts(self) -> dict[float, int]:
        skip = self.non_answer_codes()
        return {float(c): int(n) for c, n in self.counts.items() if c not in skip and n > 0}

    @property
    def n_answers(self) -> int:
        return sum(self.substantive_counts().values())


@dataclass(frozen=True)
class ColumnDecision:
    """Where a column went: ``kind`` is ``question``, ``attribute`` or ``dropped``."""

    column: str
    kind: Literal["question", "attribute", "dropped"]
    reason: str


def is_non_answer(text: str) -> bool:
    """True for an answer label that means 'no answer' (refused, don't know, iap, ...)."""
    return text.strip().lower().replace("\u2019", "'") in NON_ANSWERS


def is_nominal(label: str | None, options: Iterable[str]) -> bool:
    """Clearly nominal: a who/which/where question, an "other"/"someone else" option, or
    a last option "neither"/"both"/"depends" (in the middle, "neither" is a scale midpoint)."""
    options = [o.strip() for o in options]
    if label and _NOMINAL_LABEL_RE.search(label.strip()):
        return True
    if options and _NOMINAL_LAST_OPTION_RE.match(options[-1]):
        return True
    return any(_NOMINAL_OPTION_RE.match(o) for o in options)


def bookkeeping_reason(name: str, label: str | None, labels: Mapping[float, str] | None = None) -> str | None:
    """The bookkeeping category of a variable (base name, wording, answer labels), or None."""
    lab = label or ""
    if name in _INTERVIEWER_NAMES or name.startswith("intwk") or _INTERVIEWER_LABEL_RE.search(lab):
        return R_INTERVIEWER
    if name.startswith("wt") or name.endswith("wt") or name == "oversamp" or _WEIGHT_LABEL_RE.search(lab):
        return R_WEIGHT
    if name in _DESIGN_NAMES or _DESIGN_LABEL_RE.search(lab):
        return R_DESIGN
    if name in _ROSTER_NAMES or _ROSTER_NAME_RE.match(name) or _ROSTER_LABEL_RE.search(lab):
        return R_ROSTER
    if (
        _VERBATIM_NAME_RE.search(name)
        or _VERBATIM_LABEL_RE.search(lab)
        or any(_VERBATIM_VALUE_RE.search(t) for t in (labels or {}).values())
    ):
        return R_VERBATIM
    if name in _LINKED_NAMES or _LINKED_LABEL_RE.search(lab):
        return R_LINKED
    return None


def classify_column(col: ColumnSummary, config: GSSConfig | None = None) -> ColumnDecision:
    """Apply the module's classification rule to one column of one wave."""
    cfg = config or GSSConfig()
    reason = bookkeeping_reason(col.name, col.label, col.labels)
    if reason:
        return ColumnDecision(col.name, DROPPED, reason)
    counts = col.substantive_counts()
    if not counts:
        return ColumnDecision(col.name, DROPPED, R_EMPTY)
    if col.name in cfg.demographics:
        return ColumnDecision(col.name, ATTRIBUTE, "demographic")
    if col.labels is None:
        return ColumnDecision(col.name, DROPPED, R_NO_LABELS)
    if any(c not in col.labels for c in counts) and not is_labelled_scale(counts, cfg):
        return ColumnDecision(col.name, DROPPED, R_UNLABELLED)
    n_options = len(question_codes(col))
    if n_options < cfg.min_options:
        return ColumnDecision(col.name, DROPPED, R_TOO_FEW_OPTIONS)
    if n_options > cfg.max_options:
        return ColumnDecision(col.name, DROPPED, R_TOO_MANY_OPTIONS)
    if sum(counts.values()) < cfg.min_answers:
        return ColumnDecision(col.name, DROPPED, R_TOO_FEW_ANSWERS)
    return ColumnDecision(col.name, QUESTION, "opinion item")


def is_labelled_scale(counts: Mapping[float, int], config: GSSConfig | None = None) -> bool:
    """Used codes that are integers spanning a short range (e.g. 1..7 with only the end
    points labelled, as in ``eqwlth`` or ``helppoor``): an ordinal rating scale whose
    points are every integer from the lowest to the highest used code."""
    cfg = config or GSSConfig()
    codes = sorted(counts)
    if not codes or any(c != int(c) for c in codes):
        return False
    return cfg.min_options <= codes[-1] - codes[0] + 1 <= cfg.max_options


def question_codes(col: ColumnSummary) -> list[float]:
    """The answer codes that become a question's options, in order: the used labelled
    codes, or for a rating scale with unlabelled points every integer of its range."""
    used = sorted(col.substantive_counts())
    if used and any(c not in (col.labels or {}) for c in used):
        return [float(c) for c in range(int(used[0]), int(used[-1]) + 1)]
    return used


def question_from_summary(col: ColumnSummary) -> Question:
    """The :class:`Question` of a column classified as a question: options are the codes
    of :func:`question_codes` as label texts (the number itself for an unlabelled point)."""
    codes = question_codes(col)
    labels = col.labels or {}
    options = tuple(labels.get(c, f"{c:g}") for c in codes)
    return Question(col.name, col.label or col.name, options, ordinal=not is_nominal(col.label, options))


def classification_counts(decisions: Iterable[ColumnDecision]) -> dict[str, Any]:
    """Tally: ``{"columns", "questions", "attributes", "dropped", "dropped_by_reason"}``."""
    decisions = list(decisions)
    kinds = Counter(d.kind for d in decisions)
    reasons = Counter(d.reason for d in decisions if d.kind == DROPPED)
    return {
        "columns": len(decisions),
        "questions": kinds[QUESTION],
        "attributes": kinds[ATTRIBUTE],
        "dropped": kinds[DROPPED],
        "dropped_by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


def format_classification(counts: Mapping[str, Any], wave: str | None = None) -> str:
    """Human-readable lines of :func:`classification_counts` (what the CLI prints)."""
    head = f"GSS {wave} wave: " if wave else "GSS: "
    lines = [
        f"{head}{counts['columns']} columns -> {counts['questions']} questions, "
        f"{counts['attributes']} respondent attributes, {counts['dropped']} dropped"
    ]
    lines += [f"  dropped, {r}: {n}" for r, n in counts["dropped_by_reason"].items()]
    return "\n".join(lines)


# ============================================================================ wave
def _wave_suffix(wave: str | int) -> str:
    key = str(wave).strip()
    if key not in WAVES:
        raise ValueError(f"unknown GSS wave {wave!r}; choose one of {', '.join(WAVES)}")
    return WAVES[key]


def _summary(col: GSSColumn, base: str, rows: np.ndarray, count_text: bool = True) -> ColumnSummary:
    counts: dict[float, int] = {}
    if col.is_numeric:
        v = col.values[rows]
        codes, n = np.unique(v[~np.isnan(v)], return_counts=True)
        counts = dict(zip(codes.tolist(), n.tolist()))
    elif count_text:  # a text column: each non-empty string counts once
        counts = {float(i): 1 for i, s in enumerate(col.values[rows]) if str(s)}
    return ColumnSummary(base, col.label, col.labels, counts)


def _summaries(data: GSSData, suffix: str, rows: np.ndarray) -> list[tuple[str, ColumnSummary]]:
    """(column name, summary) for the wave's columns and the panel-level columns."""
    out = []
    for name, col in data.columns.items():
        m = _SUFFIX_RE.search(name)
        if m and m.group(0) != suffix:
            continue
        base = name[: -len(suffix)] if m else name
        out.append((name, _summary(col, base, rows, count_text=bool(m))))
    return out


def classify_gss(data: GSSData, wave: str = "2016", config: GSSConfig | None = None) -> list[ColumnDecision]:
    """Decisions for every column of one wave (``column`` = full name with suffix)."""
    suffix = _wave_suffix(wave)
    rows = _wave_rows(data, suffix)
    return [
        ColumnDecision(name, d.kind, d.reason)
        for name, s in _summaries(data, suffix, rows)
        for d in [classify_column(s, config)]
    ]


def gss_classification(
    path: str | Path | None = None, wave: str = "2016", config: GSSConfig | None = None
) -> dict[str, Any]:
    """Classification counts for one wave of the panel file (see :func:`classification_counts`)."""
    cfg = config or GSSConfig()
    data = read_gss_file(path, use_cache=cfg.use_cache, cache_dir=cfg.cache_dir)
    return classification_counts(classify_gss(data, wave, cfg))


def _wave_rows(data: GSSData, suffix: str) -> np.ndarray:
    id_col = data.columns.get(WAVE_ID_COLUMN + suffix)
    if id_col is None or not id_col.is_numeric:
        raise DataError("wave respondent-number column missing", file=data.path, column=WAVE_ID_COLUMN + suffix)
    rows = np.flatnonzero(~np.isnan(id_col.values))
    if rows.size == 0:
        raise DataError("no respondents in this wave", file=data.path, column=WAVE_ID_COLUMN + suffix)
    return rows


def _attribute(col: GSSColumn, summary: ColumnSummary, rows: np.ndarray) -> np.ndarray | pd.Categorical:
    """Readable attribute values: label texts (categorical, code order) or numbers."""
    v = col.values[rows]
    if not col.is_numeric:
        return np.array([x if str(x) else None for x in v], dtype=object)
    v = v.copy()
    skip = summary.non_answer_codes()
    if skip:
        v[np.isin(v, list(skip))] = np.nan
    used = sorted(summary.substantive_counts())
    if col.labels and all(c in col.labels for c in used):
        codes = np.full(v.shape, -1, dtype=np.int64)
        ok = ~np.isnan(v)
        codes[ok] = np.searchsorted(used, v[ok])
        return pd.Categorical.from_codes(codes, categories=[col.labels[c] for c in used])
    return v


def _combine(current: Any, older: Any) -> Any:
    """``current`` with its missing values filled from ``older`` (same rows)."""
    if current is None:
        return older
    if isinstance(current, pd.Categorical) or isinstance(older, pd.Categorical):
        cur = np.asarray(current, dtype=object)
        old = np.asarray(older, dtype=object)
        missing = pd.isna(cur)
        cur[missing] = old[missing]
        cats = [*getattr(current, "categories", []), *getattr(older, "categories", [])]
        return pd.Categorical(cur, categories=list(dict.fromkeys(c for c in cats)))
    cur = np.array(current, dtype=float)
    missing = np.isnan(cur)
    cur[missing] = np.asarray(older, dtype=float)[missing]
    return cur


def _fill_from_first_interview(
    data: GSSData, suffix: str, rows: np.ndarray, attrs: dict[str, Any], labels: dict[str, str], cfg: GSSConfig
) -> None:
    """For the 2020 re-interview: demographics it did not ask again (race, born, ...)
    or that are missing for a respondent come from the first interview (2018, then
    2016). Age is not carried over (it would be stale)."""
    for d in cfg.demographics:
        if d in NO_CARRY_OVER:
            continue
        for earlier in CARRY_OVER_FROM.get(suffix, ()):
            col = data.columns.get(d + earlier)
            if col is None:
                continue
            s = _summary(col, d, rows)
            if not s.substantive_counts() or bookkeeping_reason(d, col.label, col.labels):
                continue
            attrs[d] = _combine(attrs.get(d), _attribute(col, s, rows))
            labels.setdefault(d, col.label or d)


def load_gss(path: str | Path | None = None, wave: str = "2016", config: GSSConfig | None = None) -> Survey:
    """Load one wave of the GSS panel as a :class:`Survey` (rule in the module docstring)."""
    cfg = config or GSSConfig()
    suffix = _wave_suffix(wave)
    t0 = time.perf_counter()
    data = read_gss_file(path, use_cache=cfg.use_cache, cache_dir=cfg.cache_dir)
    rows = _wave_rows(data, suffix)
    rid_col = data.columns.get(RESPONDENT_ID_COLUMN)
    if rid_col is None:
        raise DataError("respondent id column missing", file=data.path, column=RESPONDENT_ID_COLUMN)
    respondent_ids = [str(x) for x in rid_col.values[rows]]

    decisions: list[ColumnDecision] = []
    questions: list[Question] = []
    r_parts, q_parts, o_parts = [], [], []
    attrs: dict[str, Any] = {}
    attr_labels: dict[str, str] = {}
    for name, s in _summaries(data, suffix, rows):
        d = classify_column(s, cfg)
        decisions.append(ColumnDecision(name, d.kind, d.reason))
        col = data.columns[name]
        if d.kind == ATTRIBUTE:
            attrs[s.name] = _attribute(col, s, rows)
            attr_labels[s.name] = s.label or s.name
        elif d.kind == QUESTION:
            q = question_from_summary(s)
            codes = np.array(question_codes(s))
            v = col.values[rows]
            hit = np.flatnonzero(np.isin(v, codes))
            r_parts.append(hit)
            q_parts.append(np.full(hit.size, len(questions)))
            o_parts.append(np.searchsorted(codes, v[hit]))
            questions.append(q)
    _fill_from_first_interview(data, suffix, rows, attrs, attr_labels, cfg)
    counts = classification_counts(decisions)
    log.info("%s", format_classification(counts, str(wave)))
    if not questions:
        raise DataError("no column qualifies as a question in this wave", file=data.path)
    answers = Answers(np.concatenate(r_parts), np.concatenate(q_parts), np.concatenate(o_parts))
    survey = Survey.from_codes(
        name=f"gss-{wave}",
        questions=questions,
        respondent_ids=respondent_ids,
        answers=answers,
        attributes=pd.DataFrame(attrs, index=pd.Index(respondent_ids, name="respondent_id")),
        source={
            "kind": "gss",
            "wave": str(wave),
            "path": str(data.path),
            "classification": counts,
            "attribute_labels": attr_labels,
        },
    )
    log.info(
        "GSS %s: %d respondents, %d questions, %d answers in %.1f s",
        wave, survey.n_respondents, survey.n_questions, survey.n_answers, time.perf_counter() - t0,
    )
    return survey
