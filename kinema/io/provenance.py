"""C2PA content credentials: a signed manifest in every MP4 / PNG / JPEG Kinema writes, and reading it back.

Signing uses ``c2pa-python`` (the Content Authenticity Initiative's bindings of c2pa-rs) with a signing
identity, a private key plus its X.509 certificate chain:

- the installation's own, made on first use in ``<data_dir>/provenance/`` (files mode 0600): a root CA and an
  end-entity ES256 certificate it issued. The CA's private key is thrown away once it has signed the
  end-entity certificate, so nothing can issue more certificates under this root. c2pa-rs refuses a
  self-signed signing certificate, hence the two levels; the end-entity certificate carries what the C2PA
  certificate profile asks for (digitalSignature key usage, the emailProtection EKU, CA=false, subject and
  authority key identifiers);
- or the operator's own (``cert_path`` + ``key_path``, PEM, end-entity certificate first), e.g. one bought
  from a CA on the C2PA trust list.

Either is checked when it is loaded, by signing a 1x1 PNG in memory, so a missing, unreadable, mismatched or
c2pa-refused certificate is an ``InvalidInputError`` at start-up, not at the first job.

The manifest (see ``TASKS``): the generator (claim_generator_info Kinema <version>; the action's softwareAgent
also names the model), and the actions

| task                                   | actions                          | input files as       |
| -------------------------------------- | -------------------------------- | -------------------- |
| text (t2v, t2i), image (i2v),          | ``c2pa.created``, digitalSource- | ``inputTo``          |
| keyframes, remix (v2v)                 | Type trainedAlgorithmicMedia     | ingredients          |
| continuation (extension without the    | as text                          | ``inputTo``          |
| source's frames)                       |                                  |                      |
| extend (the output starts with the     | ``c2pa.opened`` the source, then | ``parentOf`` (one)   |
| source video's frames)                 | ``c2pa.edited``, trainedAlgo...  |                      |
| thumbnail, spritesheet (pixels copied  | ``c2pa.opened`` the video, then  | ``parentOf`` (one)   |
| from the video)                        | ``c2pa.converted``               |                      |

C2PA does not allow ``c2pa.created`` with a parent, so outputs that contain another file's pixels open it as
their parent; a thumbnail's source type is its parent video's (``ProvenanceInfo.digital_source_type`` follows
the parent). Manifest thumbnails are off: they would add ~25 KB to every image for a preview of itself.

What "validates" means (``ProvenanceInfo.validation_state``, c2pa-rs's three states): ``Invalid`` — the
signature or a content hash does not match (the file was changed after signing) or the manifest is broken;
``Valid`` — the signature verifies and the hashes match the file, but the signer's certificate is not on a
trust list the reader knows (always the case for an installation's own certificate, and for a real one until
the reader loads the C2PA trust list); ``Trusted`` — valid and the chain ends at a trust anchor given to the
reader (``trust_anchors``: an installation's ``ca.pem``, or the C2PA trust list).

The GB 45438-2025 ``AIGC`` label (kinema/io/label.py) sits in the MP4's moov/udta, a PNG iTXt chunk or a JPEG
COM segment; c2pa adds its own box/chunk/segment and leaves those in place (tested).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from kinema import __version__
from kinema.errors import InvalidInputError, MissingDependencyError
from kinema.io.atomic import atomic_write_path
from kinema.io.label import AIGCLabel, read_aigc_label
from kinema.runtime.tasks import TASK_TABLE

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_DIR = "provenance"  # under the data dir
KEY_FILE, CHAIN_FILE, CA_FILE = "signing-key.pem", "signing-chain.pem", "ca.pem"
# Without a trusted timestamp a signature is checked against the certificate's validity at reading time, so
# the installation certificate is long-lived; an operator can add a timestamp authority (tsa_url).
INSTALLATION_CERT_DAYS = 10 * 365
Relationship = Literal["parentOf", "inputTo", "componentOf"]
ValidationState = Literal["Invalid", "Valid", "Trusted"]


# ---------------------------------------------------------------------------------------------------------
# What each task records
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskProvenance:
    """The manifest's shape for one kind of output (one row of the table in the module docstring)."""

    relationship: Relationship  # how the task's input files relate to the output
    edit: str | None  # None: c2pa.created; else c2pa.opened the parent, then this action
    description: str
    ai_content: bool = True  # the created/edit action adds AI-generated content (digitalSourceType)


