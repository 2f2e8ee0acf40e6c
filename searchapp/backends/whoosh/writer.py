"""A segment writer made for articles: the same index files as Whoosh's, written faster.

Whoosh's ``SegmentWriter`` analyses each field through a chain of generators that makes
a token object per word, puts every posting into a pool as a tuple, sorts the pool (on
disk, pickled, once it outgrows its memory), and adds a posting to the spelling field
for every distinct word of every article. Profiled on Reuters-21578 (BENCHMARKS.md,
Speed, "Session 5"), that was most of the time to index.

``ArticleWriter`` writes the same segments from the same documents:

- one regular-expression pass per text field, each distinct word analysed once per
  process (Whoosh's tokenizer pattern, lower case, its stop words, Porter2, accent
  folding, and its position numbering), so every term and position is what the schema's
  analyzer gives (``tests/test_writer.py`` checks that on real text);
- postings kept by field and word as they come, already in article order, so writing
  the segment needs a sort of the words only, not of every posting;
- the spelling field (the body's unstemmed words, for corrections and completions) gets
  one posting per word and segment whose weight is the number of articles with the
  word, where Whoosh adds one posting of weight 1 per article: ``reader.frequency`` is
  the same number either way.

Anything else (merging older segments into this one, a document with boosts, memory
running short) goes through Whoosh's own pool as before.
"""

from __future__ import annotations

import re
import struct
import zlib
from array import array
from collections import Counter
from operator import itemgetter, sub
from pickle import dumps

from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.formats import Positions
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from searchapp.backends.whoosh.analysis import ANALYZER, term_and_spelling

# Whoosh's default tokenizer pattern (analysis.tokenizers.default_pattern), with its
# group made non-capturing so that findall returns whole matches: the same words.
WORD_PATTERN = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)
# Rough memory held here: a posting (its article, weight and the value's slot; a value
# of one position is shared), and a word's three lists. Measured: 12,000 Reuters-21578
# stories, 941,380 postings of 52,254 words, grew a process by 69 MB (these give 53);
# 250,000 headlines, 4,598,288 postings of 323,787 words, by 248 MB (these give 281).
POSTING_BYTES = 40
WORD_BYTES = 300
# Once postings have gone to Whoosh's pool, it keeps this share of the memory allowed and
# this writer the rest, so that both together stay within the limit.
POOL_SHARE = 0.75
# Each distinct word is analysed once per process; past this many, start again.
MAX_CACHED_WORDS = 300_000


