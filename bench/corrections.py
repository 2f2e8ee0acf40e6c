"""Words a misspelling may be corrected to: Whoosh's automaton against RapidFuzz.

``python -m bench.corrections --index-dir DIR`` misspells words of the index at random (one
to three letters added, dropped or changed) and finds, for each, the index words one and two
edits away with the same first letter, in two ways: Whoosh 2.7.4's Levenshtein automaton
walked over each segment's sorted words (what searchapp did until session 6), and
``corrections.near_words`` (RapidFuzz's edit distance in C over the slice of words with that
first letter). It prints the CPU time per misspelling of each and how many answers differ.
"""

from __future__ import annotations

import argparse
import bisect
import random
import time
from pathlib import Path

from whoosh.codec.base import Automata

from searchapp.backends.whoosh.corrections import near_words, segment_words
from searchapp.backends.whoosh.indexing import open_index

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def misspell(word: str, rng: random.Random) -> str:
    """Return ``word`` with one to three letters added, dropped or changed."""
    letters = list(word)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(letters))
        change = rng.random()
        if change < 1 / 3:
            letters[at] = rng.choice(LETTERS)
        elif change < 2 / 3 and len(letters) > 2:
            del letters[at]
        else:
            letters.insert(at, rng.choice(LETTERS))
    return "".join(letters)


class _Cursor:
    """A sorted word list walked the way Whoosh's automata walk a words file."""

    def __init__(self, words: list[str]):
        self.words, self.position = words, 0

    def text(self) -> str | None:
        return self.words[self.position] if self.position < len(self.words) else None

    def find(self, word: str) -> None:
        self.position = bisect.bisect_left(self.words, word, lo=self.position)

    def next(self) -> None:
        self.position += 1


def by_automaton(segments: list[list[str]], word: str, edits: int) -> set[str]:
    automaton = Automata.levenshtein_dfa(word, edits, prefix=1)
    found: set[str] = set()
    for words in segments:
        found.update(Automata.find_matches(automaton, _Cursor(words)))
    return found


def by_rapidfuzz(segments: list[list[str]], word: str, edits: int) -> set[str]:
    return {near for words in segments for near, _ in near_words(words, word, edits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--words", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    index = open_index(args.index_dir)
    if index is None:
        parser.error(f"no index in {args.index_dir}")
    with index.searcher() as searcher:
        field_name = searcher.schema["body"].spelling_fieldname("body")
        segments = [segment_words(reader, field_name)
                    for reader, _ in searcher.reader().leaf_readers()]
    rng = random.Random(args.seed)
    pool = sorted({w for words in segments for w in words if len(w) >= 4 and w.isalpha()})
    typos = [misspell(rng.choice(pool), rng) for _ in range(args.words)]
    print(f"{len(typos)} misspellings of words of {args.index_dir} "
          f"({sum(map(len, segments)):,} words in {len(segments)} segments)")
    print("| edits | automaton ms/word | RapidFuzz ms/word | answers that differ |")
    print("|---:|---:|---:|---:|")
    for edits in (1, 2):
        results, seconds = {}, {}
        for name, find in (("automaton", by_automaton), ("rapidfuzz", by_rapidfuzz)):
            started = time.process_time()
            results[name] = [find(segments, typo, edits) for typo in typos]
            seconds[name] = time.process_time() - started
        differ = sum(a != b for a, b in zip(results["automaton"], results["rapidfuzz"],
                                            strict=True))
        print(f"| {edits} | {seconds['automaton'] * 1000 / len(typos):.2f} | "
              f"{seconds['rapidfuzz'] * 1000 / len(typos):.3f} | {differ} |")


if __name__ == "__main__":
    main()
