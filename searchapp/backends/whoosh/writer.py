"""A segment writer made for articles: the same index files as Whoosh's, written faster.

Whoosh's ``SegmentWriter`` analyses each field through a chain of generators that makes
a token object per word, puts every posting into a pool as a tuple, sorts the pool (on
disk, pickled, once it outgrows its memory), and adds a posting to the spelling field
for every distinct word of every article. Profiled on Reuters-21578 (BENCHMARKS.md,
Speed, "Session 5"), that was most of the time to index.

``ArticleWriter`` writes the same segments from the same documents:

- one pass per text field to find its words (Whoosh's tokenizer pattern, or string
  methods finding the same words in ASCII text), each distinct word analysed once per
  writer (lower case, its stop words, Porter2, accent folding, and its position
  numbering), so every term and position is what the schema's analyzer gives
  (``tests/test_writer.py`` checks that on real text);
- a text field keeps, as articles come, only a number per word (which word it is, or
  that it is not indexed) in one array; writing the segment groups them by word and
  article with NumPy's sorts and sums, where a Python loop did it per article and word;
- the spelling field (the body's unstemmed words, for corrections and completions) gets
  one posting per word and segment whose weight is the number of articles with the
  word, where Whoosh adds one posting of weight 1 per article: ``reader.frequency`` is
  the same number either way.

Anything else (merging older segments into this one, a document with boosts, memory
running short) goes through Whoosh's own pool as before.
"""

from __future__ import annotations

import functools
import re
import struct
import zlib
from array import array
from collections import Counter
from hashlib import md5
from itertools import accumulate
from pickle import dumps

import numpy as np
from whoosh.analysis import IDTokenizer
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3TermInfo
from whoosh.fields import FieldType
from whoosh.filedb.filetables import md5_hash
from whoosh.formats import Existence, Positions
from whoosh.system import pack_int, pack_long, pack_uint, pack_ushort
from whoosh.util.numeric import _length_byte_cache, byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from searchapp.backends.whoosh.analysis import ANALYZER, term_and_spelling

# Whoosh's default tokenizer pattern (analysis.tokenizers.default_pattern), with its
# group made non-capturing so that findall returns whole matches: the same words.
WORD_PATTERN = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)
# In ASCII text the pattern's words are runs of letters, digits and "_" joined by single
# dots: every other character, then every dot not between two of those, becomes a space.
_NOT_WORD_OR_DOT = str.maketrans({chr(code): " " for code in range(128)
                                  if not (chr(code).isalnum() or chr(code) in "_.")})
# Rough memory a word of a text field costs: 4 bytes held while articles are added,
# the rest while the segment is written (NumPy's arrays and each posting's value).
POSTING_BYTES = 40
# And a posting of any other field (its article, weight and the value's slot), and a
# word's three lists. Measured: 250,000 headlines, 4,598,288 postings of 323,787 words,
# grew a process by 248 MB (these give 281).
TERM_POSTING_BYTES = 40
WORD_BYTES = 300
# Once postings have gone to Whoosh's pool, it keeps this share of the memory allowed and
# this writer the rest, so that both together stay within the limit.
POOL_SHARE = 0.75
# Each distinct word is analysed once per writer; past this many, start again.
MAX_CACHED_WORDS = 300_000
# A word not indexed (a stop word, a single letter).
NOT_INDEXED = -1


def split_words(text: str) -> list[str]:
    """Return the words ``WORD_PATTERN`` finds in ``text``: for ASCII text (most), by
    ``str.translate`` and ``str.split``, in half the time of the regular expression."""
    if not text.isascii():
        return WORD_PATTERN.findall(text)
    text = text.translate(_NOT_WORD_OR_DOT)
    if "." in text:
        # No two dots are left next to each other, then none beside a space.
        text = f" {text} ".replace("..", "  ").replace(". ", "  ").replace(" .", "  ")
    return text.split()


def terms_of(field, value) -> list[tuple[bytes, int, float, bytes]]:
    """Return a field's terms of a value (each with its frequency, weight and value bytes)
    as ``field.index`` gives them: an ID field's one term without Whoosh's token and
    generators, made anew for every article's id."""
    if (type(field).index is FieldType.index and type(field.analyzer) is IDTokenizer
            and type(field.format) is Existence and isinstance(value, str)):
        return [(value.encode("utf-8"), 1, field.format.field_boost, b"")]
    return list(field.index(value))


