"""The embedded engine: the archive as a Whoosh index in one folder, no server.

``indexing`` writes the index (incrementally, in worker processes, one commit a run);
``archive`` searches it, with the query tree of ``query`` scored by ``engine`` (BM25F,
term at a time). Only this package imports whoosh.
"""

from searchapp.backends.whoosh.archive import WhooshArchive

__all__ = ["WhooshArchive"]
