"""The API's routes, one `APIRouter` per resource: `videos.py` (/v1/videos and everything under it),
`models.py` (/v1/models), `system.py` (health, the studio's config, the studio page). Routes parse the
request, take their tenant and service from `deps.py`, and call the service; nothing else."""

from kinema.serving.routes import models, system, videos

ROUTERS = (videos.router, models.router, system.router)

__all__ = ["ROUTERS"]
