"""The metadata tables of a segment store (private helpers of
:mod:`mne_specae.stores.store`): read with their recorded types, by column and by
row group; written all or nothing by :mod:`._table_writes` (spread per channel for
Epochs in :mod:`._epochs`).

Formats: a table is a Parquet file (``<key>.parquet``, or ``<key>.<version>.parquet``
after :meth:`~mne_specae.SegmentStore.write_columns`; :mod:`._parquet`), which keeps
its types and is read column by column and row group by row group. Older stores
(written before tables were Parquet) have CSV tables (``<key>.csv``, ``<key>.<version>.csv``): they are
still read, with their recorded types, and the next ``write_columns`` rewrites them
as Parquet.

Types of CSV tables: every column is read with the type it was written with, so text
stays text (``"007"``, ``"True"``, ``"1e3"``, ``"NA"``) and numbers come back bit for
bit. The types of the columns :func:`~mne_specae.prepare_segments` writes follow from
the store's settings; ``write_columns`` records the types of every column in the
manifest (``tables.columns``). Columns of unknown type (a store of an older version)
are inferred by pandas, as before. An empty text value of a CSV table reads back as
missing (NaN); in Parquet an empty text stays empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._manifest import shard_file
from ._parquet import (
    ROW_GROUP,
    SUFFIX,
    column_names,
    column_type,
    iter_parquet,
    parquet_file,
    read_parquet,
    to_arrow,
    to_pandas,
)

__all__ = ["column_type"]  # re-exported: the recorded type of a pandas column

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
_TYPES = {
    "str": str,
    "int64": np.int64,
    "float64": np.float64,
    "float32": np.float32,
    "bool": bool,
    "category": "category",
}
#: Numbers parsed exactly (pandas 3.1 does it by default and deprecates the option).
_EXACT = (
    {}
    if tuple(int(v) for v in pd.__version__.split(".")[:2]) >= (3, 1)
    else {"float_precision": "round_trip"}
)
_REDO = "the store is damaged: prepare it again (overwrite=True)"


def _value_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    return "float64" if isinstance(value, float) else "str"


def column_types(manifest):
    """``{column: type}`` of the columns whose type is known for this store: the
    built-in ones, the BIDS entities, the ``metadata`` of the settings, and those
    recorded by :func:`~._table_writes.write_tables`."""
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
    """The file name of a shard's metadata table (``<key>.csv`` in a shard entry
    without one: a store written before tables were named)."""
    return shard.get("table", f"{shard['key']}.csv")


def is_parquet(shard):
    """Whether a shard's table is a Parquet file (else CSV)."""
    return table_name(shard).endswith(SUFFIX)


def _expected(shard, manifest):
    """The columns the manifest records for this shard's table, in order (``None``
    when its table predates the last ``write_columns``: a continued store)."""
    tables = manifest.get("tables", {})
    version = tables.get("version")
    if version and table_name(shard) in (
        f"{shard['key']}.{version}.csv",
        f"{shard['key']}.{version}{SUFFIX}",
    ):
        return list(tables["columns"])
    return None


