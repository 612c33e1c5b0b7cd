"""Django's Redis cache, with one redis.Redis client per connection pool.

Django builds a new `redis.Redis` for every cache operation; with redis-py 8
that costs about 0.1 ms (its response-callback tables are rebuilt each time),
more than the round trip to Redis on the same host. A client is thread-safe and
holds no connection of its own (the pool does), so one per pool is kept.

`RedisCache.redis_client` hands that client out, with the key as Django names
it, for what Django's cache API cannot say in one round trip (the throttles'
Lua script, courses/throttling.py).
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        # Pools are kept for the life of the process, so their ids are stable.
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def redis_client(self, key: str) -> tuple[object, str]:
        """The redis-py client that writes `key`, and the key as stored
        (KEY_PREFIX and version applied, as for every other operation)."""
        stored = self.make_and_validate_key(key)
        return self._cache.get_client(stored, write=True), stored
