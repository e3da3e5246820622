"""The Credit Zhejiang query service: the HTTP API (``/v1``, the registry paths), its
roles and API keys (schema ``access``), the web page, and the ``zjcredit serve``,
``zjcredit query`` and ``zjcredit keys`` commands.

Imports ``base``, ``schemas`` and ``readmodel`` only (the README's layout table).
"""

__all__: list[str] = []