TASKS: dict[str, TaskProvenance] = {
    "text": TaskProvenance("inputTo", None, "Generated by a video model from a text prompt."),
    "image": TaskProvenance("inputTo", None, "Generated by a video model from a prompt and an input image."),
    "keyframes": TaskProvenance("inputTo", None, "Generated by a video model between input keyframes."),
    "remix": TaskProvenance("inputTo", None, "Generated by a video model re-imagining an input video."),
    "extend": TaskProvenance("parentOf", "c2pa.edited", "The parent video continued by a video model."),
    # an extension written without its source's frames (ExtendPipeline(include_source=False))
    "continuation": TaskProvenance("inputTo", None, "Generated by a video model continuing an input video."),
    "thumbnail": TaskProvenance(
        "parentOf", "c2pa.converted", "One frame of the parent video, as a still image.", ai_content=False
    ),
    "spritesheet": TaskProvenance(
        "parentOf", "c2pa.converted", "Frames of the parent video in a grid.", ai_content=False
    ),
}
# The tasks' names (kinema/runtime/tasks.py) for the same things: t2v/t2i → text, i2v → image, v2v → remix.
TASK_ALIASES = {t.name: t.provenance for t in TASK_TABLE if t.name != t.provenance}


def task_provenance(task: str) -> TaskProvenance:
    name = TASK_ALIASES.get(task, task)
    if name not in TASKS:
        known = sorted({*TASKS, *TASK_ALIASES})
        raise InvalidInputError(f"Unknown task {task!r} for a provenance manifest; use one of {known}.")
    return TASKS[name]


@dataclass(frozen=True)
class Ingredient:
    """An input file recorded in the manifest (hashed, and its own manifest kept if it has one)."""

    path: Path
    relationship: Relationship | None = None  # None: the task's (TASKS)
    title: str | None = None  # default: the file name


# ---------------------------------------------------------------------------------------------------------
# Signing identity
# ---------------------------------------------------------------------------------------------------------


def _c2pa():
    try:
        import c2pa
    except ImportError as exc:  # a dependency of kinema; only a broken install gets here
        raise MissingDependencyError(
            "C2PA signing needs the c2pa-python package: pip install 'c2pa-python>=0.38'."
        ) from exc
    return c2pa


@dataclass(frozen=True)
class SigningIdentity:
    """A private key and its certificate chain (PEM), checked to be usable for C2PA signing."""

    chain_pem: bytes  # end-entity certificate first, then intermediates (the root may follow)
    key_pem: bytes
    alg: str  # c2pa signing algorithm: es256 | es384 | es512 | ps256 | ed25519
    origin: Literal["installation", "operator"]
    subject: str  # the end-entity certificate's subject, for messages and `kinema inspect`
    not_after: dt.datetime
    trust_anchor_pem: bytes | None = None  # the installation's root CA (None for an operator's chain)
    tsa_url: str | None = None  # RFC 3161 timestamp authority (needs the network at signing time)

    def signer(self):  # -> c2pa.Signer
        c2pa = _c2pa()
        info = c2pa.C2paSignerInfo(self.alg, self.chain_pem, self.key_pem, self.tsa_url)
        return c2pa.Signer.from_info(info)


def load_signing_identity(
    data_dir: str | Path | None = None,
    cert_path: str | Path | None = None,
    key_path: str | Path | None = None,
    tsa_url: str | None = None,
) -> SigningIdentity:
    """The operator's identity when ``cert_path`` and ``key_path`` are given, else the installation's in
    ``data_dir`` (made on first use). Raises ``InvalidInputError`` when it cannot be used; call it at
    start-up."""
    if cert_path is not None or key_path is not None:
        if cert_path is None or key_path is None:
            raise InvalidInputError(
                "A signing certificate needs both its chain and its private key: give both cert and key paths."
            )
        return operator_identity(cert_path, key_path, tsa_url)
    if data_dir is None:
        raise InvalidInputError(
            "C2PA signing needs a data dir for the installation's key, or an operator cert and key."
        )
    return installation_identity(data_dir, tsa_url)


