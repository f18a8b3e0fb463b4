"""The web backend: FastAPI REST + WebSocket API over the store, with a task queue (in-process or ARQ on Redis)."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
