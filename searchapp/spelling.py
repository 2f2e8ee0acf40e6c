"""Which of the article words near a misspelt word a correction offers, whatever the engine.

Each engine finds the words one or two edits away (insertions, deletions, substitutions)
and how many articles have each; this module picks one. Fewer edits win, then the word
more articles have. A word the reader stopped typing counts as one edit away from the words
it begins: "coffee" for "coff" (two letters short, in 221 Reuters-21578 stories), not
"cff" (one letter too many, in 2), which readers were shown before.
"""

from __future__ import annotations

from collections.abc import Iterable


def edits_meant(word: str, candidate: str, edits: int) -> int:
    """Return the edits a candidate counts as: at most one for a word ``word`` begins."""
    return min(edits, 1) if candidate.startswith(word) else edits


def best_correction(word: str, candidates: Iterable[tuple[str, int, int]],
                    min_articles: int = 0) -> str | None:
    """Return the correction of ``word`` among (candidate, edits, articles having it) in
    at least ``min_articles`` articles, or None when there is none: fewest edits meant,
    then most articles, then the first in alphabetical order."""
    ranked = [(edits_meant(word, candidate, edits), -articles, candidate)
              for candidate, edits, articles in candidates
              if candidate != word and articles >= min_articles]
    return min(ranked)[2] if ranked else None
