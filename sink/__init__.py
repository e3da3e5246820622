"""The PostgreSQL read model: migrations, the batched exactly-once writer, stored offsets,
rebuild. Lands with issue 5; empty until then."""

__all__: list[str] = []
