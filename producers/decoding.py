"""Which text encoding a department's file is in, and a UTF-8 view of it.

Chinese government systems often export GB18030 (or its subset GBK), and Excel saves
"Unicode text" as UTF-16 with a byte order mark, tab-separated. The readers work on UTF-8
bytes (their chunks are byte ranges, cut at newlines), so a file in another encoding is
first transcoded, streaming in blocks, to a temporary UTF-8 file that is removed
afterwards; line numbers stay those of the original.

Detection (unless an encoding is forced):

1. a byte order mark: UTF-8 (read as it is), UTF-16 LE or BE (transcoded); without one,
   a file whose first 4 KB are over a quarter NUL bytes is UTF-16 (LE or BE by where the
   NULs are: no text format of ours has NULs);
2. else the first lines with non-ASCII bytes (up to ``_EVIDENCE_LINES`` of them) are
   tried as UTF-8: if none is valid UTF-8 and most are valid GB18030, the file is
   GB18030. If even one is valid UTF-8 the file is read as UTF-8 and only the broken rows
   are rejected (``encoding``): reading a mostly-UTF-8 file as GB18030 would turn its good
   rows into plausible-looking nonsense instead of rejecting its bad ones.

Bytes that the chosen encoding cannot decode are kept as bytes that are not UTF-8, so the
row holding them is rejected as ``encoding``, naming the byte, and the rest go on.

Example::

    with utf8_view(Path("tax.csv")) as view:
        print(view.choice.note)        # "reading tax.csv as GB18030 (not valid UTF-8)"
        rows = read_rows(view.path, encoding=view.choice.name)
"""

from __future__ import annotations

import codecs
import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["EncodingChoice", "Utf8View", "canonical_encoding", "detect_encoding", "utf8_view"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),  # the utf-16 codec reads the BOM and drops it
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_EVIDENCE_LINES = 1000
_BLOCK = 1 << 20
_NAMES = {"utf-8": "UTF-8", "utf-16": "UTF-16", "utf-16-le": "UTF-16LE", "utf-16-be": "UTF-16BE",
          "gb18030": "GB18030", "gbk": "GBK"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EncodingChoice:
    """The encoding a file is read in (a Python codec name) and why."""

    name: str
    why: str  # "byte order mark", "not valid UTF-8", "--encoding", "default"

    @property
    def label(self) -> str:
        """The name as people write it (GB18030, UTF-16)."""
        return _NAMES.get(self.name, self.name.upper())

    @property
    def is_utf8(self) -> bool:
        return self.name == "utf-8"

    def note(self, path: Path | str) -> str:
        name = path.name if isinstance(path, Path) else path
        return f"reading {name} as {self.label} ({self.why})"


def canonical_encoding(name: str) -> str:
    """The codec name for ``name`` (``GBK`` -> ``gbk``, ``utf8`` -> ``utf-8``).

    Raises LookupError for a name Python does not know.
    """
    canonical = codecs.lookup(name).name
    return "utf-8" if canonical == "utf-8-sig" else canonical  # the readers drop a BOM


def detect_encoding(path: Path) -> EncodingChoice:
    """The encoding of ``path``, by the rules in the module docstring."""
    with path.open("rb") as handle:
        head = handle.read(4096)
        for bom, name in _BOMS:
            if head.startswith(bom):
                return EncodingChoice(name, "byte order mark")
        if head.count(0) * 4 > len(head):  # text has no NUL; UTF-16 of ASCII is half NUL
            even = head[0::2].count(0) > head[1::2].count(0)
            return EncodingChoice("utf-16-be" if even else "utf-16-le", "NUL bytes, no BOM")
        handle.seek(0)
        valid_utf8, broken = _evidence(handle)
    if not valid_utf8 and 2 * sum(map(_is_gb18030, broken)) > len(broken):
        return EncodingChoice("gb18030", "not valid UTF-8")
    return EncodingChoice("utf-8", "default")


def _evidence(handle: BinaryIO) -> tuple[int, list[bytes]]:
    """How many non-ASCII lines are valid UTF-8, and the first broken ones (a sample)."""
    valid, seen = 0, 0
    broken: list[bytes] = []
    tail = b""
    while seen < _EVIDENCE_LINES:
        block = handle.read(_BLOCK)
        if not block:
            lines = [tail] if tail else []
        else:
            data = tail + block
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) < 16 * _BLOCK:  # a long line: read on
                tail = data
                continue
            if cut == 0:
                cut = len(data)
            lines, tail = data[:cut].split(b"\n"), data[cut:]
            if data[:cut].isascii():
                continue
        for line in lines:
            if line.isascii():
                continue
            seen += 1
            try:
                line.decode("utf-8")
                valid += 1
            except UnicodeDecodeError:
                if len(broken) < 50:
                    broken.append(line)
            if seen >= _EVIDENCE_LINES:
                break
        if not block:
            break
    return valid, broken


def _is_gb18030(line: bytes) -> bool:
    try:
        line.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _keep_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    # Each undecodable byte becomes a lone surrogate that surrogateescape writes back as a
    # byte that is never UTF-8 (the byte itself if >= 0x80, else 0xFF), so the reader
    # rejects that row, and only that row, as ``encoding``.
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(chr(0xDC00 + (b if b >= 0x80 else 0xFF)) for b in bad), error.end


codecs.register_error("zjcredit-keep", _keep_bad_bytes)


@dataclass(frozen=True, slots=True)
class Utf8View:
    """``path`` holds the file's text as UTF-8 (the original itself when it already is)."""

    path: Path
    choice: EncodingChoice


@contextlib.contextmanager
def utf8_view(path: Path, encoding: str | None = None) -> Iterator[Utf8View]:
    """A UTF-8 view of ``path``, transcoded to a temporary file if it is in another
    encoding (``encoding`` forces one; else :func:`detect_encoding`)."""
    if encoding is not None:
        choice = EncodingChoice(canonical_encoding(encoding), "--encoding")
    else:
        choice = detect_encoding(path)
    if choice.is_utf8:
        yield Utf8View(path, choice)
        return
    fd, name = tempfile.mkstemp(prefix="zjcredit-", suffix=path.suffix)  # the format is by suffix
    target = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as source:
            _transcode(source, out, choice.name)
        yield Utf8View(target, choice)
    finally:
        target.unlink(missing_ok=True)


def _transcode(source: BinaryIO, out: BinaryIO, encoding: str) -> None:
    decoder = codecs.getincrementaldecoder(encoding)("zjcredit-keep")
    while block := source.read(_BLOCK):
        out.write(decoder.decode(block).encode("utf-8", "surrogateescape"))
    out.write(decoder.decode(b"", final=True).encode("utf-8", "surrogateescape"))
