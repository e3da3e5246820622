"""The Credit Zhejiang query service: HTTP API, command-line client and web page.
Lands with issue 6; empty until then."""

__all__: list[str] = []
