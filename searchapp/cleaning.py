"""Clean article text: whitespace, boilerplate lines and the debris of stripped links.

Works on plain strings and lists of paragraphs, whatever format they came from; the HTML
extractor and the plain-text reader both finish their work here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from searchapp.textsafety import safe_text

# Whole paragraphs that are site furniture, not article text (matched case-insensitively
# against the complete paragraph).
BOILERPLATE_PARAGRAPHS = [
    r"get (?:the )?.{0,60}\bin your inbox\s*[:.!]?",
    r"(?:sign up|subscribe)(?: now)?(?: (?:for|to)) (?:our|the) .{0,60}"
    r"(?:newsletter|e-?mail|updates)[^.]{0,40}[:.!]?",
    r"(?:sign up|subscribe)(?: now| today| here)?\s*[:.!]?",
    r"(?:enter|type) your e-?mail(?: address)?.{0,40}",
    r"(?:share|share this|share this article|share on \w+)\s*[:.!]?",
    r"(?:advertisement|advertisements|sponsored content|ad)\s*",
    r"(?:click|tap) here to .{0,80}",
    r"(?:read|see) (?:more|also)\s*[:.]?",
    r"(?:related|related articles|related stories|more stories|recommended)\s*[:.]?",
    r"(?:follow us on|like us on) .{0,60}",
    r"(?:comments?|leave a comment|leave a reply|\d+ comments?)\s*[:.]?",
    r"this (?:article|story) (?:was|has been) (?:updated|corrected)\.?",
]
BOILERPLATE_RE = re.compile(
    r"^(?:" + "|".join(BOILERPLATE_PARAGRAPHS) + r")$", re.IGNORECASE
)

# Characters that never belong in indexed text: C0/C1 controls except tab and newline,
# and zero-width/format characters that break words apart.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
# Runs of spaces that collapse to one plain space: two or more, or one other than a plain
# space. Leaving out the single spaces between words makes the collapse a scan, not a
# replacement for every word.
_LONG_SPACES_RE = re.compile(
    r" [ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+"
    r"|[\t\u00a0\u2000-\u200a\u202f\u205f\u3000][ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]*")
_EMPTY_BRACKETS_RE = re.compile(r"\(\s*\)|\[\s*\]")
_BRACKET_RE = re.compile(r"[()\[\]]")
# Spaces before punctuation, removed: a look-ahead, as replacing them with a group
# (r"\1") costs a call into Python per replacement.
_SPACE_BEFORE_PUNCT_RE = re.compile(r" +(?=[,.;:!?])")
# A line break and the spaces after it, between the paragraphs of an export's text.
_LINE_BREAK_RE = re.compile(r"\n\s*")
# Any character but printable ASCII and the newline: text without one is "plain".
_NOT_PLAIN_RE = re.compile(r"[^\n -~]")
_RUN_OF_SPACES_RE = re.compile(r"  +")


def normalize_space(text: str) -> str:
    """Collapse runs of spaces, drop control and non-characters and trim the ends."""
    if text.isascii() and text.isprintable():
        # Most headlines, ids and names: safe and composed already, with no space but " ".
        return (_RUN_OF_SPACES_RE.sub(" ", text) if "  " in text else text).strip()
    text = unicodedata.normalize("NFC", safe_text(text))
    if not text.isprintable():  # every character _CONTROL_RE removes is unprintable
        text = _CONTROL_RE.sub("", text)
    return _LONG_SPACES_RE.sub(" ", text).strip()


def is_boilerplate(paragraph: str) -> bool:
    """Tell whether a whole paragraph is a newsletter prompt, share bar or similar."""
    return len(paragraph) < 160 and bool(BOILERPLATE_RE.match(paragraph.strip()))


def drop_dangling_brackets(paragraph: str) -> str:
    """Remove brackets that lost their content or their partner when a link was stripped.

    "YEREVAN ( — Fighting" becomes "YEREVAN — Fighting"; balanced pairs are kept.
    """
    paragraph = _EMPTY_BRACKETS_RE.sub("", paragraph)
    open_stack: list[int] = []
    pairs = {")": "(", "]": "["}
    # Only the brackets are visited: a loop over every character cost more than the rest
    # of the cleaning together.
    for match in _BRACKET_RE.finditer(paragraph):
        i, char = match.start(), match[0]
        if char in "([":
            open_stack.append(i)
        elif open_stack and paragraph[open_stack[-1]] == pairs[char]:
            open_stack.pop()
    text = paragraph
    for i in reversed(open_stack):  # from the right, so the places to the left stay put
        # An opener followed by a space or dash never opens a real aside.
        following = paragraph[i + 1 : i + 3]
        if not following.strip() or following.lstrip()[:1] in "—–-":
            text = text[:i] + text[i + 1 :]
    return _SPACE_BEFORE_PUNCT_RE.sub("", _LONG_SPACES_RE.sub(" ", text)).strip()


def clean_paragraphs(paragraphs: list[str]) -> list[str]:
    """Normalise each paragraph and drop the empty and boilerplate ones."""
    return _kept(_tidy(normalize_space(paragraph)) for paragraph in paragraphs)


def clean_lines(text: str) -> list[str]:
    """Split text into paragraphs at line breaks, then clean them as ``clean_paragraphs``
    does."""
    if _NOT_PLAIN_RE.search(text):
        return clean_paragraphs(_LINE_BREAK_RE.split(text))
    # Plain text (most exports) is cleaned in a few passes over the whole of it, not a
    # dozen calls a paragraph: normalising it is collapsing runs of spaces and
    # trimming, and neither a run of spaces nor a space before punctuation spans a line.
    if "  " in text:
        text = _RUN_OF_SPACES_RE.sub(" ", text)
    if _BRACKET_RE.search(text) is None:
        return _kept(line.strip(" ") for line in _SPACE_BEFORE_PUNCT_RE.sub("", text).split("\n"))
    return _kept(_tidy(line.strip(" ")) for line in text.split("\n"))


def _tidy(text: str) -> str:
    """Drop dangling brackets and spaces before punctuation from normalised text."""
    if _BRACKET_RE.search(text):
        return drop_dangling_brackets(text)
    # Without brackets, all drop_dangling_brackets does to normalised text (one space a
    # run, trimmed) is this: most paragraphs, in one pass instead of three.
    return _SPACE_BEFORE_PUNCT_RE.sub("", text)


def _kept(paragraphs: Iterable[str]) -> list[str]:
    """Keep the paragraphs that are neither empty nor boilerplate."""
    return [text for text in paragraphs if text and not is_boilerplate(text)]


def split_paragraphs(text: str) -> list[str]:
    """Split text into paragraphs at blank lines, joining hard-wrapped lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n\s*\n", text)
    return [" ".join(line.strip() for line in block.split("\n")) for block in blocks]
