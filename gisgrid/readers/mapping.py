"""Which field each column of a file is: ``--field`` options, a YAML mapping, the field's own name, the
built-in aliases and the shapefile truncations, in that order."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gisgrid.errors import InvalidInputError
from gisgrid.readers.schemas import BUILTIN_ALIASES, IGNORE, LayerSchema

__all__ = ["load_field_mapping", "parse_field_options", "rename_columns"]


def parse_field_options(options: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """Turn repeated ``--field SOURCE=TARGET`` options into a mapping.

    Examples
    --------
    >>> parse_field_options(["户数=households", "备注=-"])
    {'户数': 'households', '备注': '-'}
    """
    mapping: dict[str, str] = {}
    bad = []
    for option in options or ():
        source, sep, target = option.partition("=")
        if not sep or not source.strip() or not target.strip():
            bad.append(option)
            continue
        mapping[source.strip()] = target.strip()
    if bad:
        raise InvalidInputError(
            f"--field takes SOURCE=TARGET (e.g. --field 户数=households); got {', '.join(map(repr, bad))}",
            field="field",
            rule="SOURCE=TARGET",
        )
    return mapping


def load_field_mapping(path: str | Path) -> dict[str, str]:
    """Read a YAML field mapping: ``{source column: target field}``, optionally under a ``fields:`` key."""
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidInputError(
            f"the mapping file {p} does not exist", field="fields", rule="the mapping file exists"
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"the mapping file {p} is not valid YAML: {exc}", field="fields", rule="valid YAML"
        ) from exc
    if isinstance(data, dict) and set(data) == {"fields"}:
        data = data["fields"]
    if not isinstance(data, dict) or not data:
        raise InvalidInputError(
            f"the mapping file {p} must be a YAML mapping of source column to target field "
            "(e.g. `户数: households`)",
            field="fields",
            rule="a mapping of source column to target field",
        )
    bad = [k for k, v in data.items() if not isinstance(v, str) or not str(k).strip()]
    if bad:
        raise InvalidInputError(
            f"the mapping file {p}: the targets of {', '.join(map(repr, bad))} are not field names",
            field="fields",
            rule="a mapping of source column to target field",
        )
    return {str(k).strip(): v.strip() for k, v in data.items()}


def _truncated_aliases(schema: LayerSchema) -> dict[str, str]:
    """Shapefile DBF truncates names to 10 characters: accept the truncated names when unambiguous."""
    counts: dict[str, list[str]] = {}
    for name in schema.names:
        if len(name) > 10:
            counts.setdefault(name[:10], []).append(name)
    return {
        short: names[0] for short, names in counts.items() if len(names) == 1 and short not in schema.names
    }


def rename_columns(
    columns: list[str], schema: LayerSchema, mapping: Mapping[str, str], *, id_column: str | None = None
) -> tuple[dict[str, str], list[str], list[str]]:
    """Decide the new name of every column. Returns (renames, dropped, unknown).

    ``unknown`` are the columns that match no field: the caller keeps them (``attributes``) or ignores
    them, and lists them in the report. ``id_column`` names the column that holds the feature ids; a
    column that would otherwise be the id (``id``, ``编号`` …) is then an unknown column.
    """
    problems: list[dict[str, Any]] = []
    if id_column is not None:
        if id_column not in columns:
            raise InvalidInputError(
                f"--id-column names {id_column!r}, which the file does not have (columns: {', '.join(columns)})",
                field="id_column",
                rule="the id column exists",
            )
        mapping = {**{k: v for k, v in mapping.items() if v != schema.key}, id_column: schema.key}
    targets = set(schema.names)
    for source, target in mapping.items():
        if target != IGNORE and target not in targets:
            problems.append(
                {
                    "field": source,
                    "rule": f"mapping target is a field of {schema.kind}",
                    "message": f"{source!r} is mapped to {target!r}, which is not a field of {schema.kind} "
                    f"(fields: {', '.join(schema.names)}; '-' drops a column)",
                }
            )
        elif source not in columns:
            problems.append(
                {
                    "field": source,
                    "rule": "mapped column exists",
                    "message": f"the mapping names column {source!r}, which the file does not have "
                    f"(columns: {', '.join(columns)})",
                }
            )
    if problems:
        raise InvalidInputError(
            "; ".join(p["message"] for p in problems),
            field=problems[0]["field"],
            rule=problems[0]["rule"],
            details={"problems": problems},
        )

    aliases = {**{k.lower(): v for k, v in BUILTIN_ALIASES.items()}, **_truncated_aliases(schema)}
    aliases.update({k.lower(): v for k, v in schema.aliases.items()})
    renames: dict[str, str] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    for col in columns:
        if col in mapping:
            target = mapping[col]
        elif col in targets:
            target = col
        elif col.lower() in targets:
            target = col.lower()
        elif col.strip().lower() in aliases:
            target = aliases[col.strip().lower()]
            target = schema.aliases.get(target, target)  # e.g. 类型 → kind → building_type
        else:
            unknown.append(col)
            continue
        if id_column is not None and target == schema.key and col != id_column:
            unknown.append(col)  # the ids are in --id-column; this column is kept as it is
        elif target == IGNORE:
            dropped.append(col)
        elif target not in targets:
            unknown.append(col)
        else:
            renames[col] = target
    seen: dict[str, str] = {}
    clashes = []
    for col, target in renames.items():
        if target in seen:
            clashes.append(f"{seen[target]!r} and {col!r} both map to {target!r}")
        seen[target] = col
    if clashes:
        raise InvalidInputError(
            "; ".join(clashes) + ". Drop one of them with --field COLUMN=-",
            field=next(iter(clashes)).split("'")[1],
            rule="one column per field",
        )
    return renames, dropped, unknown
