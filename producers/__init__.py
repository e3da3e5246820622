"""Departmental producers: file readers, validation, the kafka-python publisher, and the
synthetic province generator. Lands with issue 3; empty until then."""

__all__: list[str] = []
