"""generate, cancel and Chat against the scripted fake daemon (no edged needed): token frames then the summary, an
error after some tokens, leaving early (cancel, then the stream's end), a generation sharing the connection with
other requests, a chat's kept session. Plus the request JSON, which is pure."""

import re
import unittest

import support
from edgeruntime import EdgeClient, EdgeError, EdgeTimeout, Generation
from edgeruntime.frames import FLAG_ERROR, FLAG_RESPONSE, FrameDecoder, MessageType, encode_frame
from edgeruntime.generation import generate_request
from test_client import FakeDaemon


def streamed_answer_dumps():
    """The byte dumps of docs/protocol.md's "On the wire: a short streamed answer": request, two tokens, final."""
    text = (support.REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    start = text.index("#### On the wire: a short streamed answer")
    section = text[start:text.index("\n### ", start)]
    dumps = []
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        data = bytearray()
        for line in block.splitlines():
            match = re.match(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ?)+)", line)
            if match:
                data += bytes.fromhex(match.group(2))
        dumps.append(bytes(data))
    return dumps


def token(fake, generate, index, text):
    fake.reply(generate, {"index": index, "id": 100 + index, "text": text, "atUs": 1000.0 * (index + 1)},
               message_type=MessageType.TOKEN)


def final(fake, generate, stop_reason="eos", generated=2, session=None):
    summary = {"model": "bitnet", "stopReason": stop_reason, "promptTokens": 7, "generatedTokens": generated,
               "timeToFirstTokenMs": 85.5, "prefillTokensPerSecond": 82.1, "decodeTokensPerSecond": 14.25,
               "totalMs": 160.25, "cachedTokens": 3, "contextUsed": 12, "contextLength": 4096}
    if session is not None:
        summary["session"] = session
    fake.reply(generate, summary, message_type=MessageType.GENERATE)


def expect_cancel(fake, generate):
    """The next frame must be a cancel naming the generate; answers it."""
    cancel = fake.receive()
    assert cancel.type == MessageType.CANCEL, cancel
    assert cancel.json_object() == {"requestId": generate.request_id}, cancel.json_object()
    fake.reply(cancel, {"requestId": generate.request_id, "cancelled": True})
    return cancel


