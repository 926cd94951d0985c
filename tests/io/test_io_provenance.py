"""C2PA content credentials on real files in tmp_path: every output kind signs and validates with c2pa's own
Reader, a changed file fails, the AIGC label survives, and a bad signing certificate fails at load time."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from PIL import Image

from kinema import __version__
from kinema.errors import InvalidInputError
from kinema.io import (
    AIGCLabel,
    Ingredient,
    VideoWriter,
    VisibleLabel,
    load_signing_identity,
    read_aigc_label,
    read_provenance,
    read_video,
    save_labelled_image,
    sign_file,
    write_spritesheet,
    write_thumbnail,
    write_video,
)
from kinema.io.provenance import (
    CA_FILE,
    CHAIN_FILE,
    KEY_FILE,
    PROVENANCE_DIR,
    TRAINED_ALGORITHMIC_MEDIA,
    _make_installation_identity,
    issue_certificate_chain,
    private_key_pem,
)

LABEL = AIGCLabel(ProduceID="job-42")


def frames(t: int = 9, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    base = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1)
    return np.stack([(base + 7 * k + rng.integers(0, 8, base.shape)) % 256 for k in range(t)]).astype(
        np.uint8
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("kinema-data")


@pytest.fixture(scope="module")
def identity(data_dir):
    return load_signing_identity(data_dir=data_dir)


def c2pa_read(path: Path, ca: Path | None = None) -> tuple[str, dict, list[str]]:
    """c2pa's own Reader (not ours): (validation state, active manifest, failure codes)."""
    settings = {"trust": {"user_anchors": ca.read_text()}} if ca else {}
    with c2pa.Reader(str(path), context=c2pa.Context(settings=c2pa.Settings.from_dict(settings))) as reader:
        failures = reader.get_validation_results()["activeManifest"]["failure"]
        return reader.get_validation_state(), reader.get_active_manifest(), [f["code"] for f in failures]


def actions_of(manifest: dict) -> list[dict]:
    return next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))["data"]["actions"]


# ---------------------------------------------------------------------------------------------------------
# The installation's identity
# ---------------------------------------------------------------------------------------------------------


def test_installation_identity_is_made_once_with_private_files(data_dir, identity):
    folder = data_dir / PROVENANCE_DIR
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in (KEY_FILE, CHAIN_FILE, CA_FILE):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    again = load_signing_identity(data_dir=data_dir)
    assert again.key_pem == identity.key_pem and again.chain_pem == identity.chain_pem
    assert identity.alg == "es256" and identity.origin == "installation"
    assert identity.trust_anchor_pem == (folder / CA_FILE).read_bytes()
    assert identity.chain_pem.count(b"BEGIN CERTIFICATE") == 2  # end-entity + root: c2pa refuses self-signed


def test_a_second_first_use_does_not_replace_the_identity(tmp_path):
    folder = tmp_path / PROVENANCE_DIR
    _make_installation_identity(folder)
    key = (folder / KEY_FILE).read_bytes()
    _make_installation_identity(folder)  # what a second worker racing the first one does
    assert (folder / KEY_FILE).read_bytes() == key
    assert [p.name for p in tmp_path.iterdir()] == [PROVENANCE_DIR]  # no staging folder left behind


# ---------------------------------------------------------------------------------------------------------
# Every output kind
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_video(tmp_path_factory, identity) -> Path:
    """A signed text-to-video MP4: the parent of thumbnails, sprite sheets and extensions."""
    path = tmp_path_factory.mktemp("src") / "source.mp4"
    write_video(path, frames(), fps=8, label=LABEL)
    return sign_file(path, identity, "text", model="tiny")


@pytest.fixture(scope="module")
def input_image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "reference.png"
    Image.fromarray(frames(1)[0]).save(path)  # an uploaded image: no label, no credential
    return path


def write_streamed(path: Path) -> None:
    with VideoWriter(path, fps=8, width=64, height=48, label=LABEL, visible_label=VisibleLabel()) as writer:
        for chunk in np.split(frames(), [3, 6]):
            writer.write(chunk)


def write_still(path: Path) -> None:
    """A text-to-image output: PNG or JPEG by suffix, with the AIGC label."""
    save_labelled_image(Image.fromarray(frames(1)[0]), path, LABEL)


# (output name, how it is written, task, ingredient names, expected actions, relationship)
CASES = [
    ("t2v.mp4", lambda p, s: write_video(p, frames(), 8, label=LABEL), "text", [], ["c2pa.created"], None),
    ("t2i.png", lambda p, s: write_still(p), "t2i", [], ["c2pa.created"], None),
    ("t2i.jpg", lambda p, s: write_still(p), "text", [], ["c2pa.created"], None),
    ("i2v.mp4", lambda p, s: write_streamed(p), "image", ["image"], ["c2pa.created"], "inputTo"),
    (
        "remix.mp4",
        lambda p, s: write_video(p, frames(), 8, label=LABEL),
        "remix",
        ["video"],
        ["c2pa.created"],
        "inputTo",
    ),
    ("cont.mp4", lambda p, s: write_streamed(p), "continuation", ["video"], ["c2pa.created"], "inputTo"),
    (
        "extend.mp4",
        lambda p, s: write_streamed(p),
        "extend",
        ["video"],
        ["c2pa.opened", "c2pa.edited"],
        "parentOf",
    ),
    (
        "thumb.png",
        lambda p, s: write_thumbnail(s, p),
        "thumbnail",
        ["video"],
        ["c2pa.opened", "c2pa.converted"],
        "parentOf",
    ),
    (
        "sheet.jpg",
        lambda p, s: write_spritesheet(s, p, columns=2, rows=2),
        "spritesheet",
        ["video"],
        ["c2pa.opened", "c2pa.converted"],
        "parentOf",
    ),
]


