"""config.cache.RedisCache: Django's Redis cache with one client per pool."""

import pytest
import redis

from config.cache import RedisCache

# Without Redis on 127.0.0.1:6379 these tests are skipped (conftest.py).
pytestmark = pytest.mark.redis

# A database number of its own: the test empties it.
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_cache():
    redis.Redis.from_url(REDIS_URL, socket_timeout=1).flushdb()
    cache = RedisCache(REDIS_URL, {"KEY_PREFIX": "test"})
    yield cache
    cache.clear()


def test_redis_cache_reuses_one_client_per_connection_pool(redis_cache):
    first = redis_cache._cache.get_client(write=True)
    second = redis_cache._cache.get_client(write=False)

    assert first is second


def test_redis_cache_stores_reads_and_counts_like_djangos(redis_cache):
    redis_cache.set("history", [1.5, 2.5], 30)
    redis_cache.add("hits", 1, 30)
    redis_cache.incr("hits")

    assert redis_cache.get("history") == [1.5, 2.5]
    assert redis_cache.get_many(["history", "hits"]) == {
        "history": [1.5, 2.5],
        "hits": 2,
    }
    assert redis_cache.get_or_set("missing", lambda: 7, 30) == 7