class GenerateRequestTests(unittest.TestCase):
    def test_sampling_options_use_the_protocols_names_and_unset_ones_are_left_out(self):
        self.assertEqual(
            generate_request("bitnet", prompt="Hi", max_tokens=8, temperature=0.7, top_k=0, top_p=0.9, min_p=0.05,
                             repetition_penalty=1.1, seed=2 ** 64 - 1, stop="\n", stop_token_ids=[2]),
            {"model": "bitnet", "prompt": "Hi", "maxTokens": 8,
             "sampling": {"temperature": 0.7, "topK": 0, "topP": 0.9, "minP": 0.05, "repetitionPenalty": 1.1,
                          "seed": 2 ** 64 - 1},
             "stop": ["\n"], "stopTokenIds": [2]})
        self.assertEqual(generate_request("bitnet", prompt="Hi"), {"model": "bitnet", "prompt": "Hi"})

    def test_messages_session_and_keep(self):
        self.assertEqual(
            generate_request("bitnet", messages=[("system", "Be brief."), {"role": "user", "content": "Hi"}], keep=True),
            {"model": "bitnet", "messages": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Hi"}], "keep": True})
        self.assertEqual(generate_request("bitnet", messages=[("user", "More")], session="s-1"),
                         {"model": "bitnet", "messages": [{"role": "user", "content": "More"}], "session": "s-1"})

    def test_the_request_in_the_protocol_page_is_encoded_byte_for_byte(self):
        request, first, second, final_frame = streamed_answer_dumps()
        header = generate_request("bitnet", messages=[("user", "Hi")], keep=True, max_tokens=2)
        self.assertEqual(encode_frame(MessageType.GENERATE, 9, header), request)
        frames = FrameDecoder().frames(first + second + final_frame)
        self.assertEqual([f.type for f in frames], [MessageType.TOKEN, MessageType.TOKEN, MessageType.GENERATE])
        self.assertEqual("".join(f.json_object()["text"] for f in frames[:2]), "Hello!")
        self.assertEqual(frames[2].json_object()["session"], "9c1e0a4b")

    def test_mistakes_are_refused_before_sending(self):
        with self.assertRaises(ValueError):
            generate_request("bitnet")  # neither prompt nor messages
        with self.assertRaises(ValueError):
            generate_request("bitnet", prompt="a", messages=[("user", "b")])
        with self.assertRaises(TypeError):
            generate_request("bitnet", prompt="a", top_q=0.5)
        with self.assertRaises(TypeError):
            generate_request("bitnet", messages=[("user", 5)])


class GenerationTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakeDaemon()
        self.addCleanup(self.fake.close)

    def client(self, **options):
        client = EdgeClient(self.fake.path, **options)
        self.addCleanup(client.close)
        return client

    def test_pieces_arrive_in_order_and_the_summary_after_them(self):
        def script(fake):
            generate = fake.receive()
            assert generate.type == MessageType.GENERATE, generate
            assert generate.json_object() == {"model": "bitnet", "prompt": "The capital of France is", "maxTokens": 8,
                                              "sampling": {"temperature": 0.0}}, generate.json_object()
            token(fake, generate, 0, " Par")
            token(fake, generate, 1, "")
            token(fake, generate, 2, "is")
            final(fake, generate, generated=3)

        self.fake.run(script)
        client = self.client()
        generation = client.generate("bitnet", prompt="The capital of France is", max_tokens=8, temperature=0.0)
        self.assertIsInstance(generation, Generation)
        self.assertIsNone(generation.summary)
        pieces = list(generation)
        self.fake.finish()
        self.assertEqual(pieces, [" Par", "is"])  # the empty piece (half a character) is not one
        self.assertEqual(generation.text, " Paris")
        self.assertEqual(generation.tokens, 3)
        self.assertTrue(generation.done)
        self.assertEqual(generation.summary["stopReason"], "eos")
        self.assertEqual(generation.summary["generatedTokens"], 3)
        self.assertEqual(generation.summary["decodeTokensPerSecond"], 14.25)
        self.assertEqual(client.stray_frames, 0)

    def test_an_image_travels_in_the_payload_with_its_descriptor_in_the_request(self):
        seen = {}

        def script(fake):
            generate = fake.receive()
            seen["header"] = generate.json_object()
            seen["payload"] = bytes(generate.payload)
            token(fake, generate, 0, "a dark bag")
            final(fake, generate, generated=1)

        self.fake.run(script)
        client = self.client()
        pixels = ("uint8", [2, 3], bytes([0, 1, 2, 253, 254, 255]))
        generation = client.generate("vlm", prompt="", max_tokens=4, image=pixels)
        self.assertEqual("".join(generation), "a dark bag")
        self.fake.finish()
        self.assertEqual(seen["header"], {"model": "vlm", "prompt": "", "maxTokens": 4,
                                          "image": {"name": "image", "dtype": "uint8", "shape": [2, 3],
                                                    "offset": 0, "length": 6}})
        self.assertEqual(seen["payload"], bytes([0, 1, 2, 253, 254, 255]))

    def test_events_give_the_token_frames_themselves(self):
        def script(fake):
            generate = fake.receive()
            token(fake, generate, 0, "Hi")
            final(fake, generate, generated=1)

        self.fake.run(script)
        generation = self.client().generate("bitnet", prompt="Say hi")
        events = list(generation.events())
        self.fake.finish()
        self.assertEqual(events, [{"index": 0, "id": 100, "text": "Hi", "atUs": 1000.0}])
        self.assertEqual(generation.result()["stopReason"], "eos")

    def test_an_error_after_some_pieces_raises_with_the_daemons_code(self):
        def script(fake):
            generate = fake.receive()
            token(fake, generate, 0, "Once")
            fake.reply(generate, {"code": "context_overflow", "message": "The session's cache is full."},
                       flags=FLAG_RESPONSE | FLAG_ERROR)
            token(fake, generate, 1, " upon")  # after the error: nobody routes it

        self.fake.run(script)
        generation = self.client().generate("bitnet", prompt="Tell me everything")
        pieces = []
        with self.assertRaises(EdgeError) as raised:
            for piece in generation:
                pieces.append(piece)
        self.fake.finish()
        self.assertEqual(pieces, ["Once"])
        self.assertEqual(raised.exception.code, "context_overflow")
        self.assertIsNone(generation.summary)
        self.assertTrue(generation.done)

    def test_breaking_out_early_cancels_the_request_and_waits_for_the_stream_to_end(self):
        def script(fake):
            generate = fake.receive()
            token(fake, generate, 0, "1")
            token(fake, generate, 1, " 2")
            expect_cancel(fake, generate)
            token(fake, generate, 2, " 3")  # already on its way: dropped
            final(fake, generate, stop_reason="cancelled", generated=3, session="s-1")

        self.fake.run(script)
        client = self.client()
        generation = client.generate("bitnet", prompt="Count to a thousand", keep=True)
        for piece in generation:
            break
        # By the time the loop is left, the daemon has ended the generation: its session is free.
        self.assertTrue(generation.done)
        self.fake.finish()
        self.assertEqual(generation.summary["stopReason"], "cancelled")
        self.assertEqual(generation.summary["session"], "s-1")

    def test_cancel_stops_the_daemon_and_the_rest_still_arrives(self):
        def script(fake):
            generate = fake.receive()
            expect_cancel(fake, generate)
            token(fake, generate, 0, "a")
            final(fake, generate, stop_reason="cancelled", generated=1)

        self.fake.run(script)
        generation = self.client().generate("bitnet", prompt="Go on")
        self.assertEqual(generation.cancel(), {"requestId": generation.request_id, "cancelled": True})
        self.assertIsNone(generation.cancel())  # asked once
        self.assertEqual(list(generation), ["a"])
        self.fake.finish()
        self.assertEqual(generation.summary["stopReason"], "cancelled")

    def test_a_with_block_closes_a_generation_left_unread(self):
        def script(fake):
            generate = fake.receive()
            token(fake, generate, 0, "x")
            expect_cancel(fake, generate)
            final(fake, generate, stop_reason="cancelled", generated=1)

        self.fake.run(script)
        with self.client().generate("bitnet", prompt="Ramble") as generation:
            pass
        self.fake.finish()
        self.assertEqual(generation.summary["stopReason"], "cancelled")

    def test_a_generation_shares_the_connection_with_other_requests(self):
        def script(fake):
            generate = fake.receive()
            token(fake, generate, 0, "Hel")
            health = fake.receive()
            fake.reply(health, {"status": "ok"})
            token(fake, generate, 1, "lo")
            final(fake, generate)

        self.fake.run(script)
        client = self.client()
        generation = client.generate("bitnet", prompt="Hi")
        self.assertEqual(client.health(), {"status": "ok"})  # answered between the tokens
        self.assertEqual("".join(generation), "Hello")
        self.fake.finish()
        self.assertEqual(client.stray_frames, 0)

    def test_waiting_longer_than_the_timeout_for_a_token_raises_edge_timeout(self):
        def script(fake):
            fake.receive()
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client()
        generation = client.generate("bitnet", prompt="Hi", timeout=0.2)
        with self.assertRaises(EdgeTimeout):
            next(iter(generation))
        client.close()
        self.fake.finish()

    def test_client_cancel_names_the_request(self):
        def script(fake):
            cancel = fake.receive()
            assert cancel.type == MessageType.CANCEL and cancel.json_object() == {"requestId": 41}, cancel
            fake.reply(cancel, {"requestId": 41, "cancelled": False})

        self.fake.run(script)
        self.assertEqual(self.client().cancel(41), {"requestId": 41, "cancelled": False})
        self.fake.finish()


class ChatTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakeDaemon()
        self.addCleanup(self.fake.close)

    def test_the_first_turn_keeps_a_session_and_later_turns_send_only_the_new_message(self):
        def script(fake):
            first = fake.receive()
            assert first.json_object() == {
                "model": "bitnet", "messages": [{"role": "system", "content": "Be brief."},
                                                {"role": "user", "content": "Capital of France?"}],
                "keep": True, "maxTokens": 16}, first.json_object()
            token(fake, first, 0, "Paris.")
            final(fake, first, session="s-1")
            second = fake.receive()
            assert second.json_object() == {
                "model": "bitnet", "messages": [{"role": "user", "content": "Of Italy?"}], "session": "s-1",
                "maxTokens": 16}, second.json_object()
            token(fake, second, 0, "Rome")
            token(fake, second, 1, ".")
            final(fake, second, session="s-1")
            third = fake.receive()
            assert third.json_object()["keep"] is True and "session" not in third.json_object(), third.json_object()
            assert [m["role"] for m in third.json_object()["messages"]] == ["system", "user"], third.json_object()
            final(fake, third, generated=0, session="s-2")

        self.fake.run(script)
        client = EdgeClient(self.fake.path)
        self.addCleanup(client.close)
        chat = client.chat("bitnet", system="Be brief.", max_tokens=16)
        self.assertEqual("".join(chat.send("Capital of France?")), "Paris.")
        self.assertEqual(chat.session, "s-1")
        self.assertEqual(chat.ask("Of Italy?"), "Rome.")
        self.assertEqual([(m["role"], m["content"]) for m in chat.messages],
                         [("system", "Be brief."), ("user", "Capital of France?"), ("assistant", "Paris."),
                          ("user", "Of Italy?"), ("assistant", "Rome.")])
        chat.reset()
        self.assertIsNone(chat.session)
        self.assertEqual(chat.ask("Hello again"), "")
        self.fake.finish()
        self.assertEqual(chat.session, "s-2")


if __name__ == "__main__":
    unittest.main()
