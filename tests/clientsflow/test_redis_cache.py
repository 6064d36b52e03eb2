"""`clientsflow.redis_cache`: Django's Redis cache, `incr` in one round trip with Django's meaning."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.cache import caches

from clientsflow.redis_cache import RedisCache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (REDIS_URL)")


@pytest.fixture
def cache():
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    yield cache
    cache.delete_many(["incr:missing", "incr:kept"])


def test_incr_of_a_missing_key_raises_and_creates_nothing(cache):
    cache.delete("incr:missing")

    with pytest.raises(ValueError, match="not found"):
        cache.incr("incr:missing")

    assert cache.get("incr:missing") is None


def test_incr_adds_to_the_value_keeps_its_expiry_and_sends_one_command(cache, monkeypatch):
    cache.set("incr:kept", 5, timeout=300)
    cache.incr("incr:kept")  # the first call teaches Redis the script
    client = cache._cache.get_client("incr:kept", write=True)
    sent: list[str] = []
    real = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *args, **kwargs: sent.append(args[0]) or real(*args, **kwargs)
    )

    assert cache.incr("incr:kept", 3) == 9

    assert sent == ["EVALSHA"]
    assert cache.get("incr:kept") == 9
    assert 0 < client.ttl(cache.make_key("incr:kept")) <= 300
