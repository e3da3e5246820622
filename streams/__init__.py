"""The Faust app and agents, around a pure core (profile fold, scorecard, penalty rules)
that does no I/O. Lands with issue 4; empty until then."""

__all__: list[str] = []
