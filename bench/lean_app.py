"""The shop without its request hooks and session: what the framework parts cost under gunicorn.

    .venv/bin/python bench/redeem.py --app bench.lean_app:app

An experiment, never served to anyone: the same app as ``wsgi.py`` with every ``before_request``
and ``after_request`` hook taken out (CSRF, the rate limiter's check and headers, the NUL guard,
Flask-Login's cookie hook, the security headers) and a session that is never opened or saved.
The redemption itself (the view, the service, the SQL) is unchanged, so its throughput against
the full app's says how much of a redemption's cost those parts are.
"""

from flask.sessions import NullSession, SessionInterface

from wsgi import app


class NoSession(SessionInterface):
    """A session that is never read from the request nor written to the response."""

    def open_session(self, app, request):
        """Return the null session at once."""
        return NullSession()

    def save_session(self, app, session, response):
        """Write nothing."""


app.before_request_funcs = {}
app.after_request_funcs = {}
app.session_interface = NoSession()
