"""One cell of a layer file as the typed value its field wants, or the rule it breaks."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from gisgrid import vocab
from gisgrid.codes import CHINA_TZ
from gisgrid.readers.schemas import FieldSpec

__all__ = ["as_text", "coerce", "is_missing", "json_value", "plain"]

_TIME = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ZH_TO_ID = {zh: key for key, zh in vocab.ZH.items()}
_TRUE = {"true", "t", "yes", "y", "1", "是", "有", "对"}
_FALSE = {"false", "f", "no", "n", "0", "否", "无", "没有"}


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages and JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def is_missing(value: Any) -> bool:
    """None, NA, NaN and blank text all mean "not given"."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def as_text(value: Any) -> str:
    """A cell as text; a whole float loses its ``.0`` (GDAL reads number-like ids and codes as floats)."""
    value = plain(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def json_value(value: Any) -> Any:
    """A cell as a JSON value (kept in ``attributes``): None when missing; dates and times as ISO text.

    >>> json_value(np.int64(3)), json_value(2.5), json_value(float("nan")), json_value(" 备注 ")
    (3, 2.5, None, '备注')
    """
    value = plain(value)
    if is_missing(value):
        return None
    if isinstance(value, bool | int | str):
        return value.strip() if isinstance(value, str) else value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def coerce(spec: FieldSpec, value: Any) -> Any:
    """The typed value, or raise ValueError with the rule broken."""
    value = plain(value)
    if spec.type == "str":
        text = as_text(value)
        if spec.choices is not None:
            if text in spec.choices:
                return text
            if _ZH_TO_ID.get(text) in spec.choices:
                return _ZH_TO_ID[text]
            if text.lower() in spec.choices:
                return text.lower()
            raise ValueError(f"one of {', '.join(spec.choices)}")
        if spec.pattern is not None and not re.match(spec.pattern, text):
            raise ValueError(spec.pattern_rule or f"matches {spec.pattern}")
        return text
    if spec.type in ("int", "float"):
        if isinstance(value, bool):
            raise ValueError(f"a {'whole ' if spec.type == 'int' else ''}number")
        try:
            number = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            raise ValueError(f"a {'whole ' if spec.type == 'int' else ''}number") from None
        if not np.isfinite(number):
            raise ValueError("a finite number")
        if spec.type == "int" and not number.is_integer():
            raise ValueError("a whole number")
        if spec.minimum is not None and number < spec.minimum:
            raise ValueError(_range_rule(spec))
        if spec.maximum is not None and number > spec.maximum:
            raise ValueError(_range_rule(spec))
        return int(number) if spec.type == "int" else number
    if spec.type == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("true or false (是/否)")
    if spec.type == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        stamp = _parse_time(value)
        if stamp is None or (stamp.hour, stamp.minute, stamp.second) != (0, 0, 0):
            raise ValueError("a date YYYY-MM-DD")
        return stamp.date()
    if spec.type == "datetime":
        stamp = _parse_time(value)
        if stamp is None:
            raise ValueError("a date and time (ISO 8601, e.g. 2024-05-01T08:30:00+08:00)")
        if stamp.tzinfo is None:  # local Chinese time unless said otherwise
            stamp = stamp.replace(tzinfo=CHINA_TZ)
        return stamp.to_pydatetime()
    raise AssertionError(spec.type)  # pragma: no cover


def _range_rule(spec: FieldSpec) -> str:
    if spec.maximum is None:
        return f"{spec.name} >= {spec.minimum:g}"
    return f"{spec.name} between {spec.minimum:g} and {spec.maximum:g}"


def _parse_time(value: Any) -> pd.Timestamp | None:
    if isinstance(value, pd.Timestamp | datetime | np.datetime64):
        stamp = pd.Timestamp(value)
        return None if pd.isna(stamp) else stamp
    text = str(value).strip().replace("/", "-").replace("年", "-").replace("月", "-").replace("日", "")
    if not _TIME.match(text):
        return None
    try:
        return pd.Timestamp(text)
    except ValueError:
        return None
