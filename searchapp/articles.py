"""Read article files (plain text, HTML pages, JSON Lines) into ``Article`` records.

Each reader yields ``Article`` for what it could use and ``Skip`` (with a reason a person
can act on) for what it could not; nothing here raises on bad input.
"""

from __future__ import annotations

import codecs
import errno
import gzip
import json
import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from searchapp.cleaning import (
    clean_lines,
    clean_paragraphs,
    is_boilerplate,
    normalize_space,
    split_paragraphs,
)
from searchapp.dates import find_dates, find_weekday_date, find_years, parse_date
from searchapp.textsafety import is_safe, printable, safe_text

TEXT_SUFFIXES = (".txt", ".text")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + JSONL_SUFFIXES

# A single article file larger than this is not an article; it is skipped, not read.
MAX_FILE_BYTES = 32 * 1024 * 1024
# Parsing a page takes about 60 times its size in memory, so pages have a lower cap.
MAX_HTML_BYTES = 8 * 1024 * 1024
# Longest headline kept, and length of a headline made from the body when there is none.
MAX_HEADLINE_CHARS = 300
DERIVED_HEADLINE_CHARS = 90

BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
HTML_SNIFF_RE = re.compile(r"^\s*(?:<!doctype html|<html|<head|<body)", re.IGNORECASE)

# Plain-text header lines such as "Date: 2024-03-01" (only in the first lines of a file).
METADATA_LINE_RE = re.compile(
    r"^(?P<key>date|published|publication date|headline|title|author|byline|url|link)"
    r"\s*:\s*(?P<value>\S.*)$",
    re.IGNORECASE,
)
METADATA_KEYS = {
    "date": "date", "published": "date", "publication date": "date",
    "headline": "headline", "title": "headline",
    "author": "author", "byline": "author", "url": "url", "link": "url",
}
HEADER_LINES = 10
BYLINE_RE = re.compile(r"^by\s+(?P<name>[^\d]{2,80})$", re.IGNORECASE)
# Words that mark a line as a photo caption or credit rather than a headline.
CAPTION_MARKERS_RE = re.compile(
    r"\b(?:photo|photos|photograph|pictured|courtesy|credit|file photo|getty images|"
    r"ap photo|reuters/|afp|shutterstock|image)\b|^(?:above|left|right|top|below)\s*:",
    re.IGNORECASE,
)
# The header (caption, headline, byline) ends at the first paragraph that reads like text.
HEADER_MAX_CHARS = 200
HEADER_MAX_CANDIDATES = 4
# Dates are looked for in the first paragraphs only: later ones cite other days.
LEAD_PARAGRAPHS = 3
DATELINE_CHARS = 100


class _Unusable(Exception):
    """A file or record that cannot be indexed; the message is the reason."""


@dataclass
class Article:
    """One article, cleaned and ready for the index."""

    id: str
    headline: str
    body: str = ""
    date: date | None = None
    caption: str | None = None
    author: str | None = None
    url: str | None = None
    # Who supplied the article (a JSON Lines record's `source`: a wire service, a paper).
    credit: str | None = None
    source: str = ""
    # Where a problem with this article is reported: the file, or "file:line".
    origin: str = field(default="", compare=False)

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.body.split("\n\n") if p]


@dataclass
class Skip:
    """A file (or a line of one) that was not indexed, and why.

    ``folder``: a folder that was not walked, whose articles indexed before stay (raw path).
    """

    path: str
    reason: str
    folder: str | None = None

    def __post_init__(self) -> None:
        # Shown on a terminal and in logs: a name that is not UTF-8 shows as escapes.
        self.path = printable(self.path)
        self.reason = printable(self.reason)


@dataclass
class SourceFile:
    """An article file found under a folder that is being indexed."""

    path: Path
    root: Path
    size: int = 0
    mtime_ns: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.path)

    @property
    def signature(self) -> str:
        return f"{self.size}:{self.mtime_ns}"

    @property
    def base_id(self) -> str:
        """The article id: the path relative to the indexed folder, without its suffix."""
        relative = self.path.relative_to(self.root).as_posix()
        for suffix in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True):
            if relative.lower().endswith(suffix):
                return relative[: -len(suffix)]
        return relative


