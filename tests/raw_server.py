"""Hand-made socket servers for the tests of what a real server cannot be made to send."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


def answer_each(sock: socket.socket, answer: Callable[[socket.socket], None],
                stopped: Callable[[], bool] = lambda: False) -> None:
    """Accept on ``sock`` in a daemon thread until it closes (or ``stopped()``), each
    connection answered by ``answer`` on a daemon thread of its own."""
    def accept() -> None:
        while not stopped():
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
