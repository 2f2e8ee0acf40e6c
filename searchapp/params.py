"""Read and check the search parameters of a request, for the web page and the API alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from searchapp.results import DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_RESULT_WINDOW, SORTS

MAX_PAGE = MAX_RESULT_WINDOW // DEFAULT_PER_PAGE
SINGLE_VALUED = ("q", "page", "per_page", "sort", "from", "to", "exact", "live", "similar")
# The API refuses any other parameter, so that a misspelt or guessed one ("limit",
# "offset") is not silently ignored.
SEARCH_PARAMETERS = SINGLE_VALUED
# What a yes/no parameter accepts (the API's documented values), in any letter case.
FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}
# Article ids are paths or JSON Lines ids; longer is not an id.
MAX_ID_CHARS = 1000


class ParamError(ValueError):
    """A request parameter that is missing its shape; ``param`` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


@dataclass
class SearchParams:
    """The checked parameters of one search."""

    q: str = ""
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = "relevance"
    date_from: date | None = None
    date_to: date | None = None
    # True: search for exactly what was typed, without correcting a query that finds nothing.
    exact: bool = False
    # True: the reader is still typing (search as you type); the last word is a prefix
    # and the search is not a reader's own, so it is not counted in the zero-result report.
    live: bool = False
    # An article id: show that article and its copies that match, instead of folding them.
    similar: str | None = None

    @property
    def filtered(self) -> bool:
        return bool(self.date_from or self.date_to or self.sort != "relevance")


def parse_search_params(args, allow_per_page: bool = True) -> SearchParams:
    """Check a query string's ``q``, ``page``, ``per_page``, ``sort``, ``from``, ``to``, ``exact``.

    :param args: a MultiDict (or plain mapping) of the request's query string.
    :raises ParamError: naming the first parameter that is wrong and why.
    """
    for name in SINGLE_VALUED:
        if hasattr(args, "getlist") and len(args.getlist(name)) > 1:
            raise ParamError(name, f"give {name!r} only once")
    params = SearchParams(q=_get(args, "q"))
    params.page = _integer(args, "page", 1, 1, MAX_PAGE)
    if allow_per_page:
        params.per_page = _integer(args, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    if params.page * params.per_page > MAX_RESULT_WINDOW:
        raise ParamError("page", f"only the first {MAX_RESULT_WINDOW:,} results can be paged to")
    params.sort = _get(args, "sort") or "relevance"
    if params.sort not in SORTS:
        raise ParamError("sort", f"sort must be one of: {', '.join(SORTS)}")
    params.exact = _flag(args, "exact")
    params.live = _flag(args, "live")
    params.similar = _get(args, "similar") or None
    if params.similar and len(params.similar) > MAX_ID_CHARS:
        raise ParamError("similar", f"similar must be an article id of up to {MAX_ID_CHARS} "
                                    "characters")
    params.date_from = _date(args, "from")
    params.date_to = _date(args, "to")
    if params.date_from and params.date_to and params.date_from > params.date_to:
        raise ParamError("from", "'from' must not be after 'to'")
    return params


def check_known(args, accepted=SEARCH_PARAMETERS) -> None:
    """Refuse a query string that has a parameter not in ``accepted``.

    :raises ParamError: naming the first unknown parameter and listing the accepted ones.
    """
    for name in args:
        if name not in accepted:
            raise ParamError(name, f"unknown parameter {name!r}; the accepted ones are "
                                   f"{', '.join(accepted)}")


def _flag(args: Mapping, name: str) -> bool:
    text = _get(args, name).lower()
    if text not in FLAGS:
        raise ParamError(name, f"{name} must be 0, 1, true or false")
    return FLAGS[text]


def _get(args: Mapping, name: str) -> str:
    value = args.get(name) or ""
    return value.strip() if name != "q" else value


def _integer(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    text = _get(args, name)
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ParamError(name, f"{name} must be a whole number from {low} to {high:,}")
    value = int(text)
    if not low <= value <= high:
        raise ParamError(name, f"{name} must be a whole number from {low} to {high:,}")
    return value


def _date(args: Mapping, name: str) -> date | None:
    text = _get(args, name)
    if not text:
        return None
    try:
        if len(text) == 10 and text.isascii():
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ParamError(name, f"{name!r} must be a date written YYYY-MM-DD, such as 2022-09-14")
