"""Tell a damaged index from a sound one, cheaply enough for a health check.

An index can be deleted or damaged under a running server (a disk error, a careless
copy, a truncated file). Whoosh then fails with whatever its reading code meets: an
``OSError``, a ``struct.error``, a pickle error, or a bare ``Exception("Block tag
error ...")``. ``is_index_failure`` tells those from the searching code's own errors by
where they were raised; ``check_index`` reads an index the way searches do, on a sample:
each segment's table of contents, columns and a spread of stored articles, and the
postings of a spread of its words, every block of them.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from pathlib import Path

import whoosh
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.reading import TermNotFound

from searchapp.backends.whoosh.engine import read_segment
from searchapp.backends.whoosh.indexing import open_index

# Words and articles of each segment read by a check, spread evenly over it.
SAMPLED_TERMS = 256
SAMPLED_ARTICLES = 64
# Where the reading code of Whoosh lives: failures raised there are the index's.
WHOOSH_DIR = os.path.dirname(whoosh.__file__) + os.sep
# Errors that only reading a damaged or missing file raises.
READ_ERRORS = (OSError, EOFError, struct.error, zlib.error, pickle.UnpicklingError,
               whoosh_index.IndexError)


def is_index_failure(error: BaseException) -> bool:
    """Tell whether ``error`` came from reading a damaged or missing index."""
    if isinstance(error, TermNotFound):
        return False  # a word that is not there: a question, not damage
    if isinstance(error, READ_ERRORS):
        return True
    traceback = error.__traceback__
    while traceback is not None and traceback.tb_next is not None:
        traceback = traceback.tb_next
    if traceback is None:
        return False
    return traceback.tb_frame.f_code.co_filename.startswith(WHOOSH_DIR)


def index_signature(index_dir: Path) -> tuple:
    """Return the name, size and modification time of every file of the index folder."""
    try:
        with os.scandir(index_dir) as entries:
            return tuple(sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                                for entry in entries if entry.is_file()))
    except OSError:
        return ()


def check_index(index_dir: Path) -> str | None:
    """Return what is wrong with the index in ``index_dir``, or None when it reads well.

    None too when there is no index at all: that is not damage, only nothing yet.
    """
    try:
        ix = open_index(index_dir)
        if ix is None:
            return None
        with ix.reader() as reader:
            for leaf, _ in reader.leaf_readers():
                _check_segment(leaf)
    except Exception as error:  # anything at all: the index cannot be read
        return f"the index in {index_dir} cannot be read ({type(error).__name__}: {error})"
    return None


def _check_segment(reader) -> None:
    """Read one segment as searches do, on a sample; raise whatever reading raises."""
    read_segment(reader)  # the length and date columns, and the deletions
    count = reader.doc_count_all()
    for docnum in range(0, count, max(1, count // SAMPLED_ARTICLES)):
        reader.stored_fields(docnum)
    terms = getattr(reader, "_terms", None)
    if not isinstance(terms, whoosh3.W3TermsReader):
        return
    table = terms._tindex
    total = table.indexlen
    picks = set(range(0, total, max(1, total // SAMPLED_TERMS))) | {total - 1} if total else ()
    for number in sorted(picks):
        position = table._get_pos(table.indexbase + number * table.indexsize)
        key = table.key_and_range_at(position)
        if key is None:
            raise ValueError(f"word {number} of {total} is past the end of the words file")
        field_name, btext = terms._keydecoder(key[0])
        if field_name is None or field_name not in reader.schema:
            raise ValueError(f"word {number} of {total} names no field of the index")
        _read_postings(reader.postings(field_name, btext))


def _read_postings(matcher) -> None:
    """Read and decode every block of one word's postings."""
    matcher = getattr(matcher, "child", matcher)  # below a filter of deleted articles
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        while matcher.is_active():
            matcher.next()
        return
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        matcher._read_values()
        matcher._next_block()
