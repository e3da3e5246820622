"""The PostgreSQL contract, as ``schemas/`` is for Kafka: the read model's shape.

Its migrations (``migrations/``, schema ``credit``), their runner and version check
(``migrate.py``) and the row layout of a profile, a notice and an event (``rows.py``,
pure). The sink writes this shape and the query service reads it. Imports only ``base``.
"""