def operator_identity(
    cert_path: str | Path, key_path: str | Path, tsa_url: str | None = None
) -> SigningIdentity:
    """An operator's certificate chain + private key (PEM files), checked (see the module docstring)."""
    chain_pem = _read_pem(cert_path, "certificate chain")
    key_pem = _read_pem(key_path, "private key")
    return _checked(chain_pem, key_pem, "operator", None, tsa_url, where=f"{cert_path} / {key_path}")


def installation_identity(data_dir: str | Path, tsa_url: str | None = None) -> SigningIdentity:
    """The installation's identity in ``<data_dir>/provenance/``, made on first use (concurrent first
    uses by several workers agree on one: the folder is made complete beside its final name and renamed)."""
    folder = Path(data_dir) / PROVENANCE_DIR
    if not (folder / KEY_FILE).is_file():
        _make_installation_identity(folder)
    chain_pem = _read_pem(folder / CHAIN_FILE, "certificate chain")
    key_pem = _read_pem(folder / KEY_FILE, "private key")
    ca_pem = _read_pem(folder / CA_FILE, "root certificate")
    return _checked(chain_pem, key_pem, "installation", ca_pem, tsa_url, where=str(folder))


def _read_pem(path: str | Path, what: str) -> bytes:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"The signing {what} {path} does not exist; check the path.") from None
    except OSError as exc:
        raise InvalidInputError(
            f"The signing {what} {path} cannot be read ({exc.strerror}); check its permissions."
        ) from None
    if b"-----BEGIN" not in data:
        raise InvalidInputError(f"The signing {what} {path} is not a PEM file; give a PEM-encoded {what}.")
    return data


def _checked(
    chain_pem: bytes,
    key_pem: bytes,
    origin: Literal["installation", "operator"],
    ca_pem: bytes | None,
    tsa_url: str | None,
    where: str,
) -> SigningIdentity:
    """Parse, match and trial-sign: every reason c2pa could refuse the identity, found now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise InvalidInputError(
            f"The signing certificate chain in {where} cannot be parsed ({exc})."
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise InvalidInputError(
            f"The signing private key in {where} is encrypted; give an unencrypted PEM key (mode 0600)."
        ) from None
    except ValueError as exc:
        raise InvalidInputError(f"The signing private key in {where} cannot be parsed ({exc}).") from None
    leaf = certs[0]
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*raw) != key.public_key().public_bytes(*raw):
        raise InvalidInputError(
            f"The signing private key in {where} does not belong to the chain's first certificate "
            f"({leaf.subject.rfc4514_string()}); put the end-entity certificate first."
        )
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}.get(key.curve.name)
    elif isinstance(key, rsa.RSAPrivateKey):
        alg = "ps256"  # C2PA allows RSA only with PSS padding
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        alg = "ed25519"
    else:
        alg = None
    if alg is None:
        raise InvalidInputError(
            f"The signing key in {where} is of a kind C2PA does not sign with; use EC P-256/384/521, RSA or Ed25519."
        )
    now = dt.datetime.now(dt.timezone.utc)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise InvalidInputError(
            f"The signing certificate in {where} is valid only from {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}; renew it."
        )
    identity = SigningIdentity(
        chain_pem=chain_pem,
        key_pem=key_pem,
        alg=alg,
        origin=origin,
        subject=leaf.subject.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
        trust_anchor_pem=ca_pem,
        tsa_url=tsa_url,
    )
    _trial_sign(identity, where)
    return identity


def _trial_sign(identity: SigningIdentity, where: str) -> None:
    """Sign a 1x1 PNG in memory: c2pa's own certificate-profile checks (self-signed, key usage, EKU...)."""
    from PIL import Image

    c2pa = _c2pa()
    source = io.BytesIO()
    Image.new("RGB", (1, 1)).save(source, format="PNG")
    source.seek(0)
    try:
        builder = c2pa.Builder(_manifest("probe.png", "text", None, [], []), context=_signing_context())
        builder.sign(identity.signer(), "image/png", source, io.BytesIO())
    except c2pa.C2paError as exc:
        raise InvalidInputError(
            f"c2pa refuses the signing certificate in {where} ({exc}); a C2PA signing certificate must not be "
            "self-signed, and needs the digitalSignature key usage and an EKU such as emailProtection or "
            "documentSigning."
        ) from None


