"""Provenance through the server: every output signed (C2PA) with the installation's key, the visible
GB 45438 mark in the frames by default, the credential readable through the API, a bad operator
certificate stopping start-up."""

from __future__ import annotations

import numpy as np
import pytest
from serving_helpers import make_settings

from kinema.errors import InvalidInputError
from kinema.io import read_provenance, read_video


def test_outputs_are_signed_marked_and_the_credential_is_served(server_factory, tmp_path):
    server = server_factory(visible_label=True)
    server.start_worker()
    with server.client() as c:
        vid = c.post("/v1/videos", json={"prompt": "a red ball", "seed": 1}).json()["id"]
        server.wait_for(vid)
        cred = c.get(f"/v1/videos/{vid}/provenance").json()
        assert cred["signature_valid"] and cred["trusted"] and cred["validation_state"] == "Trusted"
        assert cred["digital_source_type"].endswith("trainedAlgorithmicMedia")
        assert "c2pa.created" in cred["actions"] and cred["aigc_label"]["ProduceID"] == vid
        storage = server.settings.data_dir / "videos" / vid
        for name in ("video.mp4", "thumbnail.jpg", "spritesheet.jpg"):  # every output kind
            info = read_provenance(storage / name)
            assert info.signature_valid and info.aigc_label is not None, name
        thumb = read_provenance(storage / "thumbnail.jpg")
        assert thumb.ingredients and thumb.ingredients[0].relationship == "parentOf"
        # the visible mark: the fake draws a flat colour with a white top-left quarter; the opening mark's
        # dark box sits over that white corner
        frames, _ = read_video(storage / "video.mp4")
        assert frames[0, 1:8, 1:8].mean() < 200
        plain = server_factory(visible_label=False, data_dir=tmp_path / "plain")
        plain.start_worker()
        with plain.client() as p:
            other = p.post("/v1/videos", json={"prompt": "a red ball", "seed": 1}).json()["id"]
            plain.wait_for(other)
        unmarked, _ = read_video(tmp_path / "plain" / "videos" / other / "video.mp4")
        assert unmarked[0, 1:8, 1:8].mean() > 240 and not np.array_equal(unmarked, frames)


def test_a_bad_operator_certificate_stops_start_up(tmp_path):
    from kinema.serving.settings import signing_identity

    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    settings = make_settings(tmp_path, c2pa_cert=tmp_path / "cert.pem", c2pa_key=tmp_path / "key.pem")
    with pytest.raises(InvalidInputError):
        signing_identity(settings)
    with pytest.raises(InvalidInputError):
        signing_identity(
            make_settings(tmp_path, c2pa_cert=tmp_path / "missing.pem", c2pa_key=tmp_path / "k.pem")
        )
