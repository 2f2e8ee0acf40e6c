"""searchapp: full-text search for a newspaper's archive."""

__version__ = "0.1.0"


def create_app(config=None):
    """Create the Flask app; see ``searchapp.web.create_app``."""
    from searchapp.web import create_app as factory

    return factory(config)