def issue_certificate_chain(
    key, organisation: str = "Kinema self-hosted installation"
) -> tuple[bytes, bytes]:
    """A fresh root CA and an end-entity certificate for ``key`` (a ``cryptography`` private key: EC,
    RSA or Ed25519) that the root issued: (chain PEM = end-entity + root, root PEM). The root's private key
    is not returned: it is dropped here, so nothing else can ever be issued under this root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    install_id = uuid.uuid4().hex[:12]
    now = dt.datetime.now(dt.timezone.utc)
    start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=INSTALLATION_CERT_DAYS)

    def name(common: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{common} {install_id}"),
            ]
        )

    def usage(signature: bool, cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=signature,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name("Kinema root CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(signature=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    # What the C2PA certificate profile asks of a signing certificate (c2pa-rs checks it when signing).
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Kinema signer"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(signature=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return leaf.public_bytes(Encoding.PEM) + ca.public_bytes(Encoding.PEM), ca.public_bytes(Encoding.PEM)


def private_key_pem(key) -> bytes:
    """An unencrypted PKCS#8 PEM of a ``cryptography`` private key."""
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _make_installation_identity(folder: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())  # ES256: the smallest signatures, every reader knows it
    chain_pem, ca_pem = issue_certificate_chain(key)
    files = {KEY_FILE: private_key_pem(key), CHAIN_FILE: chain_pem, CA_FILE: ca_pem}
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:12]}.tmp")
    staging.mkdir(mode=0o700)
    try:
        for file_name, data in files.items():
            fd = os.open(staging / file_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        try:
            os.rename(staging, folder)  # atomic; fails if another process made the folder first
        except OSError:
            if not (folder / KEY_FILE).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------
# Signing
# ---------------------------------------------------------------------------------------------------------

_MIME_BY_SUFFIX = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}


