"""Grouping copies: the quick grouping gives exactly the groups of the plain one it replaced."""

import json
from array import array
from collections.abc import Hashable, Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchapp import duplicates
from searchapp.duplicates import (
    BAND_BINS,
    BIN_BYTES,
    BODY_BINS,
    BODY_BYTES,
    HEADLINE_BINS,
    MAX_DAYS_APART,
    NO_SIGNATURE,
    SIGNATURE_BYTES,
    Group,
    group_copies,
    is_copy,
)

# The reference: group_copies as it was before session 7 (commit f1e6682), every result
# looked up and filed band by band.


def reference_group_copies(items: Iterable[tuple[Hashable, bytes, int | None]]) -> list[Group]:
    groups: list[Group] = []
    bodies: dict = {}
    story_titles: dict = {}
    flash_titles: dict = {}
    for key, sig, day in items:
        home = None
        body_keys = title_keys = ()
        if len(sig) == SIGNATURE_BYTES and any(sig):
            body_keys = _bands(sig, 0, BODY_BYTES)
            title_keys = _bands(sig, BODY_BYTES, len(sig))
            lookups = ((bodies, body_keys), (flash_titles, title_keys)) if body_keys else (
                (story_titles, title_keys), (flash_titles, title_keys))
            met: dict[int, Group] = {}
            for index, keys in lookups:
                for band in index.keys() & keys if index else ():
                    for group in _dated_near(index[band], day):
                        met[group.number] = group
            for number in sorted(met):
                if is_copy(met[number].signature, sig, met[number].day, day):
                    home = met[number]
                    break
        if home is not None:
            home.copies.append(key)
            continue
        group = Group(key, sig, day, len(groups))
        groups.append(group)
        registers = ((bodies, body_keys), (story_titles, title_keys)) if body_keys else (
            (flash_titles, title_keys),)
        for index, keys in registers:
            shared = [(band, index[band]) for band in index.keys() & keys] if index else ()
            index.update(dict.fromkeys(keys, group))
            for band, filed in shared:
                index[band] = _filed_with(filed, group)
    return groups


def _dated_near(filed, day):
    if isinstance(filed, Group):
        near = (filed.day is None if day is None else
                filed.day is not None and abs(filed.day - day) <= MAX_DAYS_APART)
        return (filed,) if near else ()
    days = (None,) if day is None else range(day - MAX_DAYS_APART, day + MAX_DAYS_APART + 1)
    return [group for near in days for group in filed.get(near, ())]


def _filed_with(filed, group):
    if isinstance(filed, Group):
        filed = {filed.day: [filed]}
    filed.setdefault(group.day, []).append(group)
    return filed


_BAND_TYPE = {array(code).itemsize: code for code in "QLIH"}[BAND_BINS * BIN_BYTES]


