"""Object storage (issue 29, item 1): uploads and outputs in an S3 bucket served by a real S3-compatible
server on loopback (moto_server), workers on other "machines" (own processes and temp dirs) sharing only
PostgreSQL and the bucket; the sweep's promises on objects."""

from __future__ import annotations

import io
import time
import warnings

import httpx
import openai
import pytest
from PIL import Image
from serving_helpers import fresh_pg_database, kill_hard, spawn_worker

from kinema.io.video import probe_video
from kinema.serving.auth import create_key


def png(size: tuple[int, int] = (32, 32), colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def s3_settings(s3_server, bucket: str, prefix: str = "team/kinema") -> dict:
    return {"storage": f"s3://{bucket}/{prefix}", "s3_endpoint_url": s3_server.url}


def local_files(root) -> list[str]:
    """Files under a data dir's inputs/ and videos/ (with object storage there should be none at rest)."""
    return sorted(
        str(p.relative_to(root))
        for top in ("inputs", "videos")
        for p in (root / top).rglob("*")
        if p.is_file()
    )


def test_outputs_and_inputs_live_in_the_bucket_and_stream_back(server_factory, s3_server, tmp_path):
    bucket = s3_server.make_bucket()
    server = server_factory(start_webhooks=False, **s3_settings(s3_server, bucket))
    server.start_worker()
    with server.client() as c:
        r = c.post("/v1/videos", data={"prompt": "a red ball"}, files={"input_reference": ("a.png", png())})
        assert r.status_code == 200, r.text
        vid = r.json()["id"]
        assert server.wait_for(vid)["status"] == "completed"
        keys = s3_server.keys(bucket)
        assert keys == [
            f"team/kinema/inputs/{vid}/image.png",
            f"team/kinema/videos/{vid}/spritesheet.jpg",
            f"team/kinema/videos/{vid}/thumbnail.jpg",
            f"team/kinema/videos/{vid}/video.mp4",
        ]
        # the API streams the object: the same bytes as in the bucket, a real MP4
        r = c.get(f"/v1/videos/{vid}/content")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        stored = s3_server.client().get_object(Bucket=bucket, Key=keys[-1])["Body"].read()
        assert r.content == stored and int(r.headers["content-length"]) == len(stored)
        assert r.headers["accept-ranges"] == "bytes"
        # a browser's <video> asks for ranges: the bucket serves exactly those bytes
        n = len(stored)
        r = c.get(f"/v1/videos/{vid}/content", headers={"Range": "bytes=100-199"})
        assert r.status_code == 206 and r.content == stored[100:200]
        assert r.headers["content-range"] == f"bytes 100-199/{n}"
        r = c.get(f"/v1/videos/{vid}/content", headers={"Range": "bytes=-10"})
        assert r.status_code == 206 and r.content == stored[-10:]
        r = c.get(f"/v1/videos/{vid}/content", headers={"Range": f"bytes={n + 10}-"})
        assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{n}"
        assert r.json()["error"]["code"] == "range_not_satisfiable"
        (tmp_path / "out.mp4").write_bytes(stored)
        assert probe_video(tmp_path / "out.mp4").num_frames == 9
        r = c.get(f"/v1/videos/{vid}/content", params={"variant": "thumbnail"})
        assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"
        assert c.get(f"/v1/videos/{vid}/provenance").json()["aigc_label"]["ProduceID"] == vid
        assert local_files(server.settings.data_dir) == []  # nothing kept on the API's or worker's disk
        # an extension of it: the worker fetches the source from the bucket
        r = c.post("/v1/videos/extensions", json={"video": {"id": vid}, "prompt": "more", "seconds": "1"})
        assert r.status_code == 200, r.text
        longer = r.json()["id"]
        assert server.wait_for(longer)["status"] == "completed"
        (tmp_path / "longer.mp4").write_bytes(c.get(f"/v1/videos/{longer}/content").content)
        assert probe_video(tmp_path / "longer.mp4").num_frames > 9  # the source's frames, then more
        assert local_files(server.settings.data_dir) == []
        # deleting the videos removes their objects
        for video_id in (vid, longer):
            assert c.delete(f"/v1/videos/{video_id}").status_code == 200
        assert s3_server.keys(bucket) == []


def test_sweep_removes_orphan_objects_failed_outputs_and_stale_multipart_uploads(server_factory, s3_server):
    bucket = s3_server.make_bucket()
    server = server_factory(start_webhooks=False, **s3_settings(s3_server, bucket, "p"))
    s3 = s3_server.client()
    with server.client() as c:
        kept = c.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", png())}).json()
    # a crash between uploading a job's inputs and committing its row; a failed job's partial output;
    # a killed multipart upload (invisible, but it holds parts)
    s3.put_object(Bucket=bucket, Key="p/inputs/video_nojob/input_reference.png", Body=b"x" * 100)
    with server.store.jobs.writing() as conn:
        failed = server.store.jobs.insert_job(
            conn, tenant="local", model="fake-tiny", task="text", prompt="p", params={}, seconds="1",
            size="32x32", status="failed", error_code="worker_lost",
        )  # fmt: skip
    s3.put_object(Bucket=bucket, Key=f"p/videos/{failed.id}/video.mp4", Body=b"half")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="p/videos/video_killed/video.mp4")
    s3.upload_part(Bucket=bucket, Key="p/videos/video_killed/video.mp4", UploadId=upload["UploadId"],
                   PartNumber=1, Body=b"y" * 1000)  # fmt: skip
    service = server.app.state.service
    # fresh orphans stay (they may be a request in flight); the failed job's output goes at once
    service.storage.sweep(server.store.jobs.statuses, older_than=600)
    assert f"p/videos/{failed.id}/video.mp4" not in s3_server.keys(bucket)
    assert "p/inputs/video_nojob/input_reference.png" in s3_server.keys(bucket)
    assert len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])) == 1
    # once they are older than the sweep age, orphans and the dead upload go; the live job's input stays
    removed_bytes, removed = service.storage.sweep(
        server.store.jobs.statuses, older_than=600, now=time.time() + 3600
    )
    assert removed == 2 and removed_bytes >= 100
    assert s3_server.keys(bucket) == [f"p/inputs/{kept['id']}/image.png"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_sweep_lists_a_bounded_window_and_the_next_goes_on_from_there(server_factory, s3_server):
    """A big bucket is swept a window of `sweep_keys` objects per folder at a time, round the bucket, so a
    minute's sweep costs a few LIST requests however many outputs are stored; every orphan still goes."""
    bucket = s3_server.make_bucket()
    server = server_factory(start_webhooks=False, **s3_settings(s3_server, bucket, "p"))
    s3 = s3_server.client()
    with server.client() as c:
        kept = c.post("/v1/videos", data={"prompt": "x"}, files={"input_reference": ("a.png", png())}).json()
    orphans = [f"p/inputs/video_orphan{i:02d}/input_reference.png" for i in range(7)]
    for key in orphans:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 10)
    storage = server.app.state.service.storage
    storage.sweep_keys = 3
    later = time.time() + 3600
    counts = []
    for _ in range(4):
        counts.append(storage.sweep(server.store.jobs.statuses, older_than=600, now=later)[1])
    assert max(counts) <= 3 and sum(counts) == 7, counts  # never more than a window, all in the end
    assert s3_server.keys(bucket) == [f"p/inputs/{kept['id']}/image.png"]  # the live job's input stays


