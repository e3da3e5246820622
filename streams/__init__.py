"""The stream worker: the Faust app and its checkpoint around a pure core (``core/``:
the profile fold, listings, notices, scorecard, credit line; no I/O), the per-partition
state stores, the changelog and the ``zjcredit worker`` command.

Imports ``base`` and ``schemas`` only (the README's layout table).
"""

__all__: list[str] = []
