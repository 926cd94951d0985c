"""Physics grounding: simulate a scene and hand its object tracks to the generator.

`simulate_tracks(spec)` gives the tracks the training data carries (`dataset.render_plans`, CONTRACTS
"tracks"): float32 `(K, T, 8)` `[x_px, y_px, visible, r, g, b, radius_px, shape]`, each object's centre
seen through the spec's camera, visible = the centre is inside the frame, then its colour (0-1), its radius
in pixels as the camera sees it and its shape's code (`spec.shape_code`; the looks the trajectory adapter
reads). Paper scenes (`spec.scenario` in
`paper.SCENARIOS`, with the parameters `paper.paper_spec` records) use the closed form, exactly as the
dataset draws them; everything else runs pymunk (`simulate.simulate`). The pipelines turn tracks into the
DiT's trajectory map with `kinema.pipelines.trajectories.rasterize_trajectories`.

`plan_from_prompt(prompt, …)` joins the three steps: the prompt's scene (`prompt.parse_world_prompt`), or,
with `frames`, the state at their last frame (`state.estimate_state`) carried on with the prompt's physics;
then the simulated tracks. With frames, track frame 0 is the last given frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import paper
from kinema.world.camera import apply_homography, camera_homographies
from kinema.world.parser import as_frames
from kinema.world.prompt import PromptParse, parse_world_prompt
from kinema.world.simulate import simulate
from kinema.world.spec import COLORS, SceneSpec, color_unit, shape_code
from kinema.world.state import estimate_state, scene_from_state


@dataclass
class GroundedPlan:
    """A scene to generate: its spec, simulated tracks `(K, T, 3)` float32 and the prompt's parse."""

    spec: SceneSpec
    tracks: np.ndarray
    parse: PromptParse


def _paper_params(spec: SceneSpec) -> paper.PaperParams | None:
    """The closed-form parameters a paper spec was made from, if the spec still matches them exactly
    (same objects, no walls, the paper's gravity); None for any other spec."""
    p = spec.params
    if spec.scenario not in paper.SCENARIOS or not {"radius", "position", "velocity"} <= set(p):
        return None
    radius, position, velocity = (
        np.asarray(p[k], dtype=np.float64) for k in ("radius", "position", "velocity")
    )
    _, dx = paper.paper_world(spec.width, spec.height)
    objects = spec.objects
    walls = spec.walls
    same = (
        len(objects) == len(radius)
        and not (walls.floor or walls.ceiling or walls.left or walls.right)
        and spec.gravity == (0.0, float(p.get("gravity", 0.0)))
        and all(
            o.size == radius[k]
            and np.allclose(o.position, position[k] + [dx, 0.0], rtol=0, atol=1e-9)
            and np.allclose(o.velocity, velocity[k], rtol=0, atol=1e-9)
            for k, o in enumerate(objects)
        )
    )
    if not same:
        return None
    names = paper.PARAM_NAMES[spec.scenario]
    return paper.PaperParams(
        scenario=spec.scenario,
        split=str(p.get("split", "id")),
        radius=radius[None],
        position=position[None],
        velocity=velocity[None],
        collision_time=np.array([float(p.get("collision_time", np.nan))]),
        ood=np.zeros((1, len(names)), dtype=bool),
        gravity=float(p.get("gravity", 0.0)),
    )


def simulate_states(spec: SceneSpec) -> np.ndarray:
    """States `(T, K, 6)` = x, y, vx, vy, angle, angular velocity: closed form for paper specs, else pymunk."""
    params = _paper_params(spec)
    if params is None:
        return simulate(spec).states
    states = paper.simulate_paper(params, spec.num_frames, 1.0 / spec.fps)[0]  # (T, K, 6)
    states[..., 0] += paper.paper_world(spec.width, spec.height)[1]  # the paper scene centred in the world
    return states