def test_bad_storage_urls_and_unreachable_buckets_are_clear_errors(tmp_path, s3_server):
    from kinema.errors import InvalidInputError
    from kinema.serving.settings import ServeSettings
    from kinema.serving.storage import make_storage

    with pytest.raises(InvalidInputError, match="file://DIR or s3://BUCKET"):
        make_storage(ServeSettings(data_dir=tmp_path, storage="ftp://x/y"))
    with pytest.raises(InvalidInputError, match="'no-such-bucket' cannot be reached.*credentials"):
        make_storage(
            ServeSettings(data_dir=tmp_path, storage="s3://no-such-bucket", s3_endpoint_url=s3_server.url)
        )
    files = make_storage(ServeSettings(data_dir=tmp_path, storage=f"file://{tmp_path / 'store'}"))
    assert files.root == tmp_path / "store" and (tmp_path / "store" / "videos").is_dir()


@pytest.mark.postgres
def test_two_worker_machines_share_postgres_and_the_bucket_through_a_kill_9(
    server_factory, s3_server, tmp_path
):
    """Two workers in their own processes and temp dirs; one is killed -9 mid-job and started again.
    Every job completes once, and the bucket holds exactly the finished jobs' objects."""
    database = fresh_pg_database()
    bucket = s3_server.make_bucket()
    server = server_factory(database=database, start_webhooks=False, **s3_settings(s3_server, bucket))
    log = tmp_path / "runs.log"
    env = {"KINEMA_FAKE_STEPS": "10", "KINEMA_FAKE_STEP_SECONDS": "0.1", "KINEMA_FAKE_LOG": str(log)}
    machines = [server.settings.model_copy(update={"data_dir": tmp_path / f"machine{i}"}) for i in (0, 1)]
    with server.client() as c:
        ids = [c.post("/v1/videos", json={"prompt": f"s3 {i}"}).json()["id"] for i in range(6)]
    workers = [spawn_worker(m, **env) for m in machines]
    try:
        deadline = time.time() + 60
        while str(workers[0].pid) not in (log.read_text() if log.exists() else ""):
            assert time.time() < deadline, "worker 0 never started a job"
            time.sleep(0.05)
        time.sleep(0.3)  # mid-job
        kill_hard(workers[0])
        workers[0] = spawn_worker(machines[0], **env)
        for vid in ids:
            assert server.wait_for(vid, timeout=90)["status"] == "completed"
    finally:
        for w in workers:
            kill_hard(w)
    runs = [line.split()[0] for line in log.read_text().splitlines()]
    assert sorted(set(runs)) == sorted(ids)  # nothing lost
    assert len(runs) - len(ids) <= 1  # only the killed attempt ran again
    with server.client() as c:
        for vid in ids:
            assert c.get(f"/v1/videos/{vid}").json()["progress"] == 100
            assert c.get(f"/v1/videos/{vid}/content").content[4:8] == b"ftyp"
    expected = sorted(
        f"team/kinema/videos/{vid}/{name}"
        for vid in ids
        for name in ("spritesheet.jpg", "thumbnail.jpg", "video.mp4")
    )
    assert s3_server.keys(bucket) == expected  # nothing half-written, nothing orphaned
    assert s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    server.app.state.janitor.sweep_files()
    assert s3_server.keys(bucket) == expected
    # the killed worker's scratch was cleaned when it started again; the other's after each job
    assert local_files(machines[0].data_dir) == [] and local_files(machines[1].data_dir) == []


