"""Parquet files of a segment store's tables (private helpers of
:mod:`mne_specae.stores._tables`): pandas columns to Arrow with fixed types, a file
written row group by row group, and files read by column and by row group.

Types: text columns are Arrow ``string`` (whatever their pandas dtype; values that are
not text, in an ``object`` column, are written as their ``str``, as the CSV tables
did), categoricals are dictionary columns (read back as categoricals), and numbers and
booleans keep their dtype (``float32`` stays ``float32``). Missing values are nulls,
read back as NaN; an empty text stays an empty text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Rows per row group: what a streaming read or write holds of one table at a time
#: (65,536 rows of 70 float64 columns: about 37 MB).
ROW_GROUP = 65_536
#: The suffix of a Parquet table.
SUFFIX = ".parquet"


def column_type(series):
    """The recorded type of a pandas column: ``"bool"``, ``"int64"`` (any integer
    width but ``uint64``), ``"float32"``, ``"float64"``, ``"category"`` or ``"str"``
    (anything else is written as text)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    kind = series.dtype.kind
    if kind == "f":
        return "float32" if series.dtype == np.float32 else "float64"
    return {"b": "bool", "i": "int64", "u": "int64"}.get(kind, "str")


def _text(series):
    """``series`` as an Arrow string array (missing values null)."""
    if series.dtype.kind == "O":  # Python objects: text, as their str
        values = [None if v is None or (isinstance(v, float) and v != v) else v for v in series]
        values = [v if v is None or isinstance(v, str) else str(v) for v in values]
        return pa.array(values, type=pa.string())
    try:
        return pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # e.g. a datetime: its text
        return pa.array(series.astype(str).where(series.notna(), None), type=pa.string())


def to_arrow(table):
    """A :class:`pyarrow.Table` of the DataFrame ``table`` (its index left out), each
    column of the type :func:`column_type` says."""
    arrays = []
    for name in table.columns:
        series = table[name]
        kind = column_type(series)
        if kind == "str":
            array = _text(series)
        elif kind == "category":
            array = pa.DictionaryArray.from_arrays(  # int32 codes: any number of categories
                pa.array(series.cat.codes.to_numpy(np.int32), mask=series.isna().to_numpy()),
                _text(pd.Series(series.cat.categories)),
            )
        else:
            dtype = {"int64": np.int64, "bool": bool}.get(kind, series.dtype)
            array = pa.array(series.to_numpy(dtype=dtype), from_pandas=True)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=[str(c) for c in table.columns])


def type_name(arrow_type):
    """The recorded type of an Arrow column (see :func:`column_type`)."""
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "int64"
    if pa.types.is_floating(arrow_type):
        return "float32" if arrow_type == pa.float32() else "float64"
    if pa.types.is_dictionary(arrow_type):
        return "category"
    return "str"


def conform(table, schema):
    """``table`` with the types of ``schema`` (the columns' types in the first rows
    written); a :class:`ValueError` names a column whose values cannot take them."""
    if table.schema.equals(schema):
        return table
    columns = []
    for field in schema:
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise ValueError(
                    f"column {field.name!r} is {type_name(field.type)} in its first rows "
                    f"and {type_name(column.type)} later ({err}); give every chunk "
                    "the same dtype."
                ) from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def write_parquet(fid, tables):
    """Write the Arrow tables ``tables`` (an iterable; each of the schema of the
    first, :func:`conform` otherwise) into the open binary file ``fid``, in row groups
    of at most :data:`ROW_GROUP` rows; return the schema (``None``: no table)."""
    writer = schema = None
    try:
        for table in tables:
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(fid, schema, compression="snappy")
            writer.write_table(conform(table, schema), row_group_size=ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
    return schema


def parquet_file(path):
    """The open :class:`pyarrow.parquet.ParquetFile` (its footer read: rows, columns)."""
    return pq.ParquetFile(path)


def column_names(pfile):
    """The column names of an open Parquet file, in order."""
    return list(pfile.schema_arrow.names)


def to_pandas(table):
    """A DataFrame of an Arrow table (text as pandas' default string dtype,
    dictionary columns as categoricals)."""
    return table.to_pandas()


def read_parquet(pfile, columns=None):
    """The columns ``columns`` (``None``: all) of an open Parquet file as an Arrow
    table: only those columns' data are read."""
    return pfile.read(columns=columns)


def iter_parquet(pfile, columns=None):
    """The columns ``columns`` of an open Parquet file, one row group at a time
    (Arrow tables, file order)."""
    for k in range(pfile.num_row_groups):
        yield pfile.read_row_group(k, columns=columns)
