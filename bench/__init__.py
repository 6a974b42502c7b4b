"""Pathway against bare Temporal in one run (issue 14): ``python -m bench --help``.

Also the older single-purpose scripts ``bench/decide.py`` (the pure domain core) and
``bench/updates.py`` (update latency on one dev server).
"""
