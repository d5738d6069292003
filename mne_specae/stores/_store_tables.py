"""The metadata of a :class:`~mne_specae.SegmentStore`: read whole, by column or by
row group, exported to CSV, and columns written all or nothing (the methods of
:class:`StoreTables`, a base of the store; the files: :mod:`._tables`,
:mod:`._table_writes`)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..utils._files import write_atomic
from ._manifest import MANIFEST, changed_error, manifest_stamp, read_manifest, view_of
from ._table_writes import LocalTables, NewRows, table_columns, write_tables
from ._tables import ITEM_COLUMNS, TableFile
from ._writing import StoreLock

#: Threads reading a store's tables (pyarrow reads without the GIL; most of the time
#: of a column read is opening thousands of small files).
_THREADS = min(8, 2 * (os.cpu_count() or 1))


class StoreTables:
    """The table methods of :class:`~mne_specae.SegmentStore` (it holds ``path``,
    ``manifest``, ``_shards``, ``_offsets``, ``_metadata`` and the checks)."""

    def _table_file(self, shard, head=True, manifest=None):
        """A shard's :class:`TableFile`, checked against ``manifest`` (default: the one
        read when the store was opened; a remote store reads it otherwise)."""
        manifest = self.manifest if manifest is None else manifest
        return TableFile(self.path, shard, manifest, self.path / MANIFEST, head=head)

    def _check_tables(self):
        """Before tables are read: the store not rewritten, and the tables the manifest
        names now (another process may have written columns)."""
        self._check_current()

    def _tables(self):
        """Each shard's table, opened (footer or header read) and checked."""
        self._check_tables()
        return [self._table_file(s) for s in self._shards]

    def _read_all(self, columns=None):
        """Each shard's table (the columns ``columns`` it has; ``None``: all), read
        by a few threads (a store has thousands of small tables; each is opened once,
        checked, and only the chosen columns read), in store order; and the columns
        of the store, in order of first appearance."""
        self._check_tables()
        files = [self._table_file(s, head=False) for s in self._shards]
        with ThreadPoolExecutor(min(_THREADS, max(len(files), 1))) as pool:
            parts = list(pool.map(lambda t: t.read_present(columns), files))
        return parts, table_columns(files)

    @property
    def metadata(self):
        """One row per item: ``subject``, ``recording``, ``onset``, ``channel``,
        ``signal_type``, ``sfreq_orig``, ``source``, then the caller's columns
        (a :class:`pandas.DataFrame`; read once, then cached). To read some columns
        only (a store with embeddings of a million items), use :meth:`read_columns`
        or :meth:`iter_columns`."""
        if self._metadata is None:
            tables, _ = self._read_all()
            self._metadata = (
                pd.concat(tables, ignore_index=True)
                if tables
                else pd.DataFrame(columns=list(ITEM_COLUMNS))
            )
        return self._metadata

    @property
    def columns(self):
        """The names of the metadata columns, in order (read from the tables'
        headers; no row is read)."""
        if self._metadata is not None:
            return list(self._metadata.columns)
        return table_columns(self._tables()) or list(ITEM_COLUMNS)

    def _chosen(self, columns, tables):
        """``columns`` checked against the store's (``None``: all of them)."""
        present = table_columns(tables) or list(ITEM_COLUMNS)
        if columns is None:
            return present
        if isinstance(columns, str):
            columns = [columns]
        _validate_type(columns, (list, tuple), "columns")
        columns = list(columns)
        missing = [c for c in columns if c not in present]
        if missing:
            raise ValueError(
                f"The store {self.path} has no metadata column(s) {missing}; it has {present}."
            )
        return columns

    @staticmethod
    def _part(part, columns):
        """A shard's rows with the chosen columns (NaN where its table lacks one)."""
        return part.reindex(columns=columns) if list(part.columns) != columns else part

    def read_columns(self, columns):
        """Some metadata columns of every item, without reading the others.

        Parquet tables are read column by column: only the data of ``columns`` are
        read (and held), whatever else the store holds (e.g. the embeddings of a
        million items).

        Parameters
        ----------
        columns : str | list of str
            Column names (see :attr:`columns`).

        Returns
        -------
        table : pandas.DataFrame
            One row per item, in store order; the columns in the order given.
        """
        if self._metadata is not None:
            return self._metadata[self._chosen_cached(columns)].copy()
        columns = [columns] if isinstance(columns, str) else columns
        _validate_type(columns, (list, tuple), "columns")
        columns = list(columns)
        parts, present = self._read_all(columns)
        missing = [c for c in columns if c not in (present or ITEM_COLUMNS)]
        if missing:
            raise ValueError(
                f"The store {self.path} has no metadata column(s) {missing}; it has "
                f"{present or list(ITEM_COLUMNS)}."
            )
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat([self._part(p, columns) for p in parts], ignore_index=True)

    def _chosen_cached(self, columns):
        columns = [columns] if isinstance(columns, str) else columns
        _validate_type(columns, (list, tuple), "columns")
        missing = [c for c in columns if c not in self._metadata.columns]
        if missing:
            raise ValueError(
                f"The store {self.path} has no metadata column(s) {missing}; it has "
                f"{list(self._metadata.columns)}."
            )
        return list(columns)

    def iter_columns(self, columns=None):
        """The metadata, a block of rows at a time (bounded memory).

        Parameters
        ----------
        columns : str | list of str | None
            Column names; ``None``: all.

        Yields
        ------
        block : pandas.DataFrame
            Consecutive items in store order (the index: their item numbers), at
            most one row group of one shard (65,536 rows) each.
        """
        tables = self._tables()
        columns = self._chosen(columns, tables)
        for start, t in zip(self._offsets, tables):
            for part in t.iter_pandas([c for c in columns if c in t.columns]):
                part = self._part(part, columns)
                part.index = pd.RangeIndex(start, start + len(part))
                start += len(part)
                yield part

    @verbose
    def to_csv(self, fname, columns=None, *, overwrite=False, verbose=None):
        """Export the metadata to one CSV table (row by row group: bounded memory).

        Parameters
        ----------
        fname : path-like
            The ``.csv`` file to write (atomically: a failed export leaves no file,
            or the old one).
        columns : str | list of str | None
            Column names; ``None``: all.
        overwrite : bool
            Replace ``fname`` if it exists.
        %(verbose)s

        Returns
        -------
        fname : pathlib.Path
            The file written: one row per item, in store order, with a header; no
            index column (read it back with :func:`pandas.read_csv`).
        """
        from pathlib import Path

        _validate_type(fname, "path-like", "fname")
        fname = Path(fname)
        if fname.exists() and not overwrite:
            raise FileExistsError(f"{fname} exists; pass overwrite=True to replace it.")
        blocks = self.iter_columns(columns)

        def write(fid):
            header = True
            for block in blocks:
                block.to_csv(fid, index=False, header=header)
                header = False
            if header:  # no item: the header alone
                pd.DataFrame(columns=self._chosen(columns, self._tables())).to_csv(fid, index=False)

        write_atomic(fname, write)
        logger.info(f"Wrote the metadata of {len(self)} item(s) to {fname}")
        return fname

    def write_columns(self, table, *, replace_prefix=None, written_by=None):
        """Add columns to :attr:`metadata`, on disk (e.g. embeddings).

        Streamed, in bounded memory: shard by shard and row group by row group, the
        kept columns of the old table are read and written with the next rows of
        ``table`` into the shard's new Parquet table (a store of a million items
        takes tens of MB however many columns it holds; give ``table`` as chunks to
        keep your own side bounded too).

        All or nothing: every shard's new table is written under a new name and
        synced, then all are committed at once by replacing the manifest (which
        records the columns, their types and ``written_by``); the old tables are
        removed after. A crash or an error (a failed write, chunks of too few or too
        many rows) leaves the old metadata whole, never a mix of old and new
        columns. The store's lock (``prepare.lock``) is held meanwhile: while another
        process prepares the store (or writes columns into it) this is an error
        naming its pid, and the reverse. A store at a URL does the same with its lock
        object: the new tables are uploaded under new names, then committed by one
        PUT of the manifest (:mod:`mne_specae.stores._remote_store`).

        Parameters
        ----------
        table : pandas.DataFrame | iterable of pandas.DataFrame
            One row per item, in store order, or chunks of such rows (consecutive,
            the same columns, e.g. one per shard or per batch of an embedding run);
            its columns are added (replaced when they exist). The index is ignored.
        replace_prefix : str | None
            Also drop existing columns starting with this prefix (stale columns of an
            earlier, wider embedding).
        written_by : str | None
            What wrote the columns (e.g. the model), recorded in the manifest
            (``manifest["tables"]["written_by"]``).
        """
        self._check_current()
        rows = NewRows(table, len(self))  # checks the first chunk's columns
        for k in range(len(self._shards)):  # counts agree with the shard files
            self._layout(k)
        with self._writing_columns() as (current, sink):  # the lock held
            if view_of(current)[0] != self._view[0] or [
                (s["key"], s["n_items"]) for s in current["shards"]
            ] != [(s["key"], s["n_items"]) for s in self._shards]:
                raise changed_error(getattr(self, "url", self.path))  # other items now
            files = [self._table_file(s, manifest=current) for s in current["shards"]]
            self.manifest = write_tables(
                files, current, rows, sink, replace_prefix=replace_prefix, written_by=written_by
            )
        self._shards = list(self.manifest["shards"])
        self._stamp = self._new_stamp()
        self._metadata = None  # read again from the new tables when asked for
        logger.info(
            f"Wrote {len(rows.columns)} column(s) into the metadata of "
            f"{getattr(self, 'url', self.path)}"
        )

    @contextmanager
    def _writing_columns(self):
        """The store's lock held (no preparation meanwhile): its manifest as it is
        now, and where :func:`write_tables` writes."""
        with StoreLock(self.path, "writing columns into"):
            yield read_manifest(self.path), LocalTables(self.path)

    def _new_stamp(self):
        return manifest_stamp(self.path / MANIFEST)
