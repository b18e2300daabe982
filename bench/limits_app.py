"""The shop as production runs it: rate limits on, counted in Redis.

    BENCH_REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/redeem.py --app bench.limits_app:app

``bench/redeem.py`` serves the shop with rate limits off, as every benchmark of the redemption
has since the first; this app turns them on, on the Redis store ``BENCH_REDIS_URL`` names (its
db is emptied first), so a redemption pays its Redis round trips: the route limit per client
and the guess limits per client and per card. The route limit is raised so that one load
generator on one address is never refused; the guess limits are the shop's own (only failed
PINs count, and every PIN of the benchmark is valid). ``BENCH_LIMIT_STRATEGY`` picks another
Flask-Limiter strategy (``fixed-window``: ``limits``' own, which reads the window again for the
headers).
"""

import os

import redis

from bench.common import limits_on
from shop import create_app

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")

redis.Redis.from_url(REDIS_URL).flushdb()
overrides = limits_on(REDIS_URL)
if os.environ.get("BENCH_LIMIT_STRATEGY"):
    overrides["RATELIMIT_STRATEGY"] = os.environ["BENCH_LIMIT_STRATEGY"]
app = create_app(overrides)
