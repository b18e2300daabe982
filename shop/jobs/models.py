"""What the job workers record for the admin: the last run of each periodic task."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db


class PeriodicRun(db.Model):
    """The last run of one periodic task (one row per task, overwritten by each run)."""

    __tablename__ = "periodic_run"

    #: The task's name, as in ``shop.jobs.tasks.SCHEDULE``.
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: True when the run finished without an error.
    ok: Mapped[bool] = mapped_column(default=False)
    #: What it did ("checked 3 payment(s) ...") or the error that stopped it.
    outcome: Mapped[str] = mapped_column(String(300), default="")
