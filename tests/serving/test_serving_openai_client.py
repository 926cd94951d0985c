"""The official `openai` client drives a real server running the real tiny Kinema model, end to end."""

from __future__ import annotations

import io
import warnings

import numpy as np
import openai
import pytest
from PIL import Image

from kinema.io.label import read_aigc_label
from kinema.io.video import read_video
from kinema.serving.auth import create_key

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the client marks videos.* deprecated


def test_openai_client_end_to_end(real_server, tmp_path):
    key = create_key(real_server.store, "client", "pro")[1]
    client = openai.OpenAI(base_url=real_server.url + "/v1", api_key=key, max_retries=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        video = client.videos.create_and_poll(
            prompt="a red ball moves to the right", seconds="1", size="32x32", extra_body={"seed": 7},
            poll_interval_ms=100,
        )  # fmt: skip
        assert video.status == "completed", video.error
        assert (video.model, video.size, video.seconds, video.progress) == ("kinema-tiny", "32x32", "1", 100)
        assert client.videos.retrieve(video.id).status == "completed"

        # downloads: the MP4 (labelled, 1 s at 8 fps = 9 frames), the thumbnail and the sprite sheet
        mp4 = tmp_path / "out.mp4"
        mp4.write_bytes(client.videos.download_content(video.id).content)
        frames, fps = read_video(mp4)
        assert frames.shape == (9, 32, 32, 3) and fps == 8
        assert read_aigc_label(mp4).ProduceID == video.id
        thumb = Image.open(io.BytesIO(client.videos.download_content(video.id, variant="thumbnail").content))
        assert thumb.format == "JPEG" and thumb.size == (32, 32)
        sheet = Image.open(
            io.BytesIO(client.videos.download_content(video.id, variant="spritesheet").content)
        )
        assert sheet.format == "JPEG" and sheet.size == (4 * 32, 3 * 32)

        # image to video: the uploaded reference is the first frame
        ref = np.zeros((32, 32, 3), np.uint8)
        ref[:, :16] = (255, 0, 0)
        buf = io.BytesIO()
        Image.fromarray(ref).save(buf, format="PNG")
        i2v = client.videos.create(
            prompt="the red half slides",
            seconds="1",
            input_reference=("ref.png", buf.getvalue(), "image/png"),
        )
        remix = client.videos.remix(video.id, prompt="a blue ball moves to the right")
        assert remix.remixed_from_video_id == video.id and remix.status in ("queued", "in_progress")
        # extend by id (the shape the API documents; this client version rejects a dict before sending, so the
        # request goes through its generic post) and extend an uploaded MP4 (what client.videos.extend sends)
        ext = client.post(
            "/videos/extensions",
            cast_to=openai.types.Video,
            body={"prompt": "the ball keeps rolling", "seconds": "1", "video": {"id": video.id}},
        )
        assert ext.seconds == "2" and ext.model_extra["extended_from_video_id"] == video.id
        uploaded = client.videos.extend(
            video=("clip.mp4", mp4.read_bytes(), "video/mp4"), prompt="on", seconds="1"
        )
        assert uploaded.seconds == "2" and uploaded.size == "32x32"

        jobs = [client.videos.poll(v.id, poll_interval_ms=100) for v in (i2v, remix, ext, uploaded)]
        assert [v.status for v in jobs] == ["completed"] * 4, [v.error for v in jobs]
        i2v, remix, ext, uploaded = jobs
        mp4.write_bytes(client.videos.download_content(i2v.id).content)
        first = read_video(mp4)[0][0].astype(int)
        assert np.abs(first - ref).mean() < 12  # H.264 round trip of the pasted reference frame
        mp4.write_bytes(client.videos.download_content(ext.id).content)
        ext_frames, _ = read_video(mp4)
        assert ext_frames.shape == (17, 32, 32, 3)  # 9 source frames + 8 new ones
        assert np.abs(ext_frames[:9].astype(int) - frames.astype(int)).mean() < 4  # starts with the source
        mp4.write_bytes(client.videos.download_content(uploaded.id).content)
        assert read_video(mp4)[0].shape == (17, 32, 32, 3)

        # list: newest first, paginated by the client through `after`
        page = client.videos.list(limit=2)
        assert [v.id for v in page.data] == [uploaded.id, ext.id] and page.has_more
        every = [v.id for v in client.videos.list(limit=2, order="asc")]  # the client follows `after` pages
        assert every == [video.id, i2v.id, remix.id, ext.id, uploaded.id]

        deleted = client.videos.delete(remix.id)
        assert deleted.deleted and deleted.id == remix.id and deleted.object == "video.deleted"
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(remix.id)
        with pytest.raises(openai.BadRequestError) as exc:
            client.videos.create(prompt="x", size="33x33")
        # The model's own grid (the tiny VAE's 4x4 compression x 2x2 patches), from kinema.pipelines.sizes.
        assert "multiples of 8" in str(exc.value)
        anonymous = openai.OpenAI(base_url=real_server.url + "/v1", api_key="kin-nobody", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            anonymous.videos.list()