def test_downloads_can_redirect_to_a_presigned_bucket_url(server_factory, s3_server):
    bucket = s3_server.make_bucket()
    server = server_factory(start_webhooks=False, s3_presign_seconds=60, **s3_settings(s3_server, bucket))
    key = create_key(server.store, "client", "pro")[1]  # before any request: auth reads keys once
    server.start_worker()
    with server.client(key) as c:
        vid = c.post("/v1/videos", json={"prompt": "presigned"}).json()["id"]
        assert server.wait_for(vid, key=key)["status"] == "completed"
        r = c.get(f"/v1/videos/{vid}/content")
        assert r.status_code == 307
        url = r.headers["location"]
        assert url.startswith(s3_server.url) and "Signature" in url and "Expires" in url
        stored = s3_server.client().get_object(Bucket=bucket, Key=f"team/kinema/videos/{vid}/video.mp4")
        got = httpx.get(url)  # no credentials: the signature is the permission (moto does not check it)
        assert got.status_code == 200 and got.content == stored["Body"].read()
        assert got.headers["content-type"] == "video/mp4"
    # the official client follows the redirect (httpx drops its key on the cross-origin hop)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)
    with server.client(key) as c:
        vid = c.post("/v1/videos", json={"prompt": "presigned"}).json()["id"]
        assert server.wait_for(vid, key=key)["status"] == "completed"
        stored = s3_server.client().get_object(Bucket=bucket, Key=f"team/kinema/videos/{vid}/video.mp4")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the client marks videos.* deprecated
            assert client.videos.download_content(vid).read() == stored["Body"].read()
        c.delete(f"/v1/videos/{vid}")
        assert c.get(f"/v1/videos/{vid}/content").status_code == 404  # no redirect to a missing object


def test_temp_files_name_their_writer(tmp_path):
    import os

    from kinema.io.atomic import host_tag, temp_path_for, writer_is_gone

    mine = temp_path_for(tmp_path / "video.mp4")
    assert mine.suffix == ".mp4" and f".w{host_tag()}-{os.getpid()}.tmp" in mine.name
    assert not writer_is_gone(mine)  # this process writes it
    assert writer_is_gone(tmp_path / f".video.0123456789ab.w{host_tag()}-999999999.tmp.mp4")  # no such pid
    other_host = "000000" if host_tag() != "000000" else "ffffff"
    assert not writer_is_gone(tmp_path / f".video.0123456789ab.w{other_host}-999999999.tmp.mp4")
    assert not writer_is_gone(tmp_path / ".video.0123456789ab.tmp.mp4")  # an old name: the age rule
