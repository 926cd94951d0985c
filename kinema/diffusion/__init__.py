"""Flow matching: training loss, noise schedule helpers and diffusers schedulers."""

from kinema.diffusion.flow_matching import (
    add_noise,
    apply_guidance,
    flow_matching_loss,
    make_scheduler,
    resolution_shift,
    sample_sigmas,
)

__all__ = [
    "add_noise",
    "apply_guidance",
    "flow_matching_loss",
    "make_scheduler",
    "resolution_shift",
    "sample_sigmas",
]
