"""``python -m pathway.cli``: the same as the ``pathway`` command."""

from pathway.cli import main

main()