def tracks_from_states(
    spec: SceneSpec,
    states: np.ndarray,
    max_objects: int | None = None,
    homographies: np.ndarray | None = None,
) -> np.ndarray:
    """States `(T, K, 6)` → tracks `(max_objects or K, T, 8)` float32 `[x_px, y_px, visible, r, g, b,
    radius_px, shape]` through the spec's camera (`homographies (T, 3, 3)` if already computed; rows past the
    spec's objects are zeros, as the dataset pads them)."""
    t, n = spec.num_frames, len(spec.objects)
    k = n if max_objects is None else max_objects
    tracks = np.zeros((k, t, 8), dtype=np.float32)
    n = min(n, k)
    if n:
        homs = homographies
        if homs is None:
            homs = camera_homographies(spec.camera, t, spec.fps, spec.world_size, spec.width, spec.height)
        px = apply_homography(homs[:, None], states[:, :n, :2])  # (T, n, 2)
        inside = (px[..., 0] >= -0.5) & (px[..., 0] <= spec.width - 0.5)
        inside &= (px[..., 1] >= -0.5) & (px[..., 1] <= spec.height - 0.5)
        sizes = np.array([[o.size, 0.0] for o in spec.objects[:n]])  # (n, 2) world units
        rim = apply_homography(homs[:, None], states[:, :n, :2] + sizes)  # (T, n, 2)
        tracks[:n, :, :2] = px.transpose(1, 0, 2)
        tracks[:n, :, 2] = inside.T
        tracks[:n, :, 3:6] = np.array([color_unit(o.color) for o in spec.objects[:n]])[:, None]
        tracks[:n, :, 6] = np.linalg.norm(rim - px, axis=-1).T
        tracks[:n, :, 7] = np.array([shape_code(o.shape) for o in spec.objects[:n]])[:, None]
    return tracks


def simulate_tracks(spec: SceneSpec, max_objects: int | None = None) -> np.ndarray:
    """Simulate `spec` → tracks `(K, T, 8)` float32 (see `tracks_from_states`), the dataset's format."""
    return tracks_from_states(spec, simulate_states(spec), max_objects)


_PRONOUNS = ("it", "they", "both", "them")


def _name_subject(prompt: str, states) -> str:
    """The prompt with its pronouns (or, when it starts with a verb, its missing subject) replaced by the
    objects of the given frames, e.g. "it rolls left" → "the red ball and the blue square roll left"."""
    import re

    from kinema.world.captions import SHAPE_WORDS

    names = " and ".join(f"the {st.color} {SHAPE_WORDS.get(st.shape, ('ball',))[0]}" for st in states)
    pattern = re.compile(r"\b(" + "|".join(_PRONOUNS) + r")\b", re.IGNORECASE)
    if pattern.search(prompt):
        return pattern.sub(names, prompt)
    return f"{names} {prompt}"


def plan_from_prompt(
    prompt: str,
    *,
    width: int,
    height: int,
    num_frames: int,
    fps: float,
    frames: np.ndarray | None = None,
) -> GroundedPlan:
    """Prompt (and, for image-to-video or extension, the given `frames`) → spec + tracks + parse.

    `frames`: uint8 `(T, H, W, 3)` (or anything `parser.as_frames` takes). Without frames the prompt must
    name an object (else `InvalidInputError` with its report), and every motion word must be understood
    (else `InvalidInputError` naming it: no motion is guessed). With frames
    the objects come from their last frame and the prompt adds motion for a single frame, gravity, walls
    and camera; the frames must have the output's aspect ratio."""
    parse = parse_world_prompt(
        prompt, width=width, height=height, num_frames=num_frames, fps=fps, require_objects=frames is None
    )
    if frames is None:
        spec = parse.spec
    else:
        frames = as_frames(frames)
        fh, fw = frames.shape[1:3]
        if abs(fw / fh - width / height) > 0.01 * width / height:
            raise InvalidInputError(
                f"The frames are {fw}x{fh} but the output is {width}x{height}; give frames with the output's "
                "aspect ratio (resize or crop them first)."
            )
        states = estimate_state(frames, fps=fps, prompt_parse=parse)
        if states and not parse.spec.objects and parse.not_understood:
            # "it keeps rolling to the right" over a picture: the pronoun (or the missing subject) is the
            # objects in the frames; name them and read the prompt again.
            parse = parse_world_prompt(
                _name_subject(prompt, states), width=width, height=height, num_frames=num_frames, fps=fps,
                require_objects=False,
            )  # fmt: skip
            states = estimate_state(frames, fps=fps, prompt_parse=parse)
        if not states:
            raise InvalidInputError(
                "No object of a known colour was found in the last given frame, so there is nothing to "
                f"simulate; give frames showing objects coloured {', '.join(COLORS)} on a light background."
            )
        spec = scene_from_state(
            states, width=width, height=height, num_frames=num_frames, fps=fps, prompt_parse=parse
        )
    parse.check_motion()  # a motion word not understood: refuse rather than simulate a guess
    return GroundedPlan(spec, simulate_tracks(spec), parse)