@pytest.mark.parametrize("name, write, task, inputs, actions, relationship", CASES, ids=[c[0] for c in CASES])
def test_every_output_kind_signs_and_validates(
    tmp_path, identity, data_dir, source_video, input_image, name, write, task, inputs, actions, relationship
):
    path = tmp_path / name
    write(path, source_video)
    before = path.stat().st_size
    ingredients = [{"image": input_image, "video": source_video}[k] for k in inputs]
    sign_file(path, identity, task, model="tiny", ingredients=ingredients)

    # c2pa's own Reader: the signature and the content hashes verify; the installation's root makes it trusted
    state, manifest, failures = c2pa_read(path)
    assert state == "Valid" and failures == ["signingCredential.untrusted"]
    assert c2pa_read(path, ca=data_dir / PROVENANCE_DIR / CA_FILE)[0] == "Trusted"
    assert [a["action"] for a in actions_of(manifest)] == actions
    assert manifest["claim_generator_info"][0]["name"] == "Kinema"
    assert manifest["claim_generator_info"][0]["version"] == __version__
    got = [(g["title"], g["relationship"]) for g in manifest.get("ingredients", [])]
    assert got == [(p.name, relationship) for p in ingredients]

    info = read_provenance(path)
    assert info.signature_valid and not info.trusted
    assert info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA  # a thumbnail's through its parent video
    assert info.generator == f"Kinema {__version__}" and info.model == "tiny"
    assert [i.has_manifest for i in info.ingredients] == [p == source_video for p in ingredients]

    # the implicit label is still there, and the file is still a valid file of its kind
    assert read_aigc_label(path).ProduceID == "job-42"
    assert 2_000 < path.stat().st_size - before < 20_000  # the manifest: a few KB (more with a parent's)
    if path.suffix == ".mp4":
        video, fps = read_video(path)
        assert video.shape == (9, 48, 64, 3) and fps == 8
    else:
        with Image.open(path) as img:
            img.load()
            assert img.size[0] > 0


def test_signing_changes_no_pixel(tmp_path, identity):
    path = tmp_path / "a.mp4"
    write_video(path, frames(), 8, label=LABEL)
    unsigned, _ = read_video(path)
    sign_file(path, identity)
    signed, _ = read_video(path)
    np.testing.assert_array_equal(signed, unsigned)


def test_the_created_action_names_the_model_and_the_source_type(tmp_path, identity):
    path = tmp_path / "a.png"
    write_still(path)
    sign_file(path, identity, "text", model="kinema-v0.3")
    _, manifest, _ = c2pa_read(path)
    (created,) = actions_of(manifest)
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "Kinema", "version": __version__, "model": "kinema-v0.3"}
    assert "kinema-v0.3" in created["description"]


# ---------------------------------------------------------------------------------------------------------
# Changed after signing
# ---------------------------------------------------------------------------------------------------------


def media_offset(data: bytes, suffix: str) -> int:
    """An offset inside the coded pixels: the MP4's mdat, the PNG's IDAT, the JPEG's entropy-coded scan."""
    if suffix == ".mp4":
        return data.index(b"mdat") + 64
    if suffix == ".png":
        return data.index(b"IDAT") + 40
    return data.rindex(b"\xff\xda") + 40


@pytest.mark.parametrize("suffix", [".mp4", ".png", ".jpg"])
def test_a_file_changed_after_signing_fails_validation(tmp_path, identity, suffix):
    path = tmp_path / f"a{suffix}"
    if suffix == ".mp4":
        write_video(path, frames(), 8, label=LABEL)
    else:
        write_still(path)
    sign_file(path, identity)
    assert c2pa_read(path)[0] == "Valid"
    data = bytearray(path.read_bytes())
    data[media_offset(bytes(data), suffix)] ^= 0xFF
    path.write_bytes(bytes(data))
    state, _, failures = c2pa_read(path)
    assert state == "Invalid"
    assert any(code.endswith("Hash.mismatch") for code in failures), failures
    info = read_provenance(path)
    assert info.has_manifest and not info.signature_valid


def test_another_installations_root_does_not_make_it_trusted(tmp_path, identity):
    path = tmp_path / "a.png"
    write_still(path)
    sign_file(path, identity)
    other = load_signing_identity(data_dir=tmp_path / "other")
    assert read_provenance(path, trust_anchors=[other.trust_anchor_pem]).validation_state == "Valid"
    assert read_provenance(path, trust_anchors=[identity.trust_anchor_pem]).validation_state == "Trusted"


