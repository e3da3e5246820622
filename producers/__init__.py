"""The departments' side: file readers (CSV, JSON Lines; UTF-8, GBK), row parsing and
validation against the contract, encoder processes, the kafka-python publisher,
``zjcredit produce`` and the synthetic province generator.

Imports ``base`` and ``schemas`` only (the README's layout table).
"""

__all__: list[str] = []