class TableFile:
    """One shard's table, checked against the manifest (row count; column names when
    ``write_columns`` wrote it), to read by column or by row group; errors name the
    file. No file is held open between reads (a store has thousands of tables)."""

    def __init__(self, root, shard, manifest, fname, *, head=True):
        self.path = shard_file(root, table_name(shard), fname, what="table")
        self.shard = shard
        self.types = column_types(manifest)
        self.parquet = is_parquet(shard)
        self.expected = _expected(shard, manifest)
        self.schema = None  # Arrow schema of a Parquet table
        self.columns = None  # known once the footer (or header) is read
        if head:
            if self.parquet:  # the footer only; closed (an open file holds ~0.2 MB)
                with self._open() as pfile:
                    self._head(pfile)
            else:
                self._head(None)

    def _open(self):
        """The open Parquet file (errors name it)."""
        try:
            return parquet_file(self.path)
        except FileNotFoundError:
            self._missing()
        except (ValueError, OSError) as err:
            self._unreadable(err)

    def _missing(self):
        raise ValueError(
            f"{self.path}: the metadata table of shard {self.shard['key']} is missing; {_REDO}."
        ) from None

    def _head(self, pfile):
        """Read the columns from the open Parquet file ``pfile`` (``None``: the CSV
        header) and check them, and the row count, against the manifest."""
        n_rows = None  # a CSV table's rows are counted when read
        if pfile is not None:
            self.columns = column_names(pfile)
            self.schema = pfile.schema_arrow
            n_rows = pfile.metadata.num_rows
        else:
            try:
                self.columns = list(pd.read_csv(self.path, nrows=0).columns)
            except FileNotFoundError:
                self._missing()
            except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as err:
                self._unreadable(err)
        if self.expected is not None and self.columns != self.expected:
            raise ValueError(
                f"{self.path}: the columns {self.columns} do not match the manifest "
                f"({self.expected}): a partial or foreign write; {_REDO}, or write the "
                "columns again (add_embeddings)."
            )
        if n_rows is not None:
            self._check_rows(n_rows)

    def read_present(self, columns=None):
        """Those of ``columns`` (``None``: all) that the table has, as a DataFrame,
        with the table checked first: one opening of the file (what reading many
        shards' tables costs most)."""
        if not self.parquet:
            self._head(None)
            return self.read(None if columns is None else [c for c in columns if c in self.columns])
        with self._open() as pfile:
            self._head(pfile)
            chosen = None if columns is None else [c for c in columns if c in self.columns]
            try:
                return to_pandas(read_parquet(pfile, chosen))
            except (ValueError, OSError) as err:
                self._unreadable(err)

    def _unreadable(self, err):
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{self.path}: the metadata table cannot be read ({detail}); {_REDO}."
        ) from err

    def _check_rows(self, n_rows):
        if n_rows != self.shard["n_items"]:
            raise ValueError(
                f"{self.path}: {n_rows} rows, the manifest says "
                f"{self.shard['n_items']} items; {_REDO}."
            )

    def _csv(self, columns, chunksize=None):
        header = self.columns if columns is None else columns
        return pd.read_csv(
            self.path,
            usecols=columns,
            keep_default_na=False,
            na_values=[""],
            chunksize=chunksize,
            **_EXACT,
            dtype={c: _TYPES.get(self.types[c]) for c in header if c in self.types},
        )

    def read(self, columns=None):
        """The columns ``columns`` (``None``: all; those of the table, in its order)
        as a DataFrame; in Parquet only their data are read."""
        if self.parquet:
            with self._open() as pfile:
                try:
                    return to_pandas(read_parquet(pfile, columns))
                except (ValueError, OSError) as err:
                    self._unreadable(err)
        try:
            table = self._csv(columns)
        except FileNotFoundError:
            self._missing()
        except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as err:
            self._unreadable(err)
        self._check_rows(len(table))
        return table if columns is None else table[list(columns)]

    def iter_arrow(self, columns=None):
        """The columns ``columns`` as Arrow tables of at most ``ROW_GROUP`` rows
        (Parquet: one per row group; CSV: read in chunks), file order."""
        n_rows = 0
        if self.parquet:
            with self._open() as pfile:
                try:
                    yield from iter_parquet(pfile, columns)
                except (ValueError, OSError) as err:
                    self._unreadable(err)
            return
        try:
            for chunk in self._csv(columns, chunksize=ROW_GROUP):
                n_rows += len(chunk)
                yield to_arrow(chunk if columns is None else chunk[list(columns)])
        except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as err:
            self._unreadable(err)
        self._check_rows(n_rows)

    def iter_pandas(self, columns=None):
        """:meth:`iter_arrow` as DataFrames."""
        if not self.parquet:  # typed by the CSV reader, not through Arrow
            n_rows = 0
            try:
                for chunk in self._csv(columns, chunksize=ROW_GROUP):
                    n_rows += len(chunk)
                    yield chunk if columns is None else chunk[list(columns)]
            except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as err:
                self._unreadable(err)
            self._check_rows(n_rows)
            return
        for table in self.iter_arrow(columns):
            yield to_pandas(table)


def read_table(root, shard, manifest, fname, columns=None):
    """One shard's metadata (the columns ``columns``, ``None``: all), typed, checked
    against the manifest (row count; column names when ``write_columns`` wrote
    it); errors name the file."""
    return TableFile(root, shard, manifest, fname).read(columns)
