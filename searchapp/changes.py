"""Which article files an indexing run must read, and which indexed files are gone.

Every engine keeps, for each file it indexed, the file's signature (size and modification
time, ``articles.SourceFile``). An update walks the given folders, reads only the files
that are new or whose signature changed, and removes the articles of files gone from
those folders, but never those of a folder it could not walk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from searchapp.articles import Skip, SourceFile, find_files
from searchapp.backends import IndexerError


@dataclass
class Walk:
    """The article files found under the folders of one indexing run."""

    roots: list[Path]
    found: list[SourceFile]


def find_sources(paths: Iterable[Path], report) -> Walk:
    """Walk ``paths`` for article files; note each one that cannot be used in ``report``.

    Links are followed into any of the given folders; each file is found once.

    :raises IndexerError: for a path that does not exist.
    """
    roots = [Path(os.path.abspath(p)) for p in paths]
    for root in roots:
        if not root.exists():
            raise IndexerError(f"no such file or folder: {root}")
    found: list[SourceFile] = []
    inside = [os.path.realpath(root) for root in roots]
    seen: set = set()
    for root in roots:
        for item in find_files(root, inside, seen):
            if isinstance(item, Skip):
                report.skipped.append(item)
            else:
                found.append(item)
    return Walk(roots, found)


def plan_changes(walk: Walk, indexed: dict[str, str], report
                 ) -> tuple[list[SourceFile], set[str]]:
    """Return the files to (re)read and the indexed files that are gone.

    ``indexed`` maps each file the index holds articles of to its signature then;
    ``report.unchanged`` is set to the files that need no reading.
    """
    changed = [f for f in walk.found if indexed.get(f.key) != f.signature]
    keys = {f.key for f in walk.found}
    kept = _keep_unwalked(indexed, report.skipped)
    gone = {path for path in indexed
            if path not in keys and path not in kept and is_under(path, walk.roots)}
    report.unchanged = len(walk.found) - len(changed)
    return changed, gone


def _keep_unwalked(indexed: dict[str, str], skipped: list[Skip]) -> set[str]:
    """Return the indexed files under folders that were not walked; say so in their skips.

    Their articles stay: a folder that cannot be read now, or that became a link to other
    storage, has not lost its articles, and nothing is removed without a word.
    """
    kept: set[str] = set()
    for skip in skipped:
        if skip.folder:
            under = {path for path in indexed if is_under(path, [Path(skip.folder)])}
            if under:
                files = f"{len(under):,} file" + ("s" if len(under) > 1 else "")
                skip.reason += f"; the articles of the {files} indexed from it before are kept"
            kept |= under
    return kept


def is_under(path: str, roots: list[Path]) -> bool:
    """Return True when ``path`` is one of ``roots`` or inside one of them."""
    return any(path == str(root) or path.startswith(str(root) + os.sep) for root in roots)
