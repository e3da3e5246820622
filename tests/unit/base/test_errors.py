"""One error tree, drawn in one place: every class the project raises is in base/errors.py."""

from __future__ import annotations

import importlib
import pkgutil
import re

import base.errors
from base.errors import ZjcreditError

ROOMS = ["base", "schemas", "readmodel", "producers", "streams", "sink", "query",
         "benchmarks", "zjcredit"]  # fmt: skip
_SKIP = {"benchmarks.worker_peer", "zjcredit.__main__"}  # a Faust app; the command itself


def _import_every_module() -> None:
    for room in ROOMS:
        package = importlib.import_module(room)
        for info in pkgutil.walk_packages(package.__path__, f"{room}."):
            if info.name not in _SKIP:
                importlib.import_module(info.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_error_class_is_drawn_in_the_tree() -> None:
    _import_every_module()
    drawing = base.errors.__doc__ or ""
    drawn = set(re.findall(r"[├└]── (\w+)", drawing))
    ours = {c.__name__ for c in _subclasses(ZjcreditError) if c.__module__.split(".")[0] in ROOMS}
    assert ours - drawn == set(), f"not drawn in base/errors.py: {sorted(ours - drawn)}"
    assert drawn - ours == set(), f"drawn but not defined: {sorted(drawn - ours)}"


def test_the_drawing_names_the_module_of_each_rooms_subtree() -> None:
    drawing = base.errors.__doc__ or ""
    for cls in _subclasses(ZjcreditError):
        room = cls.__module__.split(".")[0]
        parent = cls.__mro__[1]
        if room not in ("base", "tests") and parent is ZjcreditError:
            assert f"{cls.__module__.replace('.', '/')}.py" in drawing, cls
