"""A faithful local DataForce server for tests and offline use, with fault injection."""

from ._archive_writer import luml_create_body, make_luml_archive
from ._counter import RequestCounter
from ._faults import Fault
from ._in_process import InProcessTransport
from ._local_satellite import LocalSatellite
from ._server import LocalServer
from ._store import User

__all__ = [
    "Fault",
    "InProcessTransport",
    "LocalSatellite",
    "LocalServer",
    "RequestCounter",
    "User",
    "luml_create_body",
    "make_luml_archive",
]
