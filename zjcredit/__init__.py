"""Credit Zhejiang (信用浙江) sharing service: the ``zjcredit`` command, the roof.

It composes the rooms below it (``base``, ``schemas``, ``readmodel``, ``producers``,
``streams``, ``sink``, ``query``, ``benchmarks``): the command and its sub-commands, the
local Kafka/PostgreSQL stack (``stack/``), ``zjcredit demo`` and its child processes.
Nothing below imports from here.
"""

__version__ = "0.1.0"
