"""The worker process, as the project's top level names it: ``python worker.py --help``.

Everything it runs lives in :mod:`pathway.workers` (also ``pathway worker``); the package never
imports this script.
"""

from pathway.workers import run_as_script

if __name__ == "__main__":
    run_as_script()
