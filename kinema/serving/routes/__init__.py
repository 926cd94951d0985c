"""The API's routes, one `APIRouter` per resource: `videos.py` (/v1/videos and everything under it),
`models.py` (/v1/models), `system.py` (health, the studio's config, the studio page), `metrics.py`
(/metrics, Prometheus). Routes parse the
request, take their tenant and service from `deps.py`, and call the service; nothing else."""

from kinema.serving.routes import metrics, models, system, videos

ROUTERS = (videos.router, models.router, system.router, metrics.router)

__all__ = ["ROUTERS"]