def _bands(sig, start, end):
    size = BAND_BINS * BIN_BYTES
    values = array(_BAND_TYPE, sig[start:end - (end - start) % size])
    return [value << 8 | number for number, value in enumerate(values, start // size) if value]


# Signatures made of few bin values, so that bands are often shared by articles that are
# not copies; copies planted by changing a few bins of an earlier signature.
BIN = st.sampled_from([0, 0, 1, 2, 3, 0xFFFF])


def _signature(bins: list[int]) -> bytes:
    return array("H", bins).tobytes()


@st.composite
def results(draw) -> list[tuple[int, bytes, int | None]]:
    made: list[bytes] = []
    items = []
    for key in range(draw(st.integers(0, 40))):
        kind = draw(st.sampled_from(["story", "flash", "copy", "copy", "none", "odd"]))
        if kind == "copy" and made:
            bins = list(array("H", draw(st.sampled_from(made))))
            for place in draw(st.lists(st.integers(0, len(bins) - 1), max_size=20)):
                bins[place] = draw(BIN)
            sig = _signature(bins)
        elif kind == "flash":
            sig = bytes(BODY_BYTES) + _signature(draw(st.lists(
                BIN, min_size=HEADLINE_BINS, max_size=HEADLINE_BINS)))
        elif kind == "none":
            sig = NO_SIGNATURE
        elif kind == "odd":  # as a damaged index or another engine might give
            sig = draw(st.binary(max_size=SIGNATURE_BYTES + 4))
        else:
            sig = _signature(draw(st.lists(BIN, min_size=BODY_BINS + HEADLINE_BINS,
                                           max_size=BODY_BINS + HEADLINE_BINS)))
        made.append(sig) if len(sig) == SIGNATURE_BYTES else None
        # Undated, or days a day apart and further.
        day = draw(st.one_of(st.none(), st.integers(730_000, 730_004)))
        items.append((draw(st.sampled_from([key, key, 0])), sig, day))
    return items


def _shape(groups: list[Group]) -> list[tuple]:
    return [(g.first, g.signature, g.day, g.number, g.copies) for g in groups]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(results())
def test_group_copies_gives_the_groups_of_the_plain_grouping(items):
    assert _shape(group_copies(iter(items))) == _shape(reference_group_copies(items))


@st.composite
def long_results(draw) -> list[tuple[int, bytes, int | None]]:
    """Hundreds of results made from a few signatures: bands shared by many results at
    once, on days near, far apart, and far from day 0."""
    made = draw(st.lists(st.lists(BIN, min_size=BODY_BINS + HEADLINE_BINS,
                                  max_size=BODY_BINS + HEADLINE_BINS), min_size=1, max_size=6))
    made += [[0] * BODY_BINS + bins[BODY_BINS:] for bins in made]  # their flashes
    days = draw(st.lists(st.one_of(st.none(), st.integers(1, 4), st.integers(3_652_000, 3_652_059)),
                         min_size=1, max_size=5))
    items = []
    for key in range(draw(st.integers(50, 300))):
        bins = list(draw(st.sampled_from(made)))
        for place in draw(st.lists(st.integers(0, len(bins) - 1), max_size=12)):
            bins[place] = draw(BIN)
        items.append((key, _signature(bins), draw(st.sampled_from(days))))
    return items


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(long_results(), st.booleans())
def test_group_copies_gives_the_groups_of_the_plain_grouping_for_long_lists(items, packed):
    with pytest.MonkeyPatch.context() as patch:
        if not packed:  # as if bands and their places did not fit in one number
            patch.setattr(duplicates, "_BAND_BITS", 64)
        assert _shape(group_copies(items)) == _shape(reference_group_copies(items))


def test_group_copies_folds_planted_copies_flashes_and_reruns_a_day_apart():
    story = _signature([1, 2, 3, 0xFFFF] * 8 + [0, 1, 2, 3] * 4)
    rerun = _signature([1, 2, 3, 0xFFFF] * 7 + [9, 9, 9, 9] + [0, 1, 2, 3] * 4)
    flash = bytes(BODY_BYTES) + story[BODY_BYTES:]
    items = [("story", story, 10), ("other", _signature([7] * 48), 10), ("rerun", rerun, 11),
             ("flash", flash, 10), ("late", story, 12), ("undated", story, None),
             ("undated copy", rerun, None)]
    groups = group_copies(items)
    assert _shape(groups) == _shape(reference_group_copies(items))
    assert [(g.first, g.copies) for g in groups] == [
        ("story", ["rerun", "flash"]), ("other", []), ("late", []),
        ("undated", ["undated copy"])]


@pytest.mark.whoosh_only  # how the Whoosh archive reads its signature column
@pytest.mark.parametrize("kept_bytes", [0, 2**21])  # read one by one, or kept in memory
def test_signatures_and_days_read_for_folding_are_those_whoosh_stores(tmp_path, monkeypatch,
                                                                      kept_bytes):
    from searchapp.backends.whoosh import WhooshArchive
    from searchapp.backends.whoosh import archive as whoosh_archive
    from searchapp.backends.whoosh.archive import _column_file, _day, _signed
    from searchapp.backends.whoosh.engine import UNDATED_KEY
    from searchapp.backends.whoosh.indexing import update_index

    records = [{"id": f"a{n}", "headline": f"Story number {n} about grain prices today",
                "body": f"Wheat {n} " + "grain traders said prices rose on demand " * 5,
                **({"date": f"1987-03-{n % 28 + 1:02}"} if n % 3 else {})}
               for n in range(40)]
    for part in range(2):  # two commits: two segments
        (tmp_path / f"wire{part}.jsonl").write_text(
            "\n".join(json.dumps(r) for r in records[part * 20:][:20]), encoding="utf-8")
        update_index([tmp_path / f"wire{n}.jsonl" for n in range(part + 1)],
                     tmp_path / "index")
    monkeypatch.setattr(whoosh_archive, "MAX_KEPT_SIGNATURE_BYTES", kept_bytes)
    archive = WhooshArchive(tmp_path / "index")
    searcher = archive._searcher()
    leaves = archive._leaves(searcher)
    assert searcher.doc_count() == 40 and len(leaves) == 2, len(leaves)
    docnums = list(range(39, -1, -3)) + [0, 0]
    signed = _signed(leaves, docnums)
    assert [docnum for docnum, _, _ in signed] == docnums
    for docnum, sig, day in signed:
        leaf = next(leaf for leaf in reversed(leaves) if leaf.offset <= docnum)
        reader = leaf.searcher.reader()
        column = reader.column_reader("signature", translate=False)
        assert _column_file(column) is not None  # read from the file, not through Whoosh
        assert sig == column[docnum - leaf.offset] and len(sig) == SIGNATURE_BYTES
        key = leaf.segment.dates[docnum - leaf.offset]
        assert day == (_day(key).toordinal() if key < UNDATED_KEY else None)
    assert sum(day is None for _, _, day in signed) > 0
    assert all((leaf.segment.signatures is not None) == bool(kept_bytes) for leaf in leaves)
