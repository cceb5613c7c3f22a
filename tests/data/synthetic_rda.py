"""Write tiny GSS-panel-shaped ``.rda`` files (``haven_labelled`` columns) for tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rdata
from rdata.conversion.to_r import build_r_object
from rdata.missing import R_INT_NA
from rdata.parser import RObjectType


@dataclass
class Labelled:
    """A ``haven_labelled`` double column: values (NaN = NA), wording, code -> text labels."""

    values: list[float]
    label: str | None = None
    labels: dict[float, str] = field(default_factory=dict)


@dataclass
class Named:
    """A named double vector (R's ``c(yes = 1, no = 2)``)."""

    codes: list[float]
    names: list[str]


@dataclass
class Frame:
    """A data frame: column name -> Labelled, float array or string array."""

    columns: dict[str, Any]


def _named(data: Named, conv: Any) -> Any:
    attrs = conv.convert_to_r_attributes({"names": np.array(data.names, dtype="U")})
    return build_r_object(RObjectType.REAL, value=np.asarray(data.codes, dtype=float), attributes=attrs)


def _labelled(data: Labelled, conv: Any) -> Any:
    attrs: dict[str, Any] = {}
    if data.label is not None:
        attrs["label"] = np.array([data.label], dtype="U")
    if data.labels:
        attrs["labels"] = Named(list(data.labels), list(data.labels.values()))
    attrs["class"] = np.array(["haven_labelled", "vctrs_vctr", "double"], dtype="U")
    return build_r_object(
        RObjectType.REAL,
        value=np.asarray(data.values, dtype=float),
        is_object=True,
        attributes=conv.convert_to_r_attributes(attrs),
    )


def _frame(data: Frame, conv: Any) -> Any:
    first = next(iter(data.columns.values()))
    n = len(first.values if isinstance(first, Labelled) else first)
    row_names = np.ma.array(data=[R_INT_NA, -n], mask=[True, False], fill_value=R_INT_NA)
    # convert the columns before the attributes: symbol references are numbered in
    # conversion order and must match the order they are written in (values first)
    values = [conv.convert_to_r_object(v) for v in data.columns.values()]
    attrs = conv.convert_to_r_attributes({
        "names": np.array(list(data.columns), dtype="U"),
        "class": np.array(["tbl_df", "tbl", "data.frame"], dtype="U"),
        "row.names": row_names,
    })
    return build_r_object(
        RObjectType.VEC, value=values,
        is_object=True, attributes=attrs,
    )


def write_panel(path: Path, columns: dict[str, Any], name: str = "gss_panel20") -> Path:
    """Write ``columns`` as one data frame ``name`` into an ``.rda`` file."""
    constructors = {Labelled: _labelled, Named: _named, Frame: _frame}
    rdata.write_rda(path, {name: Frame(columns)}, constructor_dict=constructors)
    return path


_YES_NO = {1.0: "yes", 2.0: "no"}
NAN = np.nan


def make_panel(path: Path) -> Path:
    """Six respondents: four in the 2016 sample, two in 2018; three re-interviewed in 2020."""
    ids_1a = [1, 2, 3, 4, NAN, NAN]
    ids_1b = [NAN, NAN, NAN, NAN, 1, 2]
    ids_2 = [1, NAN, 3, NAN, 1, NAN]
    cols = {
        "yearid": np.array(["20160001", "20160002", "20160003", "20160004", "20180001", "20180002"], dtype="U"),
        "samptype": np.array([2016.0, 2016, 2016, 2016, 2018, 2018]),
        "id_1a": np.array(ids_1a, dtype=float),
        "wtssall_1a": np.array([0.5, 1.2, 0.9, 1.1, NAN, NAN]),
        "abany_1a": Labelled([1, 2, 2, 1, NAN, NAN], "abortion if woman wants for any reason",
                             {1.0: "yes", 2.0: "no", 8.0: "don't know", 9.0: "iap"}),
        "natenvir_1a": Labelled([1, 1, 3, 9, NAN, NAN], "improving & protecting environment",
                                {1.0: "too little", 2.0: "about right", 3.0: "too much", 9.0: "refused"}),
        "helppoor_1a": Labelled([1, 2, 3, 5, NAN, NAN], "should govt improve standard of living?",
                                {1.0: "government should help", 3.0: "agree with both", 5.0: "people help selves"}),
        "cheat_1a": Labelled([1, 2, 1, 2, NAN, NAN], "i\u2019m always willing to admit a mistake", _YES_NO),
        "tvhours_1a": Labelled([0, 2, 7, 12, NAN, NAN], "hours per day watching tv", {0.0: "none"}),
        "ballot_1a": Labelled([1, 2, 3, 1, NAN, NAN], "ballot used for interview",
                              {1.0: "ballot a", 2.0: "ballot b", 3.0: "ballot c"}),
        "mar1_1a": Labelled([1, 5, 1, 3, NAN, NAN], "marital status of 1st person",
                            {1.0: "married", 3.0: "divorced", 5.0: "never married"}),
        "age_1a": Labelled([34, 89, NAN, 51, NAN, NAN], "age of respondent", {89.0: "89 or older"}),
        "sex_1a": Labelled([1, 2, 2, 1, NAN, NAN], "respondents sex", {1.0: "male", 2.0: "female"}),
        "race_1a": Labelled([1, 2, 1, 3, NAN, NAN], "race of respondent", {1.0: "white", 2.0: "black", 3.0: "other"}),
        "partyid_1a": Labelled([0, 6, 3, 1, NAN, NAN], "political party affiliation",
                               {0.0: "strong democrat", 1.0: "not very strong democrat",
                                3.0: "independent", 6.0: "strong republican"}),
        "id_1b": np.array(ids_1b, dtype=float),
        "abany_1b": Labelled([NAN, NAN, NAN, NAN, 2, 1], "abortion if woman wants for any reason", _YES_NO),
        "race_1b": Labelled([NAN, NAN, NAN, NAN, 2, 2], "race of respondent", {1.0: "white", 2.0: "black"}),
        "id_2": np.array(ids_2, dtype=float),
        "abany_2": Labelled([2, NAN, 2, NAN, 1, NAN], "abortion if woman wants for any reason", _YES_NO),
        "sex_2": Labelled([1, NAN, 2, NAN, 2, NAN], "respondents sex", {1.0: "male", 2.0: "female"}),
        "age_2": Labelled([38, NAN, NAN, NAN, 40, NAN], "age of respondent", {89.0: "89 or older"}),
    }
    return write_panel(path, cols)
