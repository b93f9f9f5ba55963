"""An embedded stand-in for Ameyo's Customer Manager HTTP API, for demos and tests.

It speaks the vendor document's wire format over real HTTP (Starlette + uvicorn) and can inject the
failures a live deployment shows: proxy 502 pages, garbled or cut bodies, dropped connections and
slow answers. With a push URL, a dialer "calls" contacts and pushes each outcome there, as Ameyo
pushes call outcomes to a customer application. Nothing outside this package imports it, so the
server never loads it by accident.
"""

from .app import create_app
from .runner import SimulatorThread, serve
from .state import Faults, PushedCall, SimulatorConfig, SimulatorState

__all__ = [
    "Faults",
    "PushedCall",
    "SimulatorConfig",
    "SimulatorState",
    "SimulatorThread",
    "create_app",
    "serve",
]
