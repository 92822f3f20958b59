"""Exceptions raised by the client.

Programs switch on ``EdgeError.code`` (the daemon's machine-readable code, see docs/protocol.md "Errors");
``message`` is written for a person. Two subclasses also derive from the built-in exception a Python programmer
would catch anyway, so ``except ConnectionError`` and ``except TimeoutError`` work as expected.
"""

__all__ = ["EdgeError", "EdgeConnectionError", "EdgeTimeout", "ProtocolError"]


class EdgeError(Exception):
    """An error answered by edged (``code`` is the daemon's code, e.g. ``unknown_model``) or found by the client."""

    def __init__(self, code, message):
        # Only the message goes to Exception.args: OSError (a base of EdgeConnectionError) would otherwise read
        # (code, message) as (errno, strerror).
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return "{} [{}]".format(self.message, self.code)

    def __repr__(self):
        return "{}({!r}, {!r})".format(type(self).__name__, self.code, self.message)


class EdgeConnectionError(EdgeError, ConnectionError):
    """The connection could not be made, was refused (``busy``, ``peer_not_allowed``), was lost or was closed.

    Codes used by the client itself: ``connect_failed``, ``connection_lost``, ``connection_closed``.
    """


class EdgeTimeout(EdgeError, TimeoutError):
    """No answer (or no event) within the timeout. Code ``timeout``."""

    def __init__(self, message):
        super().__init__("timeout", message)


class ProtocolError(EdgeError):
    """Bytes that are not a valid frame, or a frame whose JSON or tensors are inconsistent. Code ``bad_frame``
    (or ``unsupported_version``). After one of these the stream cannot be trusted, so the client disconnects."""

    def __init__(self, message, code="bad_frame"):
        super().__init__(code, message)
