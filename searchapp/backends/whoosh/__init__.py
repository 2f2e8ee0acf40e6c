"""The embedded engine: the archive as a Whoosh index in one folder, no server.

``indexing`` writes the index (incrementally, in worker processes, one commit a run);
``archive`` searches it, with the query tree of ``query`` scored by ``engine`` (BM25F,
term at a time). Only this package imports whoosh.
"""

__all__ = ["WhooshArchive"]


def __getattr__(name: str):
    # The search side is imported when first asked for, not with the package: each
    # indexing worker process imports ``indexing`` alone (a third of its start-up).
    if name == "WhooshArchive":
        from searchapp.backends.whoosh.archive import WhooshArchive

        return WhooshArchive
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
