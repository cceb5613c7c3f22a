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
