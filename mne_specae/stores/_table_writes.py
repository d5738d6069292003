"""Writing a segment store's metadata columns, all or nothing and in bounded memory
(private helpers of :meth:`mne_specae.SegmentStore.write_columns`).

:func:`write_tables` streams: shard by shard, row group by row group, it reads the
old table's kept columns (:class:`~._tables.TableFile`), takes as many rows of the
caller's new columns (:class:`NewRows`, a DataFrame or chunks of one), and appends
both to the shard's new Parquet table; at no time does it hold more than one row
group of one shard, whatever the size of the store. Every new table is written
under a new name (``<key>.<version>.parquet``, atomically), then all are committed at
once by replacing ``manifest.json``, which records the columns, their types and what
wrote them (``tables.written_by``: this write; ``tables.origin``: each written column's); the old tables are removed only after that. A crash or an error at any
point (a failed write, chunks that hold too few or too many rows, a column whose
type changes between chunks) leaves the store with all its old tables, never a mix.
"""

from __future__ import annotations

import copy
import uuid

import pandas as pd
import pyarrow as pa

from ..utils._files import write_atomic
from ._manifest import MANIFEST, STORE_VERSION, shard_file, write_manifest
from ._parquet import SUFFIX, to_arrow, type_name, write_parquet
from ._tables import ITEM_COLUMNS, column_types, table_name

_ARROW = {
    "str": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "category": pa.dictionary(pa.int32(), pa.string()),
}


class NewRows:
    """The caller's new columns: a DataFrame, or an iterable of DataFrames (chunks of
    any number of rows, the same columns, store order), handed out ``n`` rows at a
    time (:meth:`take`) so that only one chunk is held at once."""

    def __init__(self, table, n_items):
        self.n_items = n_items
        if isinstance(table, pd.DataFrame):
            if len(table) != n_items:
                raise ValueError(f"{len(table)} rows for a store of {n_items} items.")
            chunks = iter([table])
        elif isinstance(table, (str, bytes, dict)) or not hasattr(table, "__iter__"):
            raise TypeError(
                "table must be a pandas.DataFrame or an iterable of DataFrames (chunks "
                f"of rows in store order), got {type(table).__name__}."
            )
        else:
            chunks = iter(table)
        self._chunks = chunks
        self._chunk = None
        self._pos = 0
        self.n_rows = 0  # rows handed out
        self.columns = None
        if not self._next():
            raise ValueError("table holds no chunk: give one DataFrame of every item.")

    def _next(self):
        """Load the next chunk; ``False`` when there is none."""
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return False
        if not isinstance(chunk, pd.DataFrame):
            raise TypeError(f"each chunk must be a pandas.DataFrame, got {type(chunk).__name__}.")
        columns = list(chunk.columns)
        if self.columns is None:
            if not all(isinstance(c, str) for c in columns):
                raise TypeError("metadata column names must be strings.")
            if len(set(columns)) != len(columns):
                raise ValueError(f"table has duplicate column names: {columns}.")
            builtin = [c for c in columns if c in ITEM_COLUMNS]
            if builtin:
                raise ValueError(f"Cannot overwrite the built-in column(s) {builtin}.")
            self.columns = columns
        elif columns != self.columns:
            raise ValueError(
                f"a chunk has the columns {columns}, the first had {self.columns}: "
                "give every chunk the same columns, in the same order."
            )
        self._chunk, self._pos = chunk, 0
        return True

    def take(self, n):
        """The next ``n`` rows (a DataFrame, positional index); a :class:`ValueError`
        when the chunks end before."""
        parts = []
        while n > 0:
            if self._pos >= len(self._chunk) and not self._next():
                raise ValueError(
                    f"the chunks of table hold {self.n_rows} rows, for a store of "
                    f"{self.n_items} items: give one row per item."
                )
            part = self._chunk.iloc[self._pos : self._pos + n]
            self._pos += len(part)
            self.n_rows += len(part)
            n -= len(part)
            parts.append(part)
        if len(parts) == 1:
            return parts[0].reset_index(drop=True)
        return pd.concat(parts, ignore_index=True) if parts else self._chunk.iloc[:0]

    def finish(self):
        """Check that no row is left over."""
        left = len(self._chunk) - self._pos
        while self._next():
            left += len(self._chunk)
        if left:
            raise ValueError(
                f"the chunks of table hold {self.n_rows + left} rows, for a store of "
                f"{self.n_items} items: give one row per item."
            )


class _Types:
    """The Arrow type of every column, fixed by the first values seen (or the type
    the manifest records): each new batch is cast to it, so that every shard's table
    has the same types; a :class:`ValueError` names a column that cannot be."""

    def __init__(self, known):
        self.types = dict(known)

    def fit(self, table):
        columns = []
        for name, column in zip(table.column_names, table.columns):
            target = self.types.get(name)
            if target is None or pa.types.is_null(target):
                self.types[name] = column.type
            elif column.type != target:
                try:
                    column = column.cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                    raise ValueError(
                        f"metadata column {name!r} is {type_name(target)} elsewhere in the "
                        f"store and {type_name(column.type)} here ({err}); give it one "
                        "dtype for every item."
                    ) from None
            columns.append(column)
        return pa.Table.from_arrays(columns, names=table.column_names)

    def nulls(self, name, n):
        return pa.nulls(n, self.types.get(name, pa.null()))


