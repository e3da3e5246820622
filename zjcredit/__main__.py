"""``python -m zjcredit`` is the ``zjcredit`` command."""

from zjcredit.cli import main

main()