class ArticleWriter(SegmentWriter):
    """A ``SegmentWriter`` that indexes articles' text fields without Whoosh's pool."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        # field name -> word bytes -> (articles, weights, values), in article order
        self._postings: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        # field name -> each article's length in the field, as the lengths column keeps it
        self._lengths: dict[str, array] = {}
        self._spelling: dict[str, Counter] = {}
        self._last_terms: dict[str, tuple] = {}
        self._held = 0  # bytes held here, roughly, for the memory limit
        self._limit = self.pool.limit
        # The text fields analysed here; known at the first article (the schema may
        # change until then: a rebuild's, an older index's missing fields).
        self._analysed_here: frozenset[str] | None = None

    def _fields_analysed_here(self) -> frozenset[str]:
        """Return the fields whose analysis ``term_and_spelling`` is: the schema's own
        text fields, not those of an index built with another analyzer."""
        return frozenset(
            name for name, field in self.schema.items()
            if field.indexed and type(field.format) is Positions
            and field.format.field_boost == 1.0 and not field.vector
            and field.analyzer == ANALYZER)

    # -------------------------------------------------------------------- adding

    def add_document(self, **fields) -> None:
        if any(name.startswith("_") for name in fields):
            super().add_document(**fields)  # boosts and custom stored values: Whoosh's way
            return
        self._check_state()
        schema, perdoc, docnum = self.schema, self.perdocwriter, self.docnum
        self._check_fields(schema, fields)
        if self._analysed_here is None:
            self._analysed_here = self._fields_analysed_here()
        analysed_here = self._analysed_here
        perdoc.start_doc(docnum)
        for name in sorted(fields):
            value = fields[name]
            if value is None:
                continue
            field = schema[name]
            length = 0
            if field.indexed:
                if name in analysed_here and isinstance(value, str):
                    length = self._add_text(name, field, value, docnum)
                else:
                    length = self._add_terms(name, field, value, docnum)
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        if self._held > self._limit:
            self._pour_into_pool()

    def _add_text(self, name: str, field, value: str, docnum: int) -> int:
        """Index a text field's words with their positions; return its length."""
        words = WORD_PATTERN.findall(value)
        analysed = _ANALYSED
        # Looked up in C over all the words; only words new to this process are analysed.
        entries = list(map(analysed.get, words))
        if None in entries:
            if len(analysed) > MAX_CACHED_WORDS:
                analysed.clear()
            for word in set(words).difference(analysed):
                analysed[word] = term_and_spelling(word)
            entries = list(map(analysed.__getitem__, words))
        kept = list(filter(None, entries))  # stop words and single letters give ()
        if not kept:
            return 0
        # As Whoosh numbers them: the first word kept has its place among all the words,
        # and each word kept after it the next number.
        positions: dict[bytes, list[int]] = {}
        for position, term in enumerate(map(_first, kept), entries.index(kept[0])):
            if term in positions:
                positions[term].append(position)
            else:
                positions[term] = [position]
        postings = self._postings.setdefault(name, {})
        for term, places in positions.items():
            count = len(places)
            if count == 1:
                value_bytes = _single(places[0])
            else:
                value_bytes = pack_uint(count) + dumps(
                    [places[0], *map(sub, places[1:], places)], 2)
            held = postings.get(term) or self._new_word(postings, term)
            held[0].append(docnum)
            held[1].append(count)
            held[2].append(value_bytes)
        self._held += POSTING_BYTES * len(positions)
        length = len(kept)
        self._set_length(name, docnum, length)
        if field.separate_spelling():
            self._add_spelling(name, field, set(map(_second, kept)))
        return length

    def _add_terms(self, name: str, field, value, docnum: int) -> int:
        """Index any other field's terms as the field itself gives them."""
        # Articles of one file share its name, and many share a date: a field's last
        # value is analysed once.
        last = self._last_terms.get(name)
        if last is None or last[0] != value:
            last = self._last_terms[name] = (value, list(field.index(value)))
        postings = self._postings.setdefault(name, {})
        length = 0
        for term, frequency, weight, value_bytes in last[1]:
            held = postings.get(term) or self._new_word(postings, term)
            held[0].append(docnum)
            held[1].append(weight)
            held[2].append(value_bytes)
            length += frequency
        self._held += POSTING_BYTES * len(last[1])
        if field.separate_spelling():
            self._add_spelling(name, field, field.spellable_words(value))
        if not field.scorable:
            return 0
        self._set_length(name, docnum, length)
        return length

    def _add_spelling(self, name: str, field, words) -> None:
        """Count an article's distinct unstemmed words for the field's spelling words."""
        self._spelling.setdefault(field.spelling_fieldname(name), Counter()).update(words)

    def _new_word(self, postings: dict, term: bytes) -> tuple[array, array, list]:
        """Start a word's postings: its articles, weights and values."""
        held = postings[term] = (array("I"), array("f"), [])
        self._held += WORD_BYTES
        return held

    def _set_length(self, name: str, docnum: int, length: int) -> None:
        lengths = self._lengths.get(name)
        if lengths is None:
            lengths = self._lengths[name] = array("I")
        # Indexed by article number; articles without the field have 0.
        if len(lengths) < docnum:
            lengths.extend([0] * (docnum - len(lengths)))
        # Postings carry the length the lengths column gives back: one byte's worth.
        lengths.append(_STORED_LENGTH[length] if length < len(_STORED_LENGTH)
                       else byte_to_length(length_to_byte(length)))

    # ------------------------------------------------------------------- writing

    def _pour_into_pool(self) -> None:
        """Hand every posting held here to Whoosh's pool (which spills to disk)."""
        if self._limit == self.pool.limit:  # the first time: share the memory allowed
            self.pool.limit = int(self._limit * POOL_SHARE)
            self._limit -= self.pool.limit
        add = self.pool.add
        for name, postings in self._postings.items():
            for term, (docnums, weights, values) in postings.items():
                for docnum, weight, value_bytes in zip(docnums, weights, values, strict=True):
                    add((name, term, docnum, weight, value_bytes))
        for name, counts in self._spelling.items():
            for word, count in counts.items():
                add((name, word.encode("utf-8"), 0, float(count), pack_uint(count)))
        self._postings, self._spelling, self._held = {}, {}, 0

    def _flush_segment(self) -> None:
        if self.pool.current or self.pool.runs:
            # Segments merged into this one, or a spill: Whoosh sorts everything together.
            self._pour_into_pool()
            super()._flush_segment()
            return
        self.perdocwriter.close()
        writer = self.fieldwriter
        every = {**self._postings, **self._spelling}
        for name in sorted(every):
            writer.start_field(name, self.schema[name])
            prefix = pack_ushort(writer._fieldid)
            if name in self._spelling:
                entries = [(prefix + word.encode("utf-8"), _inline_term_info(count))
                           for word, count in sorted(self._spelling[name].items())]
            else:
                entries = _write_postings(writer, prefix, self._postings[name],
                                          self._lengths.get(name),
                                          self.schema[name].format.fixed_value_size())
            _add_to_words_file(writer._tindex, entries)
            writer.finish_field()
        writer.close()
        self._postings, self._spelling, self._held = {}, {}, 0