def file_kind(path: Path) -> str | None:
    """Tell which reader handles ``path`` by its name: "text", "html", "jsonl" or None."""
    name = path.name.lower()
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(HTML_SUFFIXES):
        return "html"
    if name.endswith(TEXT_SUFFIXES) or "." not in name:
        return "text"
    return None


SPECIAL_FILES = [
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
]


def find_files(root: Path, inside: list[str] | None = None,
               seen: set | None = None) -> Iterator[SourceFile | Skip]:
    """Walk ``root`` (a folder or one file) and yield its article files in a stable order.

    Hidden files and folders are passed over. Symbolic links are followed only when
    their target is inside one of the ``inside`` folders (resolved; default ``root``);
    the others are skipped with the reason. A file or folder reached a second time
    (through a link, or under another root sharing ``seen``) is not yielded again, so a
    link loop cannot trap the walk. Special files are skipped, never opened.
    """
    root = root.absolute()
    inside = inside if inside is not None else [os.path.realpath(root)]
    seen = set() if seen is None else seen
    if not is_safe(str(root)):
        yield Skip(str(root), _unsafe_name_reason(str(root)))
        return
    if root.is_dir():
        yield from _walk(root, inside, seen)
        return
    try:
        info = root.stat()
    except OSError as error:
        yield Skip(str(root), f"cannot read: {error.strerror or error}")
        return
    yield from _found(root, root.parent, info, seen)


