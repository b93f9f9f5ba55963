"""An embedded stand-in for Ameyo's Customer Manager HTTP API, for demos and tests.

It speaks the vendor document's wire format over real HTTP (Starlette + uvicorn) and can inject the
failures a live deployment shows: proxy 502 pages, garbled or cut bodies, dropped connections and
slow answers. Nothing outside this package imports it, so the server never loads it by accident.
"""

from .app import create_app
from .runner import SimulatorThread, serve
from .state import Faults, SimulatorConfig, SimulatorState

__all__ = ["Faults", "SimulatorConfig", "SimulatorState", "SimulatorThread", "create_app", "serve"]