def _sniff_mime(path: Path) -> str | None:
    """The media type from the file's first bytes (the suffix only tells MP4 from MOV)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return _MIME_BY_SUFFIX.get(path.suffix.lower(), "video/mp4")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def _signing_context():
    c2pa = _c2pa()
    # Thumbnails off (see the module docstring); never fetch remote manifests (Kinema works offline).
    settings = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"remote_manifest_fetch": False}}
    return c2pa.Context(settings=c2pa.Settings.from_dict(settings))


def _manifest(
    title: str, task: str, model: str | None, parent_ids: list[str], input_ids: list[str]
) -> dict[str, Any]:
    """The manifest definition c2pa's Builder takes; the ids are the ingredients' labels."""
    rule = task_provenance(task)
    agent = {"name": "Kinema", "version": __version__, **({"model": model} if model else {})}
    description = rule.description.replace("a video model", f"Kinema's {model} model" if model else "Kinema")
    main: dict[str, Any] = {
        "action": rule.edit or "c2pa.created",
        "softwareAgent": agent,
        "description": description,
    }
    if rule.ai_content:
        main["digitalSourceType"] = TRAINED_ALGORITHMIC_MEDIA
    if input_ids:
        main["parameters"] = {"ingredientIds": input_ids}
    actions = [main]
    if parent_ids:  # C2PA: an asset made from a parent opens it first
        actions.insert(0, {"action": "c2pa.opened", "parameters": {"ingredientIds": parent_ids}})
    return {
        "claim_generator_info": [{"name": "Kinema", "version": __version__}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


def sign_file(
    path: str | Path,
    identity: SigningIdentity,
    task: str = "text",
    model: str | None = None,
    ingredients: Sequence[Ingredient | str | Path] = (),
) -> Path:
    """Sign a finished MP4 / PNG / JPEG in place (atomically: the signed copy replaces it by rename).

    ``task``: what made the file (``TASKS``: text, image, keyframes, remix, extend, thumbnail, spritesheet,
    or the pipelines' t2v/t2i/i2v/v2v); ``model``: the model's name, recorded as the generator;
    ``ingredients``: the input files (paths or ``Ingredient``) — the image of image→video, the source video of
    a remix or extension, the video a thumbnail or sprite sheet shows. Returns the path.
    """
    c2pa = _c2pa()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"Cannot sign {path}: it does not exist or is not a file.")
    mime = _sniff_mime(path)
    if mime not in ("video/mp4", "video/quicktime", "image/png", "image/jpeg"):
        raise InvalidInputError(f"Cannot sign {path.name}: Kinema signs MP4, MOV, PNG and JPEG files only.")
    rule = task_provenance(task)
    items = [i if isinstance(i, Ingredient) else Ingredient(Path(i)) for i in ingredients]
    parents = [i for i in items if (i.relationship or rule.relationship) == "parentOf"]
    if rule.relationship == "parentOf" and len(parents) != 1:
        raise InvalidInputError(
            f"A {task} output is signed with its one source file as parent ingredient; got {len(parents)}."
        )
    if rule.edit is None and parents:
        raise InvalidInputError(f"A {task} output is created, not edited: its inputs cannot be parentOf.")

    ids = [f"ingredient-{k}" for k in range(len(items))]
    is_parent = [(i.relationship or rule.relationship) == "parentOf" for i in items]
    parent_ids = [i for i, parent in zip(ids, is_parent) if parent]
    input_ids = [i for i, parent in zip(ids, is_parent) if not parent]
    builder = c2pa.Builder(
        _manifest(path.name, task, model, parent_ids, input_ids), context=_signing_context()
    )
    for ident, item in zip(ids, items):
        _add_ingredient(builder, item, ident, rule.relationship)
    try:
        with atomic_write_path(path) as tmp, open(path, "rb") as source, open(tmp, "w+b") as dest:
            builder.sign(identity.signer(), mime, source, dest)
    except c2pa.C2paError as exc:
        raise InvalidInputError(f"C2PA signing of {path.name} failed ({exc}).") from exc
    return path


def _add_ingredient(builder, item: Ingredient, ident: str, default: Relationship) -> None:
    path = Path(item.path)
    if not path.is_file():
        raise InvalidInputError(f"The ingredient {path} does not exist; give the input file that was used.")
    definition = {
        "title": item.title or path.name,
        "relationship": item.relationship or default,
        "label": ident,  # what the action's ingredientIds point at
    }
    mime = _sniff_mime(path)
    if mime is None:  # Kinema's inputs are PNG/JPEG/WebP images (load_image) and MP4 videos
        raise InvalidInputError(
            f"The ingredient {path.name} is not a PNG, JPEG, WebP, GIF or MP4 file; c2pa cannot record it."
        )
    with open(path, "rb") as fh:
        builder.add_ingredient(definition, mime, fh)


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngredientInfo:
    title: str
    relationship: str
    format: str | None
    has_manifest: bool  # the ingredient carried its own content credential (kept in this file's store)


@dataclass
class ProvenanceInfo:
    """What a file says about where it came from: the AIGC label and the C2PA manifest, validated."""

    path: Path
    aigc_label: AIGCLabel | None
    has_manifest: bool = False
    validation_state: ValidationState | None = None  # None: no manifest
    actions: list[dict[str, Any]] = field(default_factory=list)  # the active manifest's actions
    digital_source_type: str | None = None  # from the actions, else from the parent ingredient's manifest
    generator: str | None = None  # "Kinema 0.1.0"
    model: str | None = None
    signer: str | None = None  # the signing certificate's issuer / common name
    ingredients: list[IngredientInfo] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # validation failure codes with explanations
    errors: list[str] = field(default_factory=list)  # a manifest present but unreadable
    manifest_store: dict[str, Any] | None = None  # the whole manifest store as c2pa reports it

    @property
    def signature_valid(self) -> bool:
        """The signature verifies and the content hashes match the file (``Valid`` or ``Trusted``)."""
        return self.validation_state in ("Valid", "Trusted")

    @property
    def trusted(self) -> bool:
        return self.validation_state == "Trusted"


def read_provenance(path: str | Path, trust_anchors: Sequence[str | Path | bytes] = ()) -> ProvenanceInfo:
    """Read the implicit label and the C2PA manifest of an MP4 / PNG / JPEG file, validating the signature.

    ``trust_anchors``: PEM root certificates (paths or bytes) whose chains count as ``Trusted``, e.g. an
    installation's ``<data_dir>/provenance/ca.pem``. Raises ``InvalidInputError`` for a file that is not a
    readable media file.
    """
    c2pa = _c2pa()
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist or is not a file; check the path.")
    if _sniff_mime(path) not in ("video/mp4", "video/quicktime", "image/png", "image/jpeg"):
        raise InvalidInputError(
            f"{path} is not an MP4, MOV, PNG or JPEG file; Kinema reads provenance of those."
        )
    info = ProvenanceInfo(path=path, aigc_label=None)
    try:
        info.aigc_label = read_aigc_label(path)
        damaged = None
    except InvalidInputError as exc:  # damaged pixels: c2pa may still read the manifest and say why
        damaged = exc
    anchors = b"".join(a if isinstance(a, bytes) else _read_pem(a, "trust anchor") for a in trust_anchors)
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False}}
    if anchors:
        settings["trust"] = {"user_anchors": anchors.decode()}
    context = c2pa.Context(settings=c2pa.Settings.from_dict(settings))
    try:
        reader = c2pa.Reader.try_create(str(path), context=context)
        store = None
        if reader is not None:
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if damaged is not None:  # neither the label reader nor c2pa can parse it: not a media file
            raise damaged from exc
        info.has_manifest, info.validation_state = True, "Invalid"
        info.errors.append(f"The C2PA manifest cannot be read ({exc}).")
        return info
    if store is None:
        if damaged is not None:
            raise damaged
        return info
    if damaged is not None:
        info.errors.append(str(damaged))
    _fill(info, store)
    return info


def _fill(info: ProvenanceInfo, store: dict[str, Any]) -> None:
    manifests = store.get("manifests", {})
    active = manifests.get(store.get("active_manifest"), {})
    info.has_manifest = True
    info.manifest_store = store
    info.validation_state = store.get("validation_state")
    results = store.get("validation_results", {}).get("activeManifest", {})
    info.failures = [f"{f['code']}: {f.get('explanation', '')}" for f in results.get("failure", [])]
    info.actions = _actions(active)
    generator = (active.get("claim_generator_info") or [{}])[0]
    if generator.get("name"):
        info.generator = f"{generator['name']} {generator.get('version', '')}".strip()
    for action in info.actions:
        agent = action.get("softwareAgent")
        if isinstance(agent, dict) and agent.get("model"):
            info.model = agent["model"]
    signature = active.get("signature_info", {})
    info.signer = ", ".join(v for v in (signature.get("common_name"), signature.get("issuer")) if v) or None
    info.ingredients = [
        IngredientInfo(
            title=g.get("title", ""),
            relationship=g.get("relationship", ""),
            format=g.get("format"),
            has_manifest=bool(g.get("active_manifest")),
        )
        for g in active.get("ingredients", [])
    ]
    info.digital_source_type = _source_type(active, manifests, depth=0)


def _actions(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label", "").startswith("c2pa.actions"):
            return list(assertion.get("data", {}).get("actions", []))
    return []


def _source_type(manifest: dict[str, Any], manifests: dict[str, Any], depth: int) -> str | None:
    """The first digitalSourceType of a manifest's actions, else its parent ingredient's (a thumbnail's
    pixels are its video's)."""
    for action in _actions(manifest):
        if action.get("digitalSourceType"):
            return action["digitalSourceType"]
    if depth > 8:  # a parent chain this long is not Kinema's; stop rather than recurse without end
        return None
    for ingredient in manifest.get("ingredients", []):
        parent = manifests.get(ingredient.get("active_manifest") or "")
        if ingredient.get("relationship") == "parentOf" and parent:
            return _source_type(parent, manifests, depth + 1)
    return None