# A term info's fixed part in the words file (W3TermInfo's layout).
_TERM_INFO = W3TermInfo._struct
# Pickles shorter than this are written uncompressed (the block's info says so, and
# Whoosh's reader decompresses only blocks marked compressed): zlib's header and checksum
# make a small block longer, not shorter, and the call cost as much as the rest of the
# block (BENCHMARKS.md, "Indexing speed (issue 16, session 6)").
MIN_COMPRESSED_BYTES = 64
# A words-file record's key and value lengths (Whoosh's HashWriter's).
_KEY_VALUE_LENGTHS = struct.Struct("!ii")
# Postings bytes gathered before they are written to the file in one call.
WRITE_BYTES = 2**20


def _inline_term_info(count: int) -> bytes:
    """Return the words-file entry of a spelling word with its one posting (article 0,
    weight ``count``) kept in the entry itself, not in a block of the postings file.

    Whoosh 2.7.4 reads such "inlined" postings, but its writer cannot make them (it
    calls ``set_inline`` on a term info whose method is ``set_inlined``). Spelling
    words are half the words of a segment, so a block each was a third of writing it.
    """
    weight = float(count)
    return (_TERM_INFO.pack(1, weight, 1, 0, 0, weight, 0, 0)
            + dumps(((0,), (weight,), (pack_uint(count),)), 2))


def _write_postings(fieldwriter, prefix: bytes, postings: dict, lengths: array | None,
                    fixed_size: int | None) -> list[tuple[bytes, bytes]]:
    """Write a field's words' postings, in word order, as Whoosh's ``W3PostingsWriter``
    does a posting at a time; return each word's key and entry for the words file."""
    postfile = fieldwriter._postfile
    codec = fieldwriter._codec
    size, compression = codec._blocklimit, codec._compression
    offset = postfile.tell()
    pending: list[bytes] = []
    pending_bytes = 0
    entries = []
    for term in sorted(postings):
        data, stats = _term_blocks(postings[term], lengths, fixed_size, size, compression)
        pending.append(data)
        pending_bytes += len(data)
        entries.append((prefix + term, _TERM_INFO.pack(0, *stats) + pack_long(offset)
                        + pack_int(len(data))))
        offset += len(data)
        if pending_bytes >= WRITE_BYTES:
            postfile.write(b"".join(pending))
            pending, pending_bytes = [], 0
    postfile.write(b"".join(pending))
    return entries


