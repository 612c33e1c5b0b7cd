"""Django's Redis cache, with one redis.Redis client per connection pool.

Django builds a new `redis.Redis` for every cache operation; with redis-py 8
that costs about 0.1 ms (its response-callback tables are rebuilt each time),
more than the round trip to Redis on the same host. A client is thread-safe and
holds no connection of its own (the pool does), so one per pool is kept.
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
