"""Make text safe for every output: valid Unicode that UTF-8, JSON and XML 1.0 all carry.

JSON escapes let an article hold lone surrogates (half an emoji), and any UTF-8 file can
hold non-characters (U+FFFE) and control characters. None of these can be encoded as
UTF-8 or written in XML, so they are dealt with once, when an article is indexed, and
again (cheaply) where stored text leaves an index built before that.
"""

from __future__ import annotations

import re

# Controls but tab, newline and carriage return (XML 1.0 allows only those three), DEL
# and the C1 controls, surrogates, and the non-characters U+FDD0..U+FDEF, U+FFFE, U+FFFF.
_BMP_UNSAFE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
# The last two code points of every other plane are non-characters too.
_ASTRAL_UNSAFE = "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF)
                         for plane in range(1, 17))
UNSAFE_RE = re.compile(f"[{_BMP_UNSAFE}{_ASTRAL_UNSAFE}]")
# The same in two parts: astral characters in a class make the pattern ten times slower.
_BMP_UNSAFE_RE = re.compile(f"[{_BMP_UNSAFE}]")
_ASTRAL_UNSAFE_RE = re.compile(f"[{_ASTRAL_UNSAFE}]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Bytes of UTF-8 text that may begin (or be) one of those: text without any is safe, and
# checking the bytes is forty times faster than the pattern.
_SUSPECT_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xC2, 0xEF,
                        *range(0xF0, 0xF5)])
_INNOCENT_BYTES = bytes(b for b in range(256) if b not in _SUSPECT_BYTES)
# Surrogates that os.fsdecode makes of the bytes of a file name that are not UTF-8.
_ESCAPED_BYTES = range(0xDC80, 0xDD00)


def is_safe(text: str) -> bool:
    """Tell whether ``text`` can be written as UTF-8, JSON and XML as it is."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a lone surrogate
    if not data.translate(None, _INNOCENT_BYTES):
        return True
    if _BMP_UNSAFE_RE.search(text):
        return False
    # Every U+xFFFE and U+xFFFF ends in these bytes in UTF-8; few other characters do.
    if b"\xbf\xbe" in data or b"\xbf\xbf" in data:
        return _ASTRAL_UNSAFE_RE.search(text) is None
    return True


def safe_text(text: str) -> str:
    """Return ``text`` with lone surrogates as U+FFFD and controls and non-characters gone.

    A surrogate pair split into two code points is joined into the character it encodes.
    """
    if is_safe(text):
        return text
    if _SURROGATE_RE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return UNSAFE_RE.sub("", text)


def printable(text: str) -> str:
    """Return ``text`` with what cannot be shown written as backslash escapes.

    The bytes of a file name that are not UTF-8 show as ``\\xe9``, as in ``caf\\xe9.txt``.
    """
    if is_safe(text):
        return text

    def escape(match: re.Match) -> str:
        code = ord(match[0])
        if code in _ESCAPED_BYTES:
            return f"\\x{code - 0xDC00:02x}"
        if code < 0x100:
            return f"\\x{code:02x}"
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    return UNSAFE_RE.sub(escape, text)
