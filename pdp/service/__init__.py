"""The decision service: `pdp serve`, a FastAPI policy decision point with an audit trail.

The only package of pdp that imports FastAPI. `create_app` builds the app;
`pdp.service.require` protects an application's own FastAPI endpoints.
"""

from pdp.service.app import create_app
from pdp.service.config import ServiceConfig, load_config

__all__ = ["ServiceConfig", "create_app", "load_config"]
