"""API keys, tenant isolation, tiers: priority, concurrency and quota limits."""

from __future__ import annotations

import argparse

from kinema.commands import keys as keys_command
from kinema.serving.auth import create_key, hash_key


def make_key(server, tier: str, name: str = "t") -> str:
    return create_key(server.store, name, tier)[1]


def test_keys_command_prints_key_once_and_stores_only_its_hash(tmp_path, capsys):
    args = argparse.Namespace(
        action="create", key_id=None, tier="pro", name="ada", database=None, data_dir=tmp_path
    )
    assert keys_command.run(args) == 0
    out = capsys.readouterr().out
    key = out.strip().splitlines()[-1]
    assert key.startswith("kin-") and len(key) > 40
    db = (tmp_path / "jobs.db").read_bytes()
    assert key.encode() not in db and hash_key(key).encode() in db
    args.action = "list"
    assert keys_command.run(args) == 0
    listed = capsys.readouterr().out
    assert "ada" in listed and "pro" in listed and key not in listed


def test_missing_and_invalid_keys_are_401_once_a_key_exists(server_factory):
    server = server_factory(start_webhooks=False)
    with server.client() as c:
        assert (
            c.post("/v1/videos", json={"prompt": "open server"}).status_code == 200
        )  # no keys yet: local use
        assert c.get("/v1/config").json()["auth_required"] is False
    key = make_key(server, "free")
    with server.client() as c:  # the very next request needs a key (no cached "no keys yet")
        r = c.get("/v1/videos")
        assert r.status_code == 401
        err = r.json()["error"]
        assert err["code"] == "missing_api_key" and "Authorization: Bearer" in err["message"]
    with server.client("kin-wrong") as c:
        r = c.post("/v1/videos", json={"prompt": "x"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    with server.client(key) as c:
        assert c.get("/v1/videos").status_code == 200
        # the job made before keys existed belongs to the local tenant, not to this key
        assert c.get("/v1/videos").json()["data"] == []


def test_tenant_isolation(server_factory):
    server = server_factory(start_webhooks=False, auth="on")
    server.start_worker()
    alice, bob = make_key(server, "pro", "alice"), make_key(server, "pro", "bob")
    with server.client(alice) as a, server.client(bob) as b:
        vid = a.post("/v1/videos", json={"prompt": "alice's"}).json()["id"]
        server.wait_for(vid, key=alice)
        for r in (
            b.get(f"/v1/videos/{vid}"),
            b.get(f"/v1/videos/{vid}/content"),
            b.delete(f"/v1/videos/{vid}"),
            b.post(f"/v1/videos/{vid}/remix", json={"prompt": "stolen"}),
            b.post("/v1/videos/extensions", json={"prompt": "stolen", "video": {"id": vid}}),
            b.get(f"/v1/videos/{vid}/events"),
        ):
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "not_found"
        assert b.get("/v1/videos").json()["data"] == []
        page = b.get("/v1/videos", params={"after": vid})  # not even as a cursor: an empty page, like any
        assert page.status_code == 200 and page.json()["data"] == []  # unknown id (no hint that it exists)
        assert a.get(f"/v1/videos/{vid}").json()["status"] == "completed"  # bob's delete did nothing


def test_concurrency_limit_is_429_with_retry_after(server_factory):
    server = server_factory(start_webhooks=False, auth="on")  # no worker: jobs stay queued
    free = make_key(server, "free")
    with server.client(free) as c:
        first = c.post("/v1/videos", json={"prompt": "one"})
        assert first.status_code == 200
        r = c.post("/v1/videos", json={"prompt": "two"})
        assert r.status_code == 429
        err = r.json()["error"]
        assert err["code"] == "concurrency_limit_exceeded" and err["type"] == "rate_limit_error"
        assert "at most 1 video(s) at once" in err["message"] and int(r.headers["retry-after"]) >= 1
        # deleting the queued job frees the slot
        c.delete(f"/v1/videos/{first.json()['id']}")
        assert c.post("/v1/videos", json={"prompt": "two"}).status_code == 200


def test_quota_of_generated_seconds_is_429(server_factory):
    server = server_factory(start_webhooks=False, auth="on")
    server.start_worker()
    free = make_key(server, "free")  # 60 s per 24 h, one at a time
    with server.client(free) as c:
        for _ in range(7):  # 7 x 8 s = 56 s
            r = c.post("/v1/videos", json={"prompt": "fill", "seconds": "8", "fps": 4})
            assert r.status_code == 200, r.text
            server.wait_for(r.json()["id"], key=free)
        r = c.post("/v1/videos", json={"prompt": "one more", "seconds": "8", "fps": 4})
        assert r.status_code == 429
        err = r.json()["error"]
        assert err["code"] == "quota_exceeded" and "60 s of video per 24 h" in err["message"]
        assert "used 56 s and asked for 8 s more" in err["message"]
        assert 86000 < int(r.headers["retry-after"]) <= 86400
        # a shorter clip that still fits is accepted
        assert c.post("/v1/videos", json={"prompt": "short", "seconds": "4"}).status_code == 200


def test_higher_tier_submitted_later_starts_first(server_factory):
    server = server_factory(start_webhooks=False, auth="on")
    free, standard, pro = (make_key(server, t) for t in ("free", "standard", "pro"))
    ids = {}
    for name, key in (("free", free), ("standard", standard), ("pro", pro)):
        with server.client(key) as c:
            ids[name] = c.post("/v1/videos", json={"prompt": name}).json()["id"]
    with server.client(free) as c:
        assert c.get(f"/v1/videos/{ids['free']}").json()["queue_position"] == 3
    with server.client(pro) as c:
        assert c.get(f"/v1/videos/{ids['pro']}").json()["queue_position"] == 1
    from serving_fakes import FakeGenerator

    gen = FakeGenerator(steps=1)
    server.start_worker(gen)
    for name, key in (("free", free), ("standard", standard), ("pro", pro)):
        server.wait_for(ids[name], key=key)
    assert gen.calls == [ids["pro"], ids["standard"], ids["free"]]
