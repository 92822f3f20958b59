"""Language models: ``generate`` streams text, ``cancel`` stops it, ``Chat`` keeps a conversation (docs/protocol.md,
"Language models").

A ``generate`` is answered by ``token`` frames (type 17) under its request id, one per token as the daemon produces
it, then one final frame of type 16 with the summary, or an error frame instead (possibly after some tokens). The
client's reader thread routes them into the generation's queue like a subscription's events: it never waits for the
program, so other requests on the connection are answered meanwhile. One turn cannot produce more tokens than the
model's context holds, which bounds what an unread generation buffers.
"""

import queue
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence

from .errors import EdgeError, EdgeTimeout, ProtocolError
from .frames import Frame, MessageType

__all__ = ["Generation", "Chat", "generate_request"]

_SAMPLING = (("temperature", "temperature"), ("top_k", "topK"), ("top_p", "topP"), ("min_p", "minP"),
             ("repetition_penalty", "repetitionPenalty"), ("seed", "seed"))


def _messages(messages):
    # type: (Iterable[Any]) -> List[Dict[str, str]]
    result = []
    for m in messages:
        if isinstance(m, Mapping):
            role, content = m.get("role"), m.get("content")
        else:
            role, content = m
        if not isinstance(role, str) or not isinstance(content, str):
            raise TypeError("a message is {{'role': str, 'content': str}} or a (role, content) pair, got {!r}".format(m))
        result.append({"role": role, "content": content})
    return result


def generate_request(model, prompt=None, messages=None, session=None, keep=False, max_tokens=None, stop=None,
                     stop_token_ids=None, **sampling):
    # type: (str, Optional[str], Optional[Iterable[Any]], Optional[str], bool, Optional[int], Any, Optional[Sequence[int]], Any) -> Dict[str, Any]
    """The JSON header of a ``generate`` request (pure; ``EdgeClient.generate`` sends it). Sampling keywords:
    ``temperature``, ``top_k``, ``top_p``, ``min_p``, ``repetition_penalty``, ``seed``; None leaves the daemon's
    default. The daemon checks the ranges (``invalid_sampling``)."""
    if not isinstance(model, str) or not model:
        raise ValueError("model must be a non-empty name")
    if (prompt is None) == (messages is None):
        raise ValueError("give exactly one of prompt (raw text) or messages (a chat)")
    unknown = set(sampling) - {name for name, _ in _SAMPLING}
    if unknown:
        raise TypeError("unknown sampling option(s): {}".format(", ".join(sorted(unknown))))
    header = {"model": model}  # type: Dict[str, Any]
    if prompt is not None:
        header["prompt"] = prompt
    else:
        header["messages"] = _messages(messages or [])
    if session is not None:
        header["session"] = session
    if keep:
        header["keep"] = True
    if max_tokens is not None:
        header["maxTokens"] = int(max_tokens)
    spec = {wire: sampling[name] for name, wire in _SAMPLING if sampling.get(name) is not None}
    if spec:
        header["sampling"] = spec
    if stop is not None:
        header["stop"] = [stop] if isinstance(stop, str) else list(stop)
    if stop_token_ids is not None:
        header["stopTokenIds"] = [int(t) for t in stop_token_ids]
    return header


