"""Where batch work runs: in this process (local) or on a Ray cluster (ray), with the same results.

Step packages hand the engine a callable class (built once per worker: models load in __init__)
and the rows to map; the engine returns the results batch by batch, in input order. Importing
this package never imports Ray; only running with engine=ray does.
"""
