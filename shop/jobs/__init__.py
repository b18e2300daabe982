"""Background work: the job queue, its tasks, the worker command and the admin's page of jobs.

The one home of work that runs outside a request: print jobs, outgoing mail, the periodic
reconcile, purge and reaper. Lower packages write rows; this package queues and runs them.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Set up the queue from the app's configuration and queue work after each commit."""
    from shop.jobs import hooks, queue, tasks  # noqa: F401  (tasks registered on the queue)

    queue.init_app(app)
    hooks.install()