class Generation:
    """One ``generate`` in flight. Iterate it for the answer's text pieces (str) as the daemon produces them; when
    the iteration ends, ``summary`` holds the daemon's final answer (``stopReason``, ``promptTokens``,
    ``generatedTokens``, ``timeToFirstTokenMs``, ``decodeTokensPerSecond``, ``session``, ...) and ``text`` the whole
    answer. :meth:`events` iterates the token events themselves (``{index, id, text, atUs, clockUs}``) instead.

    An error from the daemon (``EdgeError`` with its ``code``), possibly after some pieces, ends the iteration by
    raising. Each wait for the next token is bounded by ``timeout`` seconds (:class:`EdgeTimeout`; None: forever).

    :meth:`cancel` asks the daemon to stop: the pieces already sent still come, then the summary with stop reason
    ``cancelled``. :meth:`close` (also leaving a ``with`` block) cancels a generation still running and waits for
    its end, so a kept session can take its next turn at once. :meth:`result` reads to the end and returns the
    summary.
    """

    def __init__(self, client, request_id, route, timeout, on_end=None):
        # type: (Any, int, Any, Optional[float], Optional[Callable[[Generation], None]]) -> None
        self.client = client
        self.request_id = request_id
        self.timeout = timeout
        self.summary = None  # type: Optional[Dict[str, Any]]
        self.tokens = 0
        self._pieces = []  # type: List[str]
        self._route = route
        self._ended = False
        self._cancel_sent = False
        self._on_end = on_end

    @property
    def done(self):
        # type: () -> bool
        """True once the daemon has ended the generation (summary, error, or connection gone)."""
        return self._ended

    @property
    def text(self):
        # type: () -> str
        """The text received so far (all of it once the iteration has ended)."""
        return "".join(self._pieces)

    def __iter__(self):
        # type: () -> Iterator[str]
        events = self.events()
        try:
            for event in events:
                if event["text"]:  # an empty piece is half of a character split across tokens
                    yield event["text"]
        finally:
            events.close()  # left early: events() cancels the generation

    def events(self):
        # type: () -> Iterator[Dict[str, Any]]
        """The token events, ``{"index", "id", "text", "atUs", "clockUs"}``, as they arrive. Leaving the iteration early
        (``break``) closes the generation, as :meth:`close` does."""
        try:
            while True:
                event = self._next(self.timeout)
                if event is None:
                    return
                yield event
        except GeneratorExit:
            # Stop the daemon and wait for the end, so that a kept session is free for its next turn at once. Nothing
            # can be raised from here (the generator is being finalised): a failure only means it already ended.
            try:
                self.close()
            except EdgeError:
                pass
            raise

    def cancel(self):
        # type: () -> Optional[Dict[str, Any]]
        """Asks the daemon to stop; returns its answer (``{"requestId", "cancelled"}``), or None when there was
        nothing to cancel (already ended, or already asked). Keep iterating for the rest and the summary."""
        if self._ended or self._cancel_sent:
            return None
        self._cancel_sent = True
        return self.client.cancel(self.request_id)

    def close(self):
        # type: () -> Optional[Dict[str, Any]]
        """Cancels the generation if it is still running and waits for the daemon to end it (pieces that arrive
        meanwhile are dropped). Returns the summary (None if it ended with an error). Safe to call twice."""
        if self._ended:
            return self.summary
        try:
            self.cancel()
        except EdgeTimeout:
            raise
        except EdgeError:
            pass  # the connection is gone (the wait below sees it), or a daemon without cancel finishes anyway
        try:
            while self._next(self.timeout) is not None:
                pass
        except EdgeTimeout:
            raise
        except EdgeError:
            pass  # the daemon's error or the lost connection ended it: that end is all close waits for
        return self.summary

    def result(self):
        # type: () -> Dict[str, Any]
        """Reads the generation to its end and returns the summary (raises as iteration does)."""
        for _ in self.events():
            pass
        if self.summary is None:
            raise ProtocolError("generate {} ended without a summary".format(self.request_id))
        return self.summary

    def __enter__(self):
        # type: () -> Generation
        return self

    def __exit__(self, *exc_info):
        # type: (Any) -> None
        self.close()

    def __repr__(self):
        return "Generation(request_id={}, tokens={}, done={}, stopReason={!r})".format(
            self.request_id, self.tokens, self._ended, (self.summary or {}).get("stopReason"))

    def _next(self, timeout):
        # type: (Optional[float]) -> Optional[Dict[str, Any]]
        if self._ended:
            return None
        try:
            item = self._route.queue.get(timeout=timeout)
        except queue.Empty:
            raise EdgeTimeout("No token of generate {} from edged at {} within {} s.".format(
                self.request_id, self.client.path, timeout))
        if not isinstance(item, Frame):  # the connection's failure, which the reader puts in every route
            self._end()
            raise item.error()
        if item.is_error:
            self._end()
            raise item.error()
        body = item.json_object()
        if not isinstance(body, dict):
            raise ProtocolError("A {} frame's JSON header is not an object.".format(MessageType.name(item.type)))
        if item.type == MessageType.TOKEN:
            self.tokens += 1
            self._pieces.append(str(body.get("text") or ""))
            return body
        if item.type == MessageType.GENERATE:
            self.summary = body
            self._end()
            return None
        raise ProtocolError("generate {} received a {} frame.".format(self.request_id, MessageType.name(item.type)))

    def _end(self):
        # type: () -> None
        self._ended = True
        self.client._unroute(self.request_id)
        if self._on_end is not None:
            on_end, self._on_end = self._on_end, None
            on_end(self)


class Chat:
    """A conversation whose state the daemon keeps: the first turn sends the whole conversation with ``keep``, later
    turns only the new message with the session's id, so the daemon prefills only that.

    >>> chat = client.chat("bitnet", system="Be brief.", temperature=0.7)
    >>> for piece in chat.send("What is the capital of France?"):
    ...     print(piece, end="", flush=True)
    >>> chat.ask("And of Italy?")           # the whole answer as one string
    'Rome.'

    ``session`` is the daemon's session id (None before the first answer and after :meth:`reset`); ``messages`` is
    the transcript. A turn cut short (cancel, close) keeps what was generated: the daemon's session holds it too. A
    session the daemon no longer holds fails the turn with ``unknown_session``: :meth:`reset` starts afresh.
    """

    def __init__(self, client, model, system=None, **options):
        # type: (Any, str, Optional[str], Any) -> None
        self.client = client
        self.model = model
        self.options = options
        self.session = None  # type: Optional[str]
        self.messages = [{"role": "system", "content": system}] if system else []  # type: List[Dict[str, str]]
        self._system = list(self.messages)

    def send(self, text):
        # type: (str) -> Generation
        """Sends one user message; iterate the returned :class:`Generation` for the answer."""
        user = {"role": "user", "content": text}
        if self.session is None:
            header = generate_request(self.model, messages=self.messages + [user], keep=True, **self.options)
        else:
            header = generate_request(self.model, messages=[user], session=self.session, **self.options)

        def answered(generation):
            # type: (Generation) -> None
            if generation.summary is not None:
                self.messages += [user, {"role": "assistant", "content": generation.text}]
                self.session = generation.summary.get("session")

        return self.client._start_generation(header, on_end=answered)

    def ask(self, text):
        # type: (str) -> str
        """Sends one user message and returns the whole answer."""
        generation = self.send(text)
        generation.result()
        return generation.text

    def reset(self):
        # type: () -> None
        """Starts a new conversation (the system message only); the next turn opens a new session."""
        self.session = None
        self.messages = list(self._system)
