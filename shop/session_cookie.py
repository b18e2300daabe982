"""The signed-cookie session, without its cost for requests that carry no session cookie."""

from flask.sessions import SecureCookieSessionInterface


class SessionCookieInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session; a request without the cookie skips building the signer.

    API clients send no session cookie, yet Flask builds (and test-serialises) a signing
    serializer for every request before finding that out. The answer is the same as Flask's:
    an empty session, or none at all when the app has no secret key.
    """

    def open_session(self, app, request):
        """Return an empty session at once when the request has no session cookie."""
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
