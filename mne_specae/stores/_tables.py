"""The metadata tables of a segment store (private helpers of
:mod:`mne_specae.segment_store`): read with their recorded types, written all or
nothing (spread per channel for Epochs in :mod:`._epochs`).

Types: every column is read with the type it was written with, so text stays text
(``"007"``, ``"True"``, ``"1e3"``, ``"NA"``) and numbers come back bit for bit. The
types of the columns :func:`~mne_specae.prepare_segments` writes follow from the
store's settings; :func:`write_tables` records the types of every column in the
manifest (``tables.columns``). Columns of unknown type (a store of an older version)
are inferred by pandas, as before. An empty text value reads back as missing (NaN).

Writes: :func:`write_tables` writes every shard's new table under a new name (atomically),
then commits them all at once by replacing ``manifest.json``; the old tables are
removed only after that. A crash or an error at any point leaves the store with all
its old tables or all its new ones, never a mix.
"""

from __future__ import annotations

import copy
import uuid

import numpy as np
import pandas as pd

from ..utils._files import write_atomic
from ._manifest import shard_file, write_manifest

#: Metadata columns every store has (the caller's columns come after).
ITEM_COLUMNS = ("subject", "recording", "onset", "channel", "signal_type", "sfreq_orig", "source")
#: Columns read as text (labels like run "01" or subject "007" keep their zeros).
TEXT_COLUMNS = (
    "subject",
    "recording",
    "channel",
    "signal_type",
    "source",
    "session",
    "task",
    "run",
    "acquisition",
)
#: The BIDS entity columns of a store (one value per segment).
BIDS_COLUMNS = ("session", "task", "run", "acquisition")
_TYPES = {"str": str, "int64": np.int64, "float64": np.float64, "bool": bool}
#: Numbers parsed exactly (pandas 3.1 does it by default and deprecates the option).
_EXACT = (
    {}
    if tuple(int(v) for v in pd.__version__.split(".")[:2]) >= (3, 1)
    else {"float_precision": "round_trip"}
)


def column_type(series):
    """The recorded type of a column: ``"bool"``, ``"int64"``, ``"float64"`` or
    ``"str"`` (anything else is written as text)."""
    kind = series.dtype.kind
    return {"b": "bool", "i": "int64", "u": "int64", "f": "float64"}.get(kind, "str")


def _value_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else "str"


def column_types(manifest):
    """``{column: type}`` of the columns whose type is known for this store: the
    built-in ones, the BIDS entities, the ``metadata`` of the settings, and those
    recorded by :func:`write_tables`."""
    types = dict.fromkeys(TEXT_COLUMNS, "str")
    types.update(onset="float64", sfreq_orig="float64")
    extra = manifest.get("settings", {}).get("metadata") or {}
    types.update({str(k): _value_type(v) for k, v in extra.items()})
    types.update(manifest.get("tables", {}).get("columns", {}))
    return types


def segment_columns(manifest):
    """Columns with one value per segment (the same for all its channels): the
    built-in ones but ``channel``, the BIDS entities, the settings' ``metadata``."""
    extra = manifest.get("settings", {}).get("metadata") or {}
    return {c for c in ITEM_COLUMNS if c != "channel"} | set(BIDS_COLUMNS) | {str(k) for k in extra}


def table_name(shard):
    """The file name of a shard's metadata table."""
    return shard.get("table", f"{shard['key']}.csv")


def read_table(root, shard, manifest, fname):
    """One shard's metadata, typed, checked against the manifest (row count; column
    names when :func:`write_tables` wrote it); errors name the file."""
    path = shard_file(root, table_name(shard), fname, what="table")
    types = column_types(manifest)
    tables = manifest.get("tables", {})
    expected = (
        list(tables["columns"])
        if tables.get("version") and shard.get("table") == f"{shard['key']}.{tables['version']}.csv"
        else None
    )
    redo = "the store is damaged: prepare it again (overwrite=True)"
    try:
        header = list(pd.read_csv(path, nrows=0).columns)
        table = pd.read_csv(
            path,
            keep_default_na=False,
            na_values=[""],
            **_EXACT,
            dtype={c: _TYPES[types[c]] for c in header if c in types},
        )
    except FileNotFoundError:
        raise ValueError(
            f"{path}: the metadata table of shard {shard['key']} is missing; {redo}."
        ) from None
    except (ValueError, UnicodeDecodeError, OverflowError, pd.errors.ParserError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"{path}: the metadata table cannot be read ({detail}); {redo}.") from err
    if expected is not None and header != expected:
        raise ValueError(
            f"{path}: the columns {header} do not match the manifest "
            f"({expected}): a partial or foreign write; {redo}, or write the "
            "columns again (add_embeddings)."
        )
    if len(table) != shard["n_items"]:
        raise ValueError(
            f"{path}: {len(table)} rows, the manifest says {shard['n_items']} items; {redo}."
        )
    return table


def write_tables(root, manifest, table, offsets, written_by):
    """Write ``table`` (all items, store order) as new shard tables and commit them by
    replacing the manifest; return the new manifest. All or nothing: on any error
    the new files are removed and the store keeps its old tables."""
    if not all(isinstance(c, str) for c in table.columns):
        raise TypeError("metadata column names must be strings.")
    fname = root / "manifest.json"
    version = uuid.uuid4().hex[:12]
    new = copy.deepcopy(manifest)
    written = []
    try:
        for k, shard in enumerate(new["shards"]):
            name = f"{shard['key']}.{version}.csv"
            final = shard_file(root, name, fname, what="table")
            written.append(final)
            chunk = table.iloc[offsets[k] : offsets[k + 1]]
            write_atomic(
                final,
                lambda fid, chunk=chunk: chunk.to_csv(fid, index=False),
                note="the store keeps its previous metadata",
            )
            shard["table"] = name
        new["tables"] = dict(
            version=version,
            written_by=written_by,
            columns={c: column_type(table[c]) for c in table.columns},
        )
        write_manifest(fname, new)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    for old in manifest["shards"]:  # committed: the old tables are garbage now
        if table_name(old) != f"{old['key']}.{version}.csv":
            (root / "shards" / table_name(old)).unlink(missing_ok=True)
    return new
