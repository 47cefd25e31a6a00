"""One Parley per user: a second launch hands its request (an invite link, or just "come
to the front") to the running one over a local socket, and ends.

The socket's name is per user (``parley-<user>``), so two people on one computer each
have their own Parley. ``PARLEY_INSTANCE`` names it instead: ``parley --self-test`` sets
it, so that the launches its own link check causes reach the self-test and not a Parley
the person is running. A name left by a crashed instance is taken over: if nothing
answers on it, it is stale.
"""

from __future__ import annotations

import getpass
import logging
import os
import re

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

#: What a second launch sends when it has nothing else to say.
COME_FORWARD = "open"
CONNECT_MS = 500


def instance_name() -> str:
    if named := os.environ.get("PARLEY_INSTANCE"):
        return named
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return "parley-" + re.sub(r"[^A-Za-z0-9_.-]", "_", user)


def hand_over(message: str, name: str | None = None) -> bool:
    """Give ``message`` to a running Parley; False when none is running."""
    socket = QLocalSocket()
    socket.connectToServer(name or instance_name())
    if not socket.waitForConnected(CONNECT_MS):
        return False
    socket.write(message.encode() + b"\n")
    socket.flush()
    socket.waitForBytesWritten(CONNECT_MS)
    socket.disconnectFromServer()
    return True


class SingleInstance(QObject):
    """The running Parley's end: ``received`` carries each later launch's message."""

    received = Signal(str)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        if self.server.listen(self.name):
            return True
        QLocalServer.removeServer(self.name)  # stale: nothing answered on it
        listening = self.server.listen(self.name)
        if not listening:
            log.warning("no single-instance socket: %s", self.server.errorString())
        return listening

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data()).decode(errors="replace").strip()
            if line:
                self.received.emit(line[:4096])

    def close(self) -> None:
        self.server.close()
