"""Local stand-ins for the payment providers, for development, demos and tests.

Each provider has its own module here (``simulators.paypal`` today); :mod:`simulators.runner`
is what they share: the command line (``python -m simulators PROVIDER ...``), the HTTP server,
the signing key kept in ``instance/``, and the failure scenarios tests and demos switch on.
The shop never imports this package: it talks to a simulator over HTTP only, exactly as it
talks to the real provider.
"""