def _walk(root: Path, inside: list[str], seen: set) -> Iterator[SourceFile | Skip]:
    """Walk the folders under ``root`` depth first, each folder's files before its folders.

    Links are followed after the walk, so a file is found by its own path first and a
    link adds only what the walk could not reach (a hidden folder, say).
    """
    root_info = root.stat()
    if (root_info.st_dev, root_info.st_ino) in seen:
        return
    seen.add((root_info.st_dev, root_info.st_ino))
    folders = [root]
    links: list[tuple[Path, os.stat_result]] = []
    while folders or links:
        if not folders:
            path, info = links.pop(0)
            if not stat.S_ISDIR(info.st_mode):
                yield from _found(path, root, info, seen)
            elif (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                folders.append(path)
            continue
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            yield Skip(str(folder), f"cannot read the folder: {error.strerror or error}",
                       folder=str(folder))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if not is_safe(entry.name):
                yield Skip(str(path), _unsafe_name_reason(entry.name))
                continue
            try:
                info = entry.stat()  # the link's target for a link
            except OSError as error:
                problem = "broken" if error.errno == errno.ENOENT else "unusable"
                yield Skip(str(path), f"{problem} symbolic link: {error.strerror or error}")
                continue
            if entry.is_symlink():
                if skip := _outside_link(path, inside, stat.S_ISDIR(info.st_mode)):
                    yield skip
                else:
                    links.append((path, info))
            elif stat.S_ISDIR(info.st_mode):
                if (info.st_dev, info.st_ino) not in seen:
                    seen.add((info.st_dev, info.st_ino))
                    subfolders.append(path)
            else:
                yield from _found(path, root, info, seen)
        folders.extend(reversed(subfolders))


def _found(path: Path, root: Path, info: os.stat_result,
           seen: set) -> Iterator[SourceFile | Skip]:
    for is_kind, kind in SPECIAL_FILES:
        if is_kind(info.st_mode):
            yield Skip(str(path), f"not a regular file but {kind}")
            return
    if (info.st_dev, info.st_ino) in seen:
        return  # the same file as one already found (through a link)
    seen.add((info.st_dev, info.st_ino))
    if file_kind(path) is None:
        yield Skip(str(path), f"unsupported file type {path.suffix!r}")
        return
    yield SourceFile(path, root, info.st_size, info.st_mtime_ns)


def _outside_link(path: Path, inside: list[str], is_folder: bool) -> Skip | None:
    """Return why the link at ``path`` is not followed, or None when its target is inside."""
    try:
        target = os.path.realpath(path, strict=True)
    except (OSError, RuntimeError) as error:
        return Skip(str(path), f"symbolic link that cannot be followed: {error}")
    if any(target == folder or target.startswith(folder.rstrip(os.sep) + os.sep)
           for folder in inside):
        return None
    if is_folder:
        return Skip(str(path), f"symbolic link to {target}, outside the folders being indexed: "
                    "not followed (give that folder too to index it)", folder=str(path))
    return Skip(str(path), f"symbolic link to {target}, outside the folders being indexed: "
                "not read")


def _unsafe_name_reason(name: str) -> str:
    if any(0xDC80 <= ord(char) <= 0xDCFF for char in name):
        return "the name is not UTF-8: rename it (convmv can) to index it"
    return "the name holds control or non-characters: rename it to index it"


def read_articles(source: SourceFile, share: tuple[int, int] = (0, 1)) -> Iterator[Article | Skip]:
    """Read one article file and yield its articles, or a ``Skip`` saying why not.

    :param share: ``(k, n)`` reads only the k-th of every n lines of a JSON Lines
        file, so that n processes can read one export between them.
    """
    for item in _read_file(source, share):
        yield made_safe(item) if isinstance(item, Article) else item


def made_safe(article: Article) -> Article | Skip:
    """Return the article with every text field safe for every output, or why it cannot be.

    An id is never altered (it names the article in addresses): one that is not clean
    text is refused.
    """
    if not is_safe(article.id):
        return Skip(article.origin or article.source, _unsafe_id_reason(article.id))
    for name in ("headline", "body", "caption", "author", "url"):
        if value := getattr(article, name):
            setattr(article, name, safe_text(value))
    return article


def _unsafe_id_reason(article_id: str) -> str:
    return (f"id '{printable(article_id)}' holds a character that is not text (half a "
            "surrogate pair, a control or a non-character)")


def _read_file(source: SourceFile, share: tuple[int, int]) -> Iterator[Article | Skip]:
    kind = file_kind(source.path)
    try:
        if kind == "jsonl":
            yield from _read_jsonl(source, share)
            return
        data = _read_bytes(source.path)
        if kind == "html" or (kind == "text" and HTML_SNIFF_RE.match(data[:512].decode("latin-1"))):
            if len(data) > MAX_HTML_BYTES:
                raise _Unusable(f"too large for a web page (over {MAX_HTML_BYTES // 2**20} MB)")
            article = parse_html_article(decode_bytes(data, html=True), source.base_id)
        else:
            article = parse_text_article(decode_bytes(data), source.base_id)
    except _Unusable as error:
        yield Skip(str(source.path), str(error))
        return
    except OSError as error:
        yield Skip(str(source.path), f"cannot read: {error.strerror or error}")
        return
    if not article.headline and not article.body:
        yield Skip(str(source.path), "no article text found")
        return
    article.source = source.key
    yield article


def _open_regular(path: Path):
    """Open a regular file for reading without ever blocking (a FIFO put in its place).

    :raises _Unusable: when ``path`` is not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Unusable("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bytes(path: Path) -> bytes:
    with _open_regular(path) as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if not data:
        raise _Unusable("empty file")
    if len(data) > MAX_FILE_BYTES:
        raise _Unusable(f"too large for an article (over {MAX_FILE_BYTES // 2**20} MB)")
    return data


def decode_bytes(data: bytes, html: bool = False) -> str:
    """Decode article bytes: a BOM's encoding, else UTF-8, else the page's charset or cp1252.

    :raises _Unusable: for binary data.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    if b"\x00" in data[:8192]:
        raise _Unusable("binary file, not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data, html)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(text[:8192]) // 100):
        raise _Unusable("binary file, not text")
    return text


def _decode_legacy(data: bytes, html: bool) -> str:
    from searchapp.extraction import declared_encoding  # loads trafilatura: only for pages

    if html and (declared := declared_encoding(data)):
        try:
            return data.decode(declared, errors="replace")
        except (LookupError, UnicodeDecodeError):
            pass
    # cp1252 is what "latin-1" text almost always is; its five unassigned bytes are
    # taken as latin-1 so that no byte is lost.
    return data.decode("cp1252", errors="latin1_fallback")


def _latin1_fallback(error: UnicodeDecodeError) -> tuple[str, int]:
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("latin1_fallback", _latin1_fallback)


def parse_text_article(text: str, article_id: str) -> Article:
    """Parse a plain-text article: optional caption, headline, byline, then paragraphs."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    metadata, text = _take_metadata_lines(text)
    paragraphs = [normalize_space(p) for p in split_paragraphs(text)]
    paragraphs = [p for p in paragraphs if p and not is_boilerplate(p)]
    header, body = _split_header(paragraphs)

    headline = metadata.get("headline")
    caption_lines: list[str] = []
    author = metadata.get("author")
    header_date = None
    candidates = []
    for line in header:
        if (byline := BYLINE_RE.match(line)) and not author:
            author = byline["name"].strip()
        elif len(line) <= 40 and (line_date := parse_date(line)) and not header_date:
            header_date = line_date
        else:
            candidates.append(line)
    if not headline and candidates:
        position = _pick_headline(candidates)
        headline = candidates[position]
        caption_lines = candidates[:position]
        # Lines between the headline and the text are a standfirst: they are article text.
        body = candidates[position + 1:] + body
    else:
        body = candidates + body
    caption = " ".join(caption_lines) or None
    body = [p for p in clean_paragraphs(body) if p != caption]
    published = metadata.get("date") or header_date or find_text_date(body, caption)
    return Article(
        id=article_id,
        headline=_headline_or_lead(headline, body),
        body="\n\n".join(body),
        date=published,
        caption=caption,
        author=author,
        url=metadata.get("url"),
    )


def _take_metadata_lines(text: str) -> tuple[dict, str]:
    """Pull "Key: value" header lines (Date:, Headline:, ...) out of the top of a file."""
    lines = text.split("\n")
    metadata: dict = {}
    seen = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        seen += 1
        if seen > HEADER_LINES:
            break
        match = METADATA_LINE_RE.match(line.strip())
        if not match:
            continue
        key = METADATA_KEYS[match["key"].lower()]
        value = normalize_space(match["value"])
        if key == "date":
            value = parse_date(value)
        elif key == "url" and not value.lower().startswith(("http://", "https://")):
            value = None
        if value and key not in metadata:
            metadata[key] = value
            lines[i] = ""
    return metadata, "\n".join(lines)


def _split_header(paragraphs: list[str]) -> tuple[list[str], list[str]]:
    """Split leading short lines (caption, headline, byline) from the article's text."""
    header: list[str] = []
    for paragraph in paragraphs:
        if len(header) >= HEADER_MAX_CANDIDATES or not _is_header_line(paragraph):
            break
        header.append(paragraph)
    if len(header) == len(paragraphs) and len(header) > 1:
        # Nothing but short lines: the first is the headline, the rest is the text.
        return header[:1], header[1:]
    return header, paragraphs[len(header):]


def _is_header_line(paragraph: str) -> bool:
    if len(paragraph) > HEADER_MAX_CHARS:
        return False
    words = paragraph.split()
    return not (len(words) >= 15 and paragraph.rstrip("\"'”’)").endswith((".", "!", "?")))


def _pick_headline(candidates: list[str]) -> int:
    """Return the position of the headline among the leading short lines.

    Lines that carry a date or a photo credit are captions; of the rest, the line that
    is most in Title Case wins, and the earliest on a tie.
    """
    def looks_like_caption(line: str) -> bool:
        return bool(find_dates(line) or CAPTION_MARKERS_RE.search(line))

    plain = [i for i, line in enumerate(candidates) if not looks_like_caption(line)]
    if not plain:
        return len(candidates) - 1
    return max(plain, key=lambda i: (_title_case_ratio(candidates[i]), -i))


def _title_case_ratio(line: str) -> float:
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", line) if len(w) > 3]
    if not words:
        return 0.0
    return sum(1 for w in words if w[0].isupper()) / len(words)


def find_text_date(paragraphs: list[str], caption: str | None = None) -> date | None:
    """Find the publication date in an article's text; never a caption's date.

    In order: a dateline at the start, a weekday with month and day whose year the
    other dates in the article fix, then a full date in the first paragraphs.
    """
    lead = paragraphs[:LEAD_PARAGRAPHS]
    if lead and (dateline := find_dates(lead[0][:DATELINE_CHARS])):
        return dateline[0][0]
    context = " ".join(paragraphs)
    years = [d.year for d, _ in find_dates(context + " " + (caption or ""))]
    if not years:
        years = find_years(context)
    if weekday_date := find_weekday_date(" ".join(lead), years):
        return weekday_date
    for paragraph in lead:
        if found := find_dates(paragraph):
            return found[0][0]
    return None


def _headline_or_lead(headline: str | None, paragraphs: list[str]) -> str:
    """Return the headline, or a short one made from the first words of the text."""
    headline = normalize_space(headline or "")
    if headline:
        return headline[:MAX_HEADLINE_CHARS]
    if not paragraphs:
        return ""
    lead = normalize_space(paragraphs[0].split("\n")[0])
    if len(lead) <= DERIVED_HEADLINE_CHARS:
        return lead
    cut = lead[:DERIVED_HEADLINE_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-–— ") + "…"


def parse_html_article(html: str, article_id: str) -> Article:
    """Parse a saved web page into an article with the HTML extractor."""
    from searchapp.extraction import extract_page

    page = extract_page(html)
    paragraphs = page.paragraphs
    return Article(
        id=article_id,
        headline=_headline_or_lead(page.headline, paragraphs),
        body="\n\n".join(paragraphs),
        date=page.date or find_text_date(paragraphs, page.caption),
        caption=page.caption,
        author=page.author,
        url=page.url,
    )


def _read_jsonl(source: SourceFile, share: tuple[int, int]) -> Iterator[Article | Skip]:
    """Read a JSON Lines export: one article an object with headline, date and body."""
    path = source.path
    mine, sharers = share
    compressed = path.name.lower().endswith(".gz")
    base_id = source.base_id  # the ids of records without one: base_id/line
    try:
        records = 0
        # Bytes of the file read so far, for progress: of a .gz file, the compressed ones.
        with _open_regular(path) as raw, (
                gzip.GzipFile(fileobj=raw) if compressed else raw) as handle:
            # Read at most one article's worth of a line: a line may inflate to gigabytes.
            lines = iter(lambda: handle.readline(MAX_FILE_BYTES + 1), b"")
            for number, line in enumerate(lines, start=1):
                source.extra["bytes_read"] = raw.tell()
                too_long = len(line) > MAX_FILE_BYTES and not line.endswith(b"\n")
                if too_long:
                    while (rest := handle.readline(2**20)) and not rest.endswith(b"\n"):
                        pass  # pass over the rest of the line without keeping it
                elif not line.strip():
                    continue
                records += 1
                if (number - 1) % sharers != mine:
                    continue
                if too_long:
                    yield Skip(f"{path}:{number}", "line too long for an article")
                    continue
                try:
                    article = parse_jsonl_record(line, f"{base_id}/{number}")
                except _Unusable as error:
                    yield Skip(f"{path}:{number}", str(error))
                    continue
                article.source = source.key
                article.origin = f"{path}:{number}"
                yield article
        if not records and mine == 0:
            yield Skip(str(path), "empty file")
    except (OSError, EOFError, zlib.error) as error:
        if mine == 0:  # every sharer meets the same error; one says so
            yield Skip(str(path), f"cannot read: {getattr(error, 'strerror', None) or error}")


def parse_jsonl_record(line: bytes | str, default_id: str) -> Article:
    """Parse one JSON Lines record into an article.

    :raises _Unusable: when the line is not a JSON object of the expected shape.
    """
    if len(line) > MAX_FILE_BYTES:
        raise _Unusable("line too long for an article")
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError) as error:
        raise _Unusable(f"not valid JSON ({error})") from None
    if not isinstance(record, dict):
        raise _Unusable("not a JSON object")
    values = {}
    for key in ("id", "headline", "body", "author", "url", "date", "caption", "source"):
        value = record.get(key)
        if key == "id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value is not None and not isinstance(value, str):
            raise _Unusable(f"{key!r} must be a string, not {type(value).__name__}")
        values[key] = value
    # Exports separate paragraphs with one newline or more.
    paragraphs = clean_lines(values["body"] or "")
    if not paragraphs and not normalize_space(values["headline"] or ""):
        named = f" (id {values['id']!r})" if values["id"] else ""
        raise _Unusable(f"no headline and no body{named}")
    if values["id"] and not is_safe(values["id"]):
        raise _Unusable(_unsafe_id_reason(values["id"]))  # never altered: it names the article
    article_id = normalize_space(values["id"] or "") or default_id
    return Article(
        id=article_id,
        headline=_headline_or_lead(values["headline"], paragraphs),
        body="\n\n".join(paragraphs),
        date=parse_date(values["date"]) if values["date"] else find_text_date(paragraphs),
        caption=normalize_space(values["caption"] or "") or None,
        author=normalize_space(values["author"] or "") or None,
        url=values["url"] if (values["url"] or "").startswith(("http://", "https://")) else None,
        credit=normalize_space(values["source"] or "")[:MAX_HEADLINE_CHARS] or None,
    )
