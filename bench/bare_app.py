"""The reference: a bare Flask endpoint returning "ok", served exactly like the shop."""

from flask import Flask

app = Flask(__name__)


@app.route("/ok")
def ok():
    """Return the smallest possible response."""
    return "ok"
