"""Export an output set for the tools datasets are loaded with: Parquet (Arrow, Hugging Face
``datasets``).

Input
    A rows file (as ``verify`` takes it) with its range table, names and vocabulary beside it.
Output
    A Parquet file with one row per listed image, in image id order: ``img_id``, ``name``,
    ``word_ids`` and, where asked or present, ``keywords`` and ``split``, the vocabulary in
    the file's metadata (the columns and keys: docs/formats.md#parquet-export). Written in
    batches of images, so memory stays bounded whatever the set's size, to a temporary file
    moved into place when complete. Needs the ``parquet`` extra (pyarrow).
"""
import json
import os
import warnings

import numpy as np

from .errors import InputError, error_for, quoted
from .loader import load_keywords
from .writing import replaced_whole

BATCH = 1 << 16  # images a batch: a few MB of Arrow arrays


def export_parquet(rows_path, output_path, with_words=False, batch=BATCH, *, words=None):
    """Write the Parquet file (with a ``keywords`` column of words too, ``with_words``);
    returns the number of images written. ``words=`` is the former name of ``with_words``
    (deprecated: ``words`` is a list of strings everywhere else)."""
    if words is not None:
        warnings.warn("export_parquet(words=...) is deprecated; use with_words=...",
                      DeprecationWarning, stacklevel=2)
        with_words = words
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("export --format parquet needs pyarrow: pip install "
                         "'amc-keywords[parquet]' (or pip install pyarrow)") from None
    if not os.path.isfile(rows_path):
        raise InputError(f"{rows_path}: not found")
    try:
        kw = load_keywords(rows_path)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    fields = [("img_id", pa.int64()), ("name", pa.string()), ("word_ids", pa.list_(pa.int32()))]
    if with_words:
        fields.append(("keywords", pa.list_(pa.string())))
    if kw.image_splits is not None:
        fields.append(("split", pa.string()))
    metadata = {"amc_keywords.vocabulary": json.dumps(kw.vocabulary.words, ensure_ascii=False),
                "amc_keywords.min_df": str(kw.min_df), "amc_keywords.source": rows_path}
    schema = pa.schema(fields, metadata=metadata)
    vocabulary = pa.array(kw.vocabulary.words, pa.string()) if with_words else None
    ids = kw.ids
    try:
        with replaced_whole(output_path, purpose="export") as temp, \
                open(temp, "wb") as f, pq.ParquetWriter(f, schema) as writer:
            for start in range(0, len(ids), batch):
                chunk = ids[start:start + batch]
                flat, offsets = kw.bag(chunk)
                offsets = pa.array(np.append(offsets, len(flat)).astype(np.int32))
                flat = pa.array(flat.astype(np.int32))
                columns = [pa.array(chunk, pa.int64()), _names(pa, kw, kw.image_names, chunk),
                           pa.ListArray.from_arrays(offsets, flat)]
                if with_words:
                    columns.append(pa.ListArray.from_arrays(offsets, vocabulary.take(flat)))
                if kw.image_splits is not None:
                    columns.append(_names(pa, kw, kw.image_splits, chunk))
                writer.write_batch(pa.record_batch(columns, schema=schema))
    except OSError as exc:
        raise error_for(exc)(f"{output_path}: cannot be written ({exc.strerror or exc}); "
                         "nothing was written") from None
    return len(ids)


def _names(pa, kw, table, chunk):
    """A chunk of image ids' entries of a names (or splits) table as an Arrow string array,
    decoded by Arrow ("" each without the table)."""
    if table is None:
        return pa.array([""] * len(chunk), pa.string())
    names = np.asarray(table[chunk])
    try:
        return pa.array(list(names), pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:  # a name that is not UTF-8 (a file name, kept as its bytes)
        i = next(i for i, name in enumerate(names.tolist()) if not _is_utf8(name))
        raise InputError(f"{kw.path}: image {int(chunk[i])}'s name {quoted(names[i])} is not "
                         "UTF-8, which a Parquet string column cannot hold; rename the file "
                         "and run again; nothing was written") from None


def _is_utf8(name: bytes) -> bool:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
