"""Read layer files (GeoJSON, GeoPackage, Shapefile, zipped Shapefile, CSV) into checked WGS84 frames.

Two steps, both pure (no database):

* :func:`read_layer` — open the file, map its columns to gisgrid's field names (built-in Chinese
  aliases, ``--field`` options or a YAML mapping), normalise the CRS to WGS84 and check what can only be
  judged on the whole file: empty files, unknown formats, unreadable data, unknown or missing columns,
  mixed or wrong geometry types, a missing or implausible CRS, duplicate ids. Any of these raises
  :class:`~gisgrid.errors.InvalidInputError` (or its :class:`~gisgrid.errors.CRSError` /
  :class:`~gisgrid.errors.GeometryError` subclasses) naming the field and the rule, with every problem
  found in ``details``.
* :func:`validate_features` — judge each feature on its own: types, ranges, vocabularies, dates,
  geometry validity (``explain_validity``; repaired with ``make_valid`` when ``repair=True``). It returns
  the clean features and a list of :class:`~gisgrid.report.Problem`; the caller decides whether a
  rejected feature aborts the import (the default of ``gisgrid import layer``) or is skipped.

The modules, in the order a file passes through them:

* :mod:`~gisgrid.readers.schemas` — :data:`SCHEMAS`, the fields of each kind (docs/formats.md lists them
  for people), and :data:`BUILTIN_ALIASES`;
* :mod:`~gisgrid.readers.formats` — format detection and reading each format;
* :mod:`~gisgrid.readers.mapping` — columns to fields (``--field``, ``--fields``, aliases);
* :mod:`~gisgrid.readers.read` — :func:`read_layer` and the whole-file checks;
* :mod:`~gisgrid.readers.values` — one value as its field's type, or the rule it breaks;
* :mod:`~gisgrid.readers.validation` — :func:`validate_features` and the rules of each kind.
"""

from gisgrid.readers.mapping import load_field_mapping, parse_field_options
from gisgrid.readers.read import attribute_dicts, read_layer
from gisgrid.readers.schemas import (
    BUILTIN_ALIASES,
    KEEPS_ATTRIBUTES,
    KINDS,
    SCHEMAS,
    FieldSpec,
    LayerSchema,
    split_source_id,
)
from gisgrid.readers.validation import validate_features

__all__ = [
    "BUILTIN_ALIASES",
    "KEEPS_ATTRIBUTES",
    "KINDS",
    "SCHEMAS",
    "FieldSpec",
    "LayerSchema",
    "attribute_dicts",
    "load_field_mapping",
    "parse_field_options",
    "read_layer",
    "split_source_id",
    "validate_features",
]