def _known_types(files, manifest):
    """Arrow types of the existing columns: a Parquet table's own, else the type the
    manifest records (CSV tables)."""
    known = {}
    for file in files:
        if file.parquet:
            for field in file.schema:
                known.setdefault(field.name, field.type)
    for name, kind in column_types(manifest).items():
        if kind in _ARROW:
            known.setdefault(name, _ARROW[kind])
    return known


def table_columns(files):
    """The columns of the shards' tables, in order of first appearance."""
    return list(dict.fromkeys(c for f in files for c in f.columns))


def _shard_batches(file, keep, rows, types):
    """The new table of one shard, as Arrow tables: its old columns ``keep`` (null
    where its table lacks one: a continued store) and the next rows of ``rows``."""
    present = [c for c in keep if c in file.columns]
    n_done = 0
    for old in file.iter_arrow(present):
        n = old.num_rows
        add = to_arrow(rows.take(n))
        arrays = [old.column(c) if c in present else types.nulls(c, n) for c in keep]
        n_done += n
        yield types.fit(pa.Table.from_arrays(arrays + add.columns, names=keep + add.column_names))
    if not n_done:  # an empty shard: an empty table of the same columns
        names = keep + rows.columns
        yield pa.Table.from_arrays([types.nulls(c, 0) for c in names], names=names)


class LocalTables:
    """Where :func:`write_tables` writes the tables of the store in the folder
    ``root``: the shard folder, and ``manifest.json`` replaced (the commit). A remote
    store's counterpart is :class:`~mne_specae.stores._commits.RemoteTarget`."""

    def __init__(self, root):
        self.root = root
        self.fname = root / MANIFEST

    def write_table(self, name, batches):
        write_atomic_table(shard_file(self.root, name, self.fname, what="table"), batches)

    def publish(self, manifest):
        write_manifest(self.fname, manifest)

    def remove(self, name):
        (self.root / name).unlink(missing_ok=True)


def write_tables(files, manifest, table, sink, *, drop=(), replace_prefix=None, written_by=None):
    """Write the new columns ``table`` (a :class:`NewRows`) into every shard's table
    (``files``: the :class:`~._tables.TableFile` of each shard of ``manifest``),
    after the old columns but those in ``drop``, those starting with
    ``replace_prefix`` and those ``table`` replaces, and commit by replacing the
    manifest; return the new manifest. ``sink`` writes the files
    (:class:`LocalTables`, or a remote store's
    :class:`~mne_specae.stores._commits.RemoteTarget`: ``write_table(name, batches)``,
    ``publish(manifest)``, ``remove(relative path)``). All or nothing: on any error
    the new files are removed and the store keeps its old tables."""
    replaced = set(drop) | set(table.columns)
    keep = [
        c
        for c in table_columns(files)
        if c not in replaced and not (replace_prefix is not None and c.startswith(replace_prefix))
    ]
    types = _Types(
        {k: v for k, v in _known_types(files, manifest).items() if k not in table.columns}
    )
    version = uuid.uuid4().hex[:12]
    new = copy.deepcopy(manifest)
    written = []
    try:
        for shard, file in zip(new["shards"], files):
            name = f"{shard['key']}.{version}{SUFFIX}"
            written.append(f"shards/{name}")
            sink.write_table(name, _shard_batches(file, keep, table, types))
            shard["table"] = name
        table.finish()
        origin = manifest.get("tables", {}).get("origin", {})
        origin = {c: origin[c] for c in keep if c in origin}
        new["tables"] = dict(
            version=version,
            written_by=written_by,
            format="parquet",
            columns={c: type_name(types.types.get(c, pa.null())) for c in keep + table.columns},
            origin=dict(origin, **dict.fromkeys(table.columns, written_by)),
        )
        new["version"] = STORE_VERSION  # Parquet tables
        sink.publish(new)
    except BaseException:
        for name in written:
            sink.remove(name)
        raise
    for old in manifest["shards"]:  # committed: the old tables are garbage now
        if table_name(old) != f"{old['key']}.{version}{SUFFIX}":
            sink.remove(f"shards/{table_name(old)}")
    return new


def write_atomic_table(path, batches):
    """Write the Arrow tables ``batches`` as the Parquet file ``path`` (atomically:
    :func:`~mne_specae.utils._files.write_atomic`)."""
    write_atomic(
        path,
        lambda fid: write_parquet(fid, batches),
        mode="wb",
        note="the store keeps its previous metadata",
    )
