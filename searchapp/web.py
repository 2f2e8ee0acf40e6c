"""The Flask app: the reader's search page and article pages, plus the JSON API."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from searchapp import __version__, config
from searchapp.params import ParamError, parse_search_params
from searchapp.querylang import QueryError
from searchapp.searching import Archive, IndexUnavailable

bp = Blueprint("web", __name__)

# Sent with every response: nothing on our pages may come from elsewhere or run inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app(overrides: dict | None = None) -> Flask:
    """Create the app: documented defaults, then SEARCHAPP_* environment variables, then ``overrides``.

    Settings: ``INDEX_DIR`` (the index folder, default ``index``).
    """
    app = Flask(__name__)
    app.config.update(INDEX_DIR=config.DEFAULT_INDEX_DIR)
    app.config.from_prefixed_env("SEARCHAPP", loads=str)
    app.config.update(overrides or {})
    app.extensions["archive"] = Archive(app.config["INDEX_DIR"])
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    from searchapp.api import bp as api_bp, error_response

    app.register_blueprint(bp)
    app.register_blueprint(api_bp, url_prefix="/api")
    app.after_request(_add_security_headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return error_response(error.code or 500, error.description or error.name)
        return render_template("message.html", title=error.name, message=error.description), error.code

    @app.errorhandler(IndexUnavailable)
    def no_index(error: IndexUnavailable):
        if request.path.startswith("/api/"):
            return error_response(503, str(error))
        return render_template("message.html", title="No index yet", message=str(error)), 503

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        app.logger.exception("unexpected error on %s", request.path)
        message = "Something went wrong on our side. Please try again."
        if request.path.startswith("/api/"):
            return error_response(500, message)
        return render_template("message.html", title="Server error", message=message), 500

    app.jinja_env.globals.update(version=__version__, page_url=page_url)
    return app


def archive() -> Archive:
    """Return the app's archive (opened once per process)."""
    return current_app.extensions["archive"]


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page_url(params, **changes) -> str:
    """Return the URL of the results page for ``params`` with some of them changed."""
    values = {
        "q": params.q, "sort": params.sort, "page": params.page,
        "from": params.date_from.isoformat() if params.date_from else "",
        "to": params.date_to.isoformat() if params.date_to else "",
    }
    values.update(changes)
    defaults = {"sort": "relevance", "page": 1}
    query = {k: v for k, v in values.items() if v and defaults.get(k) != v}
    return url_for("web.search") + ("?" + urlencode(query) if query else "")


@bp.get("/")
def search():
    """The search page: a search box, and results when there is a query."""
    try:
        params = parse_search_params(request.args, allow_per_page=False)
    except ParamError as error:
        return render_template("search.html", params=None, error=str(error), results=None), 400
    if not params.q.strip():
        return render_template("search.html", params=params, results=None,
                               total_articles=archive().count())
    try:
        results = archive().search(
            params.q, params.page, params.per_page, params.sort, params.date_from, params.date_to
        )
    except QueryError as error:
        return render_template("search.html", params=params, error=str(error), results=None), 400
    return render_template("search.html", params=params, results=results)


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    """One article in full, with articles like it."""
    record = archive().article(article_id)
    if record is None:
        return render_template(
            "message.html", title="Article not found",
            message="There is no article at this address. It may have been removed from the archive.",
        ), 404
    return render_template("article.html", article=record)