class _TextWords:
    """A text field's words as articles come: each word's form (its number in the
    writer's table of forms, or ``NOT_INDEXED``), and each article's number and the
    end of its words."""

    __slots__ = ("forms", "docnums", "ends", "spelling")

    def __init__(self, spelling: str | None) -> None:
        self.forms = array("i")
        self.docnums = array("i")
        self.ends = array("q")
        self.spelling = spelling  # the field's spelling field, if it has one


class _Forms(dict):
    """Each word met, as found -> its form's number; a word met for the first time is
    analysed by ``new_form`` when it is looked up (past ``MAX_CACHED_WORDS``, the words
    are forgotten and analysed again as they come)."""

    __slots__ = ("new_form",)

    def __init__(self, new_form) -> None:
        super().__init__()
        self.new_form = new_form

    def __missing__(self, word: str) -> int:
        if len(self) >= MAX_CACHED_WORDS:
            self.clear()
        form = self[word] = self.new_form(word)
        return form


class ArticleWriter(SegmentWriter):
    """A ``SegmentWriter`` that indexes articles' text fields without Whoosh's pool."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        # field name -> word bytes -> (articles, weights, values), in article order
        self._postings: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        # text field name -> its words as they came (``_TextWords``)
        self._texts: dict[str, _TextWords] = {}
        # Each word met, as found -> its form; a form's term and spelling word by number.
        self._forms = _Forms(self._new_form)
        self._form_terms, self._form_spellings = array("i"), array("i")
        self._term_numbers: dict[bytes, int] = {}
        self._terms: list[bytes] = []
        self._spelling_numbers: dict[str, int] = {}
        self._spellings: list[str] = []
        # field name -> each article's length in the field, as the lengths column keeps it
        self._lengths: dict[str, array] = {}
        self._spelling: dict[str, Counter] = {}
        self._last_terms: dict[str, tuple] = {}
        self._last_column_values: dict[str, tuple] = {}
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
                perdoc.add_column_value(name, field.column_type,
                                        self._column_value(name, field, value))
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1
        if self._held > self._limit:
            self._pour_into_pool()

    def _column_value(self, name: str, field, value):
        """Return a field's column value; a field's last one is made once (many articles
        share a date, and Whoosh makes a date's value in a dozen calls)."""
        last = self._last_column_values.get(name)
        if last is None or last[0] != value:
            last = self._last_column_values[name] = (value, field.to_column_value(value))
        return last[1]

    def _add_text(self, name: str, field, value: str, docnum: int) -> int:
        """Keep a text field's words for the segment; return the field's length."""
        # Looked up in C over all the words, in one pass: only words new to this writer
        # are analysed (``_Forms.__missing__``).
        found = list(map(self._forms.__getitem__, split_words(value)))
        length = len(found) - found.count(NOT_INDEXED)
        if not length:
            return 0
        held = self._texts.get(name)
        if held is None:
            spelling = field.spelling_fieldname(name) if field.separate_spelling() else None
            held = self._texts[name] = _TextWords(spelling)
        held.forms.extend(found)
        held.docnums.append(docnum)
        held.ends.append(len(held.forms))
        self._held += POSTING_BYTES * len(found)
        self._set_length(name, docnum, length)
        return length

    def _new_form(self, word: str) -> int:
        """Analyse a word met for the first time; return its form's number."""
        analysed = term_and_spelling(word)
        if not analysed:
            return NOT_INDEXED
        term, spelling = analysed
        term_number = self._term_numbers.get(term)
        if term_number is None:
            term_number = self._term_numbers[term] = len(self._terms)
            self._terms.append(term)
        spelling_number = self._spelling_numbers.get(spelling)
        if spelling_number is None:
            spelling_number = self._spelling_numbers[spelling] = len(self._spellings)
            self._spellings.append(spelling)
        self._form_terms.append(term_number)
        self._form_spellings.append(spelling_number)
        return len(self._form_terms) - 1

    def _add_terms(self, name: str, field, value, docnum: int) -> int:
        """Index any other field's terms as the field itself gives them."""
        # Articles of one file share its name, and many share a date: a field's last
        # value is analysed once.
        last = self._last_terms.get(name)
        if last is None or last[0] != value:
            last = self._last_terms[name] = (value, terms_of(field, value))
        postings = self._postings.setdefault(name, {})
        length = 0
        for term, frequency, weight, value_bytes in last[1]:
            held = postings.get(term) or self._new_word(postings, term)
            held[0].append(docnum)
            held[1].append(weight)
            held[2].append(value_bytes)
            length += frequency
        self._held += TERM_POSTING_BYTES * len(last[1])
        if field.separate_spelling():
            self._add_spelling(field.spelling_fieldname(name), field.spellable_words(value))
        if not field.scorable:
            return 0
        self._set_length(name, docnum, length)
        return length

    def _add_spelling(self, name: str, words) -> None:
        """Count articles' distinct unstemmed words for a spelling field."""
        self._spelling.setdefault(name, Counter()).update(words)

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

    def _grouped_texts(self) -> dict[str, _Postings]:
        """Group each text field's words into postings, and count the spelling words."""
        form_terms = np.frombuffer(self._form_terms, dtype=np.int32)
        form_spellings = np.frombuffer(self._form_spellings, dtype=np.int32)
        grouped = {}
        for name, words in self._texts.items():
            grouped[name] = _group_words(words, form_terms, self._terms)
            if words.spelling:
                self._add_spelling(words.spelling, _spelling_counts(
                    words, form_spellings, self._spellings))
        self._texts = {}
        return grouped

    def _pour_into_pool(self) -> None:
        """Hand every posting held here to Whoosh's pool (which spills to disk)."""
        if self._limit == self.pool.limit:  # the first time: share the memory allowed
            self.pool.limit = int(self._limit * POOL_SHARE)
            self._limit -= self.pool.limit
        add = self.pool.add
        for name, grouped in self._grouped_texts().items():
            starts = [*grouped.term_starts.tolist(), len(grouped.docnums)]
            docnums, weights = grouped.docnums.tolist(), grouped.weights.tolist()
            for number, term in enumerate(grouped.terms):
                for index in range(starts[number], starts[number + 1]):
                    add((name, term, docnums[index], weights[index], grouped.values[index]))
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
        grouped = self._grouped_texts()
        every = {**self._postings, **grouped, **self._spelling}
        for name in sorted(every):
            writer.start_field(name, self.schema[name])
            prefix = pack_ushort(writer._fieldid)
            if name in self._spelling:
                entries = [(prefix + word.encode("utf-8"), _inline_term_info(count))
                           for word, count in sorted(self._spelling[name].items())]
            else:
                postings = grouped.get(name) or _Postings.of_terms(self._postings[name])
                entries = _write_postings(writer, prefix, postings, self._lengths.get(name),
                                          self.schema[name].format.fixed_value_size())
            _add_to_words_file(writer._tindex, entries)
            writer.finish_field()
        writer._tindex._write_hashes = functools.partial(_write_hash_tables, writer._tindex)
        writer.close()
        self._postings, self._spelling, self._held = {}, {}, 0


class _Postings:
    """A field's postings in word order, then article order: each word's first posting
    (``term_starts``), and each posting's article, weight and value."""

    __slots__ = ("terms", "term_starts", "docnums", "weights", "values")

    def __init__(self, terms: list[bytes], term_starts: np.ndarray, docnums: np.ndarray,
                 weights: np.ndarray, values: list[bytes]) -> None:
        self.terms, self.term_starts = terms, term_starts
        self.docnums, self.weights, self.values = docnums, weights, values

    @classmethod
    def of_terms(cls, postings: dict[bytes, tuple[array, array, list]]) -> _Postings:
        """Return the postings of a field indexed term by term (``_add_terms``)."""
        terms = sorted(postings)
        starts, docnums, weights, values = [], array("I"), array("f"), []
        for term in terms:
            held = postings[term]
            starts.append(len(docnums))
            docnums += held[0]
            weights += held[1]
            values += held[2]
        return cls(terms, np.array(starts, dtype=np.int64),
                   np.frombuffer(docnums, dtype=np.uint32).astype(np.int64),
                   np.frombuffer(weights, dtype=np.float32).astype(np.float64), values)


def _kept_words(words: _TextWords) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the forms of a text field's indexed words, the number (in ``words``) of
    the article each is in, and each one's place among all its article's words."""
    forms = np.frombuffer(words.forms, dtype=np.int32)
    ends = np.frombuffer(words.ends, dtype=np.int64)
    sizes = np.diff(ends, prepend=0)
    kept = np.flatnonzero(forms != NOT_INDEXED)
    articles = np.repeat(np.arange(len(ends)), sizes)[kept]
    places = kept - (ends - sizes)[articles]
    return forms[kept], articles, places


def _group_words(words: _TextWords, form_terms: np.ndarray, terms: list[bytes]) -> _Postings:
    """Return a text field's postings, with the positions Whoosh's analyzer gives."""
    forms, articles, places = _kept_words(words)
    # Whoosh numbers the first word kept by its place among all the article's words,
    # and each word kept after it with the next number. Every article here has one.
    firsts = np.flatnonzero(np.diff(articles, prepend=-1))
    counts = np.diff(firsts, append=len(forms))
    positions = np.arange(len(forms)) + np.repeat(places[firsts] - firsts, counts)
    term_numbers = form_terms[forms]
    docnums = np.frombuffer(words.docnums, dtype=np.int32)[articles]
    # The field's words in byte order; a stable sort keeps articles and positions in order.
    present = np.flatnonzero(np.bincount(term_numbers, minlength=len(terms)))
    keys = [terms[number] for number in present.tolist()]
    by_bytes = sorted(range(len(keys)), key=keys.__getitem__)
    ranks = np.empty(len(terms), dtype=np.int32)
    ranks[present[by_bytes]] = np.arange(len(by_bytes), dtype=np.int32)
    ranks = ranks[term_numbers]
    order = np.argsort(ranks, kind="stable")
    ranks, docnums, positions = ranks[order], docnums[order], positions[order]
    # A posting is a word in an article: its positions, as the gaps between them.
    starts = np.flatnonzero(np.diff(ranks, prepend=-1) | np.diff(docnums, prepend=-1))
    counts = np.diff(starts, append=len(ranks))
    term_starts = np.flatnonzero(np.diff(ranks[starts], prepend=-1))
    values = _position_values(positions, starts, counts)
    return _Postings([keys[number] for number in by_bytes], term_starts,
                     docnums[starts].astype(np.int64), counts.astype(np.float64), values)


def _spelling_counts(words: _TextWords, form_spellings: np.ndarray,
                     spellings: list[str]) -> dict[str, int]:
    """Return each spelling word of a text field with the number of articles it is in."""
    forms, articles, _ = _kept_words(words)
    width = len(spellings)
    # Each spelling word once an article: a sort, as NumPy's unique of integers (a
    # hash table) took ten times as long.
    pairs = np.sort(articles.astype(np.int64) * width + form_spellings[forms])
    pairs = pairs[np.diff(pairs, prepend=-1) != 0]
    counts = np.bincount(pairs % width, minlength=width)
    present = np.flatnonzero(counts)
    return dict(zip([spellings[number] for number in present.tolist()],
                    counts[present].tolist(), strict=True))


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
# Postings whose articles, gaps and weights are made Python numbers at a time.
POSTINGS_AT_ONCE = 2**16
# The pickle protocol of a block's articles, weights and values. Whoosh writes protocol 2,
# which pickles each value (bytes) as a call to codecs.encode with a string; its reader
# loads any protocol, and protocol 3 keeps bytes as they are: a third smaller before
# compression, and a third of the time to pickle (BENCHMARKS.md, "Session 7: indexing").
BLOCK_PROTOCOL = 3


# Most spelling words are in few articles: an entry is made once for each count.
@functools.lru_cache(maxsize=4096)
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


def _write_postings(fieldwriter, prefix: bytes, postings: _Postings, lengths: array | None,
                    fixed_size: int | None) -> list[tuple[bytes, bytes]]:
    """Write a field's words' postings, in word order, as Whoosh's ``W3PostingsWriter``
    does a posting at a time; return each word's key and entry for the words file.

    Each word's postings are cut into blocks of the codec's size. A block keeps its
    articles (as gaps), weights and values, and an info: its count, last article, top
    weight, whether it is compressed, and its shortest and longest length codes. A
    word's entry keeps its total weight, articles, shortest and longest length codes,
    top weight, first and last article. ``lengths`` gives each article's length in the
    field (None: the field keeps none); ``fixed_size`` is the field format's value size
    (None: values vary; 0: there are none).
    """
    postfile = fieldwriter._postfile
    size, compression = fieldwriter._codec._blocklimit, fieldwriter._codec._compression
    docnums, weights = postings.docnums, postings.weights
    total = len(docnums)
    term_counts = np.diff(postings.term_starts, append=total)
    block_counts = (term_counts + size - 1) // size
    first_blocks = np.cumsum(block_counts) - block_counts
    block_terms = np.repeat(np.arange(len(term_counts)), block_counts)
    block_starts = (postings.term_starts[block_terms]
                    + (np.arange(len(block_terms)) - first_blocks[block_terms]) * size)
    block_ends = np.append(block_starts[1:], total)
    block_tops = np.maximum.reduceat(weights, block_starts)
    block_lows = np.minimum.reduceat(weights, block_starts)
    # 0: every weight is 1 (kept as None); 1: all are the same (kept once); 2: they vary
    weight_kinds = np.where(block_lows == block_tops, np.where(block_tops == 1.0, 0, 1), 2)
    term_totals = np.add.reduceat(np.add.reduceat(weights, block_starts), first_blocks)
    term_tops = np.maximum.reduceat(block_tops, first_blocks)
    if lengths is None:
        block_shortest = block_longest = np.zeros(len(block_starts), dtype=np.int64)
        term_shortest = term_longest = np.zeros(len(term_counts), dtype=np.int64)
    else:
        known = np.zeros(int(docnums.max()) + 1, dtype=np.int64)
        stored = np.frombuffer(lengths, dtype=np.uint32)[:len(known)]
        known[:len(stored)] = stored
        found = known[docnums]
        # Articles without the field (length 0) are left out; a block with none has
        # no shortest length (its code is 0, as for None).
        shortest = np.minimum.reduceat(np.where(found > 0, found, _NO_LENGTH), block_starts)
        longest = np.maximum.reduceat(found, block_starts)
        block_shortest, block_longest = _length_codes(shortest), _length_codes(longest)
        term_shortest = _length_codes(np.minimum.reduceat(shortest, first_blocks))
        term_longest = _length_codes(np.maximum.reduceat(longest, first_blocks))
    all_gaps = np.diff(docnums, prepend=0)
    all_gaps[block_starts] = docnums[block_starts]
    values = postings.values
    every_value = all(values)
    blocks = zip(block_starts.tolist(), block_ends.tolist(), block_tops.tolist(),
                 weight_kinds.tolist(), block_shortest.tolist(), block_longest.tolist(),
                 strict=True)
    offset = postfile.tell()
    pending: list[bytes] = []
    pending_bytes = 0
    entries = []
    base = loaded_end = 0
    for term, first, count, blocks_here, term_total, top, shortest, longest in zip(
            postings.terms, postings.term_starts.tolist(), term_counts.tolist(),
            block_counts.tolist(), term_totals.tolist(), term_tops.tolist(),
            term_shortest.tolist(), term_longest.tolist(), strict=True):
        if first + count > loaded_end:
            # Python's numbers for the next postings only: for all of them at once, a
            # million headlines' worth took hundreds of megabytes.
            base, loaded_end = first, first + max(count, POSTINGS_AT_ONCE)
            gaps = all_gaps[base:loaded_end].tolist()
            docnum_list = docnums[base:loaded_end].tolist()
            weight_list = weights[base:loaded_end].tolist()
        parts = [WHOOSH3_HEADER_MAGIC]
        for left in range(blocks_here - 1, -1, -1):
            start, end, block_top, kind, block_short, block_long = next(blocks)
            if kind == 0:
                mini_weights = None
            elif kind == 1:
                mini_weights = weight_list[start - base]
            else:
                mini_weights = tuple(weight_list[start - base:end - base])
            if fixed_size is None:
                # Whoosh keeps a block's values that are not empty: text fields have none.
                mini_values = tuple(values[start:end] if every_value
                                    else filter(None, values[start:end]))
            else:
                mini_values = None if fixed_size == 0 else b"".join(values[start:end])
            data = dumps((tuple(gaps[start - base:end - base]), mini_weights, mini_values),
                         BLOCK_PROTOCOL)
            packed = compression if len(data) >= MIN_COMPRESSED_BYTES else 0
            if packed:
                data = zlib.compress(data, packed)
            info = dumps((end - start, docnum_list[end - 1 - base],
                          block_top if block_top > 0 else 0, packed, block_short, block_long), 2)
            # The last block's length is stored negative.
            parts += (pack_int((len(info) + len(data)) * (-1 if not left else 1)), info, data)
        data = b"".join(parts)
        pending.append(data)
        pending_bytes += len(data)
        entries.append((prefix + term, _TERM_INFO.pack(
            0, term_total, count, shortest, longest, top if top > 0 else 0,
            docnum_list[first - base], docnum_list[first + count - 1 - base])
            + pack_long(offset) + pack_int(len(data))))
        offset += len(data)
        if pending_bytes >= WRITE_BYTES:
            postfile.write(b"".join(pending))
            pending, pending_bytes = [], 0
    postfile.write(b"".join(pending))
    return entries


# Longer than any length: what a block without lengths has as its shortest.
_NO_LENGTH = 2**40
# The lengths Whoosh's one-byte codes stand for, in order; from this one on, code 255.
_CODED_LENGTHS = np.array(_length_byte_cache, dtype=np.int64)
_LONGEST_CODED = 106374


def _length_codes(found: np.ndarray) -> np.ndarray:
    """Return ``length_to_byte`` of each length, 0 for ``_NO_LENGTH`` (None)."""
    codes = np.searchsorted(_CODED_LENGTHS, found)
    codes[found >= _LONGEST_CODED] = 255
    codes[found == _NO_LENGTH] = 0
    return codes


def _add_to_words_file(tindex, entries: list[tuple[bytes, bytes]]) -> None:
    """Add words' keys and entries to the words file in one write, as Whoosh's
    ``OrderedHashWriter.add`` does one at a time (the same bytes, the same hash table)."""
    if not entries:
        return
    if entries[0][0] <= tindex.lastkey:
        raise ValueError(f"Keys must increase: {tindex.lastkey!r}..{entries[0][0]!r}")
    dbfile, buckets = tindex.dbfile, tindex.buckets
    keys = [key for key, _ in entries]
    records = [_KEY_VALUE_LENGTHS.pack(len(key), len(value)) + key + value
               for key, value in entries]
    positions = list(accumulate(map(len, records[:-1]), initial=dbfile.tell()))
    _extend_positions(tindex.index, positions)
    if tindex.hashfn is md5_hash:  # Whoosh's default, without a call and a hex string a word
        codes = [int.from_bytes(md5(key).digest()[12:], "big") for key in keys]
    else:
        codes = list(map(tindex.hashfn, keys))
    for code, position in zip(codes, positions, strict=True):
        buckets[code & 255].append((code, position))
    dbfile.write(b"".join(records))
    tindex.lastkey = keys[-1]


def _extend_positions(index, positions: list[int]) -> None:
    """Add increasing record positions to a words file's ``GrowableArray`` at once, in
    the array type its ``append`` would have grown to."""
    if not isinstance(index.array, array):
        index.extend(positions)
        return
    try:
        more = array(index.array.typecode, positions)
    except OverflowError:
        index._retype(positions[-1])  # the largest: they increase
        more = array(index.array.typecode, positions)
    index.array.extend(more)


# A slot of a words-file hash table: the key's hash and its record's place (Whoosh's
# HashWriter's; both 0 for an empty slot, as no record starts at 0).
_SLOT = struct.Struct("!Iq")


def _write_hash_tables(tindex) -> None:
    """Write the words file's 256 hash tables, as Whoosh's ``HashWriter._write_hashes``
    does with a write a slot: the same bytes, a table at a time."""
    dbfile = tindex.dbfile
    for entries in tindex.buckets:
        slots = 2 * len(entries)
        tindex.directory.append((dbfile.tell(), slots))
        codes, positions = [0] * slots, [0] * slots
        for code, position in entries:
            slot = (code >> 8) % slots
            while positions[slot]:  # taken: the next free slot
                slot = (slot + 1) % slots
            codes[slot], positions[slot] = code, position
        dbfile.write(b"".join(map(_SLOT.pack, codes, positions)))


def _single_position(position: int) -> bytes:
    return pack_uint(1) + dumps([position], 2)


# The value of a one-position posting, by position, made once: one object for all the
# postings with it, so that a block's pickle refers to it after its first time.
_SINGLES = [_single_position(position) for position in range(4096)]



# What ``pickle.dumps(a_list, 2)`` writes for a list of 2 to 1,000 small numbers: its
# start (the protocol, an empty list kept in the memo, a mark), each number by its size
# (BININT1, BININT2, BININT), and its end (APPENDS, STOP). Longer lists get more marks.
_PICKLED_LIST_START = b"\x80\x02]q\x00("
_PICKLED_LIST_END = b"e."
_BININT1, _BININT2, _BININT = 0x4B, 0x4D, 0x4A
_PICKLE_BATCH = 1000


def _position_values(positions: np.ndarray, starts: np.ndarray,
                     counts: np.ndarray) -> list[bytes]:
    """Return each posting's value as Whoosh's ``Positions`` format encodes it: the count
    of positions (``pack_uint``), then the list of gaps between them, the first from 0,
    pickled with protocol 2. Postings with several positions are written with NumPy a
    few thousand at a time, not by a call to ``pickle.dumps`` each: the same bytes."""
    firsts = positions[starts]
    # Looked up in C, then the few first positions past the table's made one by one.
    values = list(map(_SINGLES.__getitem__, np.minimum(firsts, len(_SINGLES) - 1).tolist()))
    for index in np.flatnonzero(firsts >= len(_SINGLES)).tolist():
        values[index] = _single_position(int(firsts[index]))
    several = np.flatnonzero(counts > 1)
    if not len(several):
        return values
    gaps = np.diff(positions, prepend=0)
    gaps[starts] = positions[starts]
    for first in range(0, len(several), POSTINGS_AT_ONCE):
        chosen = several[first:first + POSTINGS_AT_ONCE]
        made = _pickled_gaps(gaps, starts[chosen], counts[chosen])
        for index, value in zip(chosen.tolist(), made, strict=True):
            values[index] = value
    return values


def _pickled_gaps(gaps: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> list[bytes]:
    """Return ``pack_uint(count) + dumps(its gaps, 2)`` for postings of several positions."""
    firsts = np.cumsum(counts) - counts  # each posting's first gap among those taken
    mine = gaps[np.arange(int(counts.sum())) + np.repeat(starts - firsts, counts)]
    sizes = np.where(mine < 256, 2, np.where(mine < 65536, 3, 5))
    head = 4 + len(_PICKLED_LIST_START)
    lengths = head + np.add.reduceat(sizes, firsts) + len(_PICKLED_LIST_END)
    ends = np.cumsum(lengths)
    begins = ends - lengths
    out = np.zeros(int(ends[-1]), dtype=np.uint8)
    for place, shift in enumerate((24, 16, 8, 0)):
        out[begins + place] = counts >> shift & 255
    for place, byte in enumerate(_PICKLED_LIST_START, start=4):
        out[begins + place] = byte
    for place, byte in enumerate(_PICKLED_LIST_END, start=-len(_PICKLED_LIST_END)):
        out[ends + place] = byte
    # Each number's place: its value's start and head, then the numbers before it.
    item_ends = np.cumsum(sizes)
    item_starts = item_ends - sizes
    item_starts += np.repeat(begins + head - item_starts[firsts], counts)
    out[item_starts] = np.where(sizes == 2, _BININT1, np.where(sizes == 3, _BININT2, _BININT))
    for shift, wide in ((0, 0), (8, 2), (16, 3), (24, 3)):
        chosen = np.flatnonzero(sizes > wide) if wide else slice(None)
        out[item_starts[chosen] + 1 + shift // 8] = mine[chosen] >> shift & 255
    data = out.tobytes()
    values = [data[begin:end] for begin, end in zip(begins.tolist(), ends.tolist(), strict=True)]
    # A word more than a thousand times in an article: pickle's own batches of marks.
    for index in np.flatnonzero(counts > _PICKLE_BATCH).tolist():
        first, count = int(firsts[index]), int(counts[index])
        values[index] = pack_uint(count) + dumps(mine[first:first + count].tolist(), 2)
    return values


# Lengths as the one-byte lengths column gives them back, for the common lengths: the
# coded length at or above each (``length_to_byte``'s bisection), made with NumPy as a
# loop of 65,536 calls took 0.06 s of every process's start-up.
_STORED_LENGTH = array("I", _CODED_LENGTHS[np.searchsorted(_CODED_LENGTHS, np.arange(65536))]
                       .astype(np.uint32).tobytes())
