"""The cluster engine: the archive on OpenSearch, for archives that outgrow one machine.

``mapping`` says how articles are analysed and held, ``connection`` reads the cluster's
address, ``indexing`` feeds the cluster from article files (bulk, incremental, an alias
swapped on rebuild) and ``archive`` searches it. Only this package imports opensearch-py.
"""