def test_an_unsigned_file_has_no_manifest(tmp_path):
    path = tmp_path / "a.jpg"
    write_still(path)
    info = read_provenance(path)
    assert not info.has_manifest and info.validation_state is None and info.aigc_label == LABEL


def test_reading_refuses_what_is_not_media(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match="not an MP4, MOV, PNG or JPEG file"):
        read_provenance(tmp_path / "notes.txt")
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_provenance(tmp_path / "missing.mp4")


# ---------------------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------------------


def test_sign_refuses_a_wrong_manifest_shape_and_leaves_the_file(tmp_path, identity, source_video):
    path = tmp_path / "thumb.png"
    write_thumbnail(source_video, path)
    original = path.read_bytes()
    with pytest.raises(InvalidInputError, match="one source file as parent"):
        sign_file(path, identity, "thumbnail")
    with pytest.raises(InvalidInputError, match="cannot be parentOf"):
        sign_file(path, identity, "text", ingredients=[Ingredient(source_video, relationship="parentOf")])
    with pytest.raises(InvalidInputError, match="Unknown task 'upscale'"):
        sign_file(path, identity, "upscale")
    with pytest.raises(InvalidInputError, match="ingredient .* does not exist"):
        sign_file(path, identity, "thumbnail", ingredients=[tmp_path / "gone.mp4"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInputError, match="signs MP4, MOV, PNG and JPEG files only"):
        sign_file(tmp_path / "notes.txt", identity)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "thumb.png"]  # no temp file left


# ---------------------------------------------------------------------------------------------------------
# The operator's own certificate
# ---------------------------------------------------------------------------------------------------------


def write_operator_files(folder: Path, key) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    chain, _ = issue_certificate_chain(key, organisation="Example Newsroom")
    (folder / "chain.pem").write_bytes(chain)
    (folder / "key.pem").write_bytes(private_key_pem(key))
    return folder / "chain.pem", folder / "key.pem"


@pytest.mark.parametrize(
    "make_key, alg",
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), "es256"),
        (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048), "ps256"),
        (ed25519.Ed25519PrivateKey.generate, "ed25519"),
    ],
    ids=["es256", "ps256", "ed25519"],
)
def test_an_operator_certificate_signs(tmp_path, make_key, alg):
    cert, key = write_operator_files(tmp_path / "op", make_key())
    identity = load_signing_identity(data_dir=tmp_path / "unused", cert_path=cert, key_path=key)
    assert identity.origin == "operator" and identity.alg == alg and "Example Newsroom" in identity.subject
    assert not (tmp_path / "unused").exists()  # no installation identity made when the operator has one
    path = tmp_path / "a.png"
    write_still(path)
    sign_file(path, identity)
    state, manifest, _ = c2pa_read(path)
    assert state == "Valid" and "Example Newsroom" in manifest["signature_info"]["issuer"]


def test_operator_certificate_errors_are_clear_at_load_time(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    cert, key_path = write_operator_files(tmp_path / "op", key)
    with pytest.raises(InvalidInputError, match=r"chain\.pem does not exist"):
        load_signing_identity(cert_path=tmp_path / "chain.pem", key_path=key_path)
    with pytest.raises(InvalidInputError, match="cannot be read"):
        load_signing_identity(cert_path=cert, key_path=tmp_path)  # a folder: unreadable as a key
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(InvalidInputError, match="is not a PEM file"):
        load_signing_identity(cert_path=tmp_path / "junk.pem", key_path=key_path)
    with pytest.raises(InvalidInputError, match="needs both"):
        load_signing_identity(cert_path=cert)
    _, other_key = write_operator_files(tmp_path / "other", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidInputError, match="does not belong to the chain's first certificate"):
        load_signing_identity(cert_path=cert, key_path=other_key)


def test_a_self_signed_operator_certificate_is_refused_at_load_time(tmp_path):
    """c2pa-rs refuses to sign with a self-signed certificate; the trial signature finds that at load."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "self.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(private_key_pem(key))
    with pytest.raises(InvalidInputError, match="c2pa refuses the signing certificate"):
        load_signing_identity(cert_path=tmp_path / "self.pem", key_path=tmp_path / "key.pem")


def test_a_damaged_installation_identity_is_an_error_at_load_time(tmp_path):
    load_signing_identity(data_dir=tmp_path)
    key = tmp_path / PROVENANCE_DIR / KEY_FILE
    key.write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    with pytest.raises(InvalidInputError, match="private key .* cannot be parsed"):
        load_signing_identity(data_dir=tmp_path)
    os.remove(tmp_path / PROVENANCE_DIR / CHAIN_FILE)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_signing_identity(data_dir=tmp_path)


def test_the_manifest_store_is_json(tmp_path, identity):
    path = tmp_path / "a.mp4"
    write_video(path, frames(), 8, label=LABEL)
    sign_file(path, identity)
    store = read_provenance(path).manifest_store
    assert json.loads(json.dumps(store))["active_manifest"] in store["manifests"]