def _term_blocks(held: tuple[array, array, list], lengths: array | None,
                 fixed_size: int | None, size: int, compression: int) -> tuple[bytes, tuple]:
    """Return one word's postings as the postings file keeps them, and its statistics
    as the words file does (total weight, articles, shortest and longest length codes,
    top weight, first and last article).

    ``held`` is the articles, weights and values, in article order; ``lengths`` gives each
    article's length in the field (None: the field keeps none); ``fixed_size`` is the
    field format's value size (None: values vary; 0: there are none).
    """
    all_docnums, all_weights, all_values = held
    count = len(all_docnums)
    parts = [WHOOSH3_HEADER_MAGIC]
    total, top_weight, shortest, longest = 0.0, 0, None, 0
    for first in range(0, count, size):
        if count <= size:
            docnums, weights, values = all_docnums, all_weights, all_values
        else:
            docnums = all_docnums[first:first + size]
            weights = all_weights[first:first + size]
            values = all_values[first:first + size]
        block_top = max(max(weights), 0)
        top_weight = max(top_weight, block_top)
        block_shortest = block_longest = None
        if lengths is not None:
            found = [length for length in map(lengths.__getitem__, docnums) if length]
            if found:
                block_shortest, block_longest = min(found), max(found)
                shortest = block_shortest if shortest is None else min(shortest, block_shortest)
                longest = max(longest, block_longest)
        block_total = sum(weights)
        total += block_total
        if weights.count(1.0) == len(weights):
            mini_weights = None
        elif weights.count(weights[0]) == len(weights):
            mini_weights = weights[0]
        else:
            mini_weights = tuple(weights)
        if fixed_size is None:
            mini_values = tuple(filter(None, values))
        else:
            mini_values = None if fixed_size == 0 else b"".join(values)
        deltas = (docnums[0], *map(sub, docnums[1:], docnums))
        data = dumps((deltas, mini_weights, mini_values), 2)
        packed = compression if len(data) >= MIN_COMPRESSED_BYTES else 0
        if packed:
            data = zlib.compress(data, packed)
        info = dumps((len(docnums), docnums[-1], block_top, packed,
                      length_to_byte(block_shortest), length_to_byte(block_longest or 0)), 2)
        # The last block's length is stored negative.
        sign = -1 if first + size >= count else 1
        parts += (pack_int(sign * (len(info) + len(data))), info, data)
    stats = (total, count, length_to_byte(shortest), length_to_byte(longest), top_weight,
             all_docnums[0], all_docnums[-1])
    return b"".join(parts), stats


def _add_to_words_file(tindex, entries: list[tuple[bytes, bytes]]) -> None:
    """Add words' keys and entries to the words file in one write, as Whoosh's
    ``OrderedHashWriter.add`` does one at a time (the same bytes, the same hash table)."""
    if not entries:
        return
    if entries[0][0] <= tindex.lastkey:
        raise ValueError(f"Keys must increase: {tindex.lastkey!r}..{entries[0][0]!r}")
    dbfile, buckets, index = tindex.dbfile, tindex.buckets, tindex.index
    hashfn = tindex.hashfn
    position = dbfile.tell()
    chunks = []
    for key, value in entries:
        index.append(position)
        record = _KEY_VALUE_LENGTHS.pack(len(key), len(value)) + key + value
        chunks.append(record)
        code = hashfn(key)
        buckets[code & 255].append((code, position))
        position += len(record)
    dbfile.write(b"".join(chunks))
    tindex.lastkey = entries[-1][0]


def _single_position(position: int) -> bytes:
    return pack_uint(1) + dumps([position], 2)


# The value of a one-position posting, by position, made once.
_SINGLES = [_single_position(position) for position in range(4096)]


def _single(position: int) -> bytes:
    return _SINGLES[position] if position < 4096 else _single_position(position)


# Lengths as the one-byte lengths column gives them back, for the common lengths.
_STORED_LENGTH = array("I", (byte_to_length(length_to_byte(n)) for n in range(65536)))
_first, _second = itemgetter(0), itemgetter(1)
# Each word met, by its text as found: (term bytes, spelling word), or () to skip it.
_ANALYSED: dict[str, tuple] = {}
