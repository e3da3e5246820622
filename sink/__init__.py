"""The sink: Kafka's outputs into the PostgreSQL read model, exactly once (the rows and
the partition's offset in one transaction), its dead letters (at most once), the
``zjcredit sink`` and ``zjcredit sink rebuild`` commands.

Imports ``base``, ``schemas`` and ``readmodel`` only (the README's layout table).
"""

__all__: list[str] = []
