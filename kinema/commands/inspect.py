"""`kinema inspect FILE`: a file's GB 45438-2025 AIGC label and C2PA content credential, validated.

Exit status: 0 when the file was read (with or without a credential), 1 when it carries a C2PA manifest that
does not validate (changed after signing, or a broken manifest), 2 when it is not a readable MP4/PNG/JPEG.
A thin command over `kinema.io.provenance.read_provenance`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from kinema.io.provenance import (
    CA_FILE,
    PROVENANCE_DIR,
    TRAINED_ALGORITHMIC_MEDIA,
    ProvenanceInfo,
    read_provenance,
)

STATES = {
    "Trusted": "signature valid, signer trusted",
    "Valid": "signature valid; the signer is not on a trust list given to this reader",
    "Invalid": "INVALID: the file was changed after signing, or the manifest is broken",
}


def register(subparsers: argparse._SubParsersAction, help_text: str) -> None:
    parser = subparsers.add_parser(
        "inspect", help=help_text, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="an MP4, PNG or JPEG file")
    parser.add_argument(
        "--trust-anchor",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="a root certificate (PEM) whose signatures count as trusted; repeatable",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=f"trust this Kinema installation's own root ({PROVENANCE_DIR}/{CA_FILE} in its data folder)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print everything, with the manifest store, as JSON"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    anchors = list(args.trust_anchor)
    if args.data_dir is not None:
        anchors.append(args.data_dir / PROVENANCE_DIR / CA_FILE)
    info = read_provenance(args.file, trust_anchors=anchors)
    found = tracks(args.file)
    if args.json:
        print(to_json(info, found))
    else:
        print("\n".join([summary(info), *(f"{kind + ':':<14}{text}" for kind, text in found.items())]))
    return 1 if info.has_manifest and not info.signature_valid else 0


def summary(info: ProvenanceInfo) -> str:
    """The human-readable report, one fact per line."""
    lines = [f"file:         {info.path}"]
    if info.aigc_label is None:
        lines.append("AIGC label:   none (no GB 45438-2025 implicit label)")
    else:
        label = info.aigc_label
        meaning = {"1": "AI-generated", "2": "possibly AI-generated", "3": "suspected AI-generated"}
        lines.append(
            f"AIGC label:   Label={label.Label} ({meaning.get(label.Label, 'unknown value')}), "
            f"ContentProducer={label.ContentProducer}, ProduceID={label.ProduceID}"
        )
    if not info.has_manifest:
        lines.append("C2PA:         no content credential (no manifest)")
        return "\n".join(lines)
    lines.append(f"C2PA:         {STATES.get(info.validation_state or '', info.validation_state)}")
    if info.signer:
        lines.append(f"  signer:      {info.signer}")
    if info.generator:
        model = f" (model {info.model})" if info.model else ""
        lines.append(f"  generator:   {info.generator}{model}")
    if info.digital_source_type:
        short = info.digital_source_type.rsplit("/", 1)[-1]
        ai = " (AI-generated)" if info.digital_source_type == TRAINED_ALGORITHMIC_MEDIA else ""
        lines.append(f"  source type: {short}{ai}")
    for action in info.actions:
        text = f" — {action['description']}" if action.get("description") else ""
        lines.append(f"  action:      {action.get('action')}{text}")
    for ingredient in info.ingredients:
        own = ", has its own credential" if ingredient.has_manifest else ""
        lines.append(
            f"  ingredient:  {ingredient.title} ({ingredient.relationship}, {ingredient.format}{own})"
        )
    for failure in info.failures:
        lines.append(f"  check:       {failure}")
    for error in info.errors:
        lines.append(f"  error:       {error}")
    return "\n".join(lines)


def tracks(path: Path) -> dict[str, str]:
    """A video file's tracks, one line each (the picture, and the sound or "none"); {} for an image. The
    C2PA manifest's hash covers the whole file, sound included."""
    from kinema.errors import InvalidInputError
    from kinema.io import probe_audio, probe_video

    if path.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        return {}
    try:
        video, audio = probe_video(path), probe_audio(path)
    except InvalidInputError:
        return {}
    out = {
        "video": f"{video.width}x{video.height}, {video.num_frames} frames at {video.fps:g} fps ({video.duration:.2f} s)"
    }
    out["audio"] = (
        f"{audio.codec}, {audio.sample_rate} Hz, {audio.channels} channel{'s' * (audio.channels != 1)} "
        f"({audio.duration:.2f} s)"
        if audio is not None
        else "none"
    )
    return out


def to_json(info: ProvenanceInfo, found: dict[str, str] | None = None) -> str:
    data = dataclasses.asdict(info)
    data["tracks"] = found or {}
    data["path"] = str(info.path)
    data["signature_valid"], data["trusted"] = info.signature_valid, info.trusted
    return json.dumps(data, ensure_ascii=False, indent=2)
