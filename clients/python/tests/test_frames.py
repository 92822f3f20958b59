"""Pure frame encoding/decoding (no daemon): byte-exact against docs/protocol.md's worked example, and the ways a
byte stream can be truncated or malformed."""

import re
import struct
import unittest

import support  # noqa: F401  (puts the package on sys.path)
from edgeruntime import EdgeError, ProtocolError, encode_infer_request
from edgeruntime.frames import (FLAG_ERROR, FLAG_RESPONSE, HEADER_SIZE, FrameDecoder, MessageType, decode_frame,
                                decode_header, encode_frame, encode_header, encode_json, iter_frames,
                                try_decode_frame)

# docs/protocol.md, "Worked example": the infer request (id 7) and response for model 'add', y = x + [1..6].
EXAMPLE_REQUEST = bytes.fromhex(
    "45444752010600000700000000000000" "5e000000180000007b226d6f64656c22"
    "3a22616464222c22696e70757473223a" "5b7b226e616d65223a2278222c226474"
    "797065223a22666c6f61743332222c22" "7368617065223a5b322c335d2c226f66"
    "66736574223a302c226c656e67746822" "3a32347d5d7d000020410000a0410000"
    "f041000020420000484200007042")
EXAMPLE_RESPONSE = bytes.fromhex(
    "45444752010601000700000000000000" "9d000000180000007b226d6f64656c22"
    "3a22616464222c226f75747075747322" "3a5b7b226e616d65223a2279222c2264"
    "74797065223a22666c6f61743332222c" "227368617065223a5b322c335d2c226f"
    "6666736574223a302c226c656e677468" "223a32347d5d2c2274696d696e67223a"
    "7b227175657565645573223a302e332c" "22696e666572656e63655573223a3134"
    "392e372c22746f74616c5573223a3532" "342e357d7d000030410000b041000004"
    "420000304200005c4200008442")

X = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
Y = [11.0, 22.0, 33.0, 44.0, 55.0, 66.0]


def hex_dumps_in_protocol_doc():
    """The byte dumps of the worked example as printed in docs/protocol.md (request first, then response)."""
    text = (support.REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
    section = text[text.index("## Worked example"):]
    dumps = []
    for block in re.findall(r"```\n(.*?)```", section, re.S):
        data = bytearray()
        for line in block.splitlines():
            match = re.match(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ?)+)", line)
            if match:
                if int(match.group(1), 16) != len(data):
                    raise AssertionError("dump offset {} out of sequence".format(match.group(1)))
                data += bytes.fromhex(match.group(2))
        if data:
            dumps.append(bytes(data))
    return dumps


class WorkedExampleTests(unittest.TestCase):
    def test_embedded_bytes_match_the_specification(self):
        # If the worked example in docs/protocol.md changes, this client's tests must be updated with it.
        self.assertEqual(hex_dumps_in_protocol_doc(), [EXAMPLE_REQUEST, EXAMPLE_RESPONSE])
        self.assertEqual(len(EXAMPLE_REQUEST), 142)
        self.assertEqual(len(EXAMPLE_RESPONSE), 205)

    def test_client_encodes_the_infer_request_byte_for_byte(self):
        self.assertEqual(encode_infer_request(7, "add", {"x": ("float32", [2, 3], X)}), EXAMPLE_REQUEST)

    def test_raw_bytes_input_encodes_the_same(self):
        raw = struct.pack("<6f", *X)
        self.assertEqual(encode_infer_request(7, "add", {"x": ("float32", (2, 3), raw)}), EXAMPLE_REQUEST)

    def test_encode_frame_writes_the_response_byte_for_byte(self):
        header = {"model": "add",
                  "outputs": [{"name": "y", "dtype": "float32", "shape": [2, 3], "offset": 0, "length": 24}],
                  "timing": {"queuedUs": 0.3, "inferenceUs": 149.7, "totalUs": 524.5}}
        self.assertEqual(encode_frame(MessageType.INFER, 7, header, struct.pack("<6f", *Y), flags=FLAG_RESPONSE),
                         EXAMPLE_RESPONSE)

    def test_decode_the_response(self):
        frame = decode_frame(EXAMPLE_RESPONSE)
        self.assertEqual(frame.type, MessageType.INFER)
        self.assertEqual(frame.flags, FLAG_RESPONSE)
        self.assertTrue(frame.header.is_response)
        self.assertFalse(frame.is_error)
        self.assertEqual(frame.request_id, 7)
        self.assertEqual(frame.header.json_length, 157)
        self.assertEqual(frame.header.payload_length, 24)
        body = frame.json_object()
        self.assertEqual(body["outputs"][0]["name"], "y")
        self.assertEqual(body["timing"]["inferenceUs"], 149.7)
        self.assertEqual(list(struct.unpack("<6f", frame.payload)), Y)

    def test_decode_the_request(self):
        frame = decode_frame(EXAMPLE_REQUEST)
        self.assertEqual((frame.type, frame.flags, frame.request_id), (MessageType.INFER, 0, 7))
        self.assertEqual(frame.json_object()["inputs"][0]["length"], 24)
        self.assertEqual(bytes(frame.payload), struct.pack("<6f", *X))


class HeaderTests(unittest.TestCase):
    def test_header_layout_is_little_endian(self):
        header = encode_header(MessageType.SUBSCRIBE, 0x0102030405060708, 0x11, 0x2233, FLAG_RESPONSE | FLAG_ERROR)
        self.assertEqual(header, b"EDGR\x01\x09\x03\x00" + bytes([8, 7, 6, 5, 4, 3, 2, 1])
                         + b"\x11\x00\x00\x00\x33\x22\x00\x00")
        decoded = decode_header(header)
        self.assertEqual(decoded.type, 9)
        self.assertEqual(decoded.request_id, 0x0102030405060708)
        self.assertTrue(decoded.is_error and decoded.is_response)
        self.assertEqual(decoded.frame_length, HEADER_SIZE + 0x11 + 0x2233)

    def test_largest_request_id_round_trips(self):
        frame = decode_frame(encode_frame(MessageType.HEALTH, 2 ** 64 - 1, {}))
        self.assertEqual(frame.request_id, 2 ** 64 - 1)

    def test_out_of_range_fields_are_refused_when_encoding(self):
        with self.assertRaises(ValueError):
            encode_header(256, 1, 0, 0)
        with self.assertRaises(ValueError):
            encode_header(1, 2 ** 64, 0, 0)
        with self.assertRaises(ValueError):
            encode_header(1, -1, 0, 0)
        with self.assertRaises(ValueError):
            encode_header(1, 1, 2 ** 31, 0)

    def test_message_type_numbers_follow_the_specification(self):
        self.assertEqual([MessageType.HELLO, MessageType.MODELS, MessageType.LOAD, MessageType.UNLOAD,
                          MessageType.INFO, MessageType.INFER, MessageType.STATS, MessageType.HEALTH,
                          MessageType.SUBSCRIBE, MessageType.EVENT, MessageType.UNSUBSCRIBE, MessageType.INJECT,
                          MessageType.PIPELINES, MessageType.PIPELINE_LOAD, MessageType.PIPELINE_RUN,
                          MessageType.GENERATE, MessageType.TOKEN, MessageType.CANCEL],
                         list(range(1, 19)))
        self.assertEqual(MessageType.name(10), "event")
        self.assertEqual(MessageType.name(15), "pipeline-run")
        self.assertEqual(MessageType.name(17), "token")
        self.assertEqual(MessageType.name(99), "type 99")

    def test_json_is_compact_utf8_in_key_order(self):
        self.assertEqual(encode_json({"sensor": "bouton-é", "edge": "rising"}),
                         '{"sensor":"bouton-é","edge":"rising"}'.encode("utf-8"))
        with self.assertRaises(ValueError):
            encode_json({"value": float("nan")})  # NaN is not JSON; the daemon would refuse it

    def test_empty_json_header_decodes_as_empty_object(self):
        frame = decode_frame(encode_frame(MessageType.MODELS, 3, None))
        self.assertEqual(frame.header.json_length, 0)
        self.assertEqual(frame.json_object(), {})


class MalformedTests(unittest.TestCase):
    def test_every_truncation_is_reported_as_truncated(self):
        for cut in range(len(EXAMPLE_REQUEST)):
            with self.subTest(cut=cut):
                self.assertIsNone(try_decode_frame(EXAMPLE_REQUEST[:cut]))
                with self.assertRaises(ProtocolError) as raised:
                    decode_frame(EXAMPLE_REQUEST[:cut])
                self.assertIn("Truncated", raised.exception.message)
                self.assertEqual(raised.exception.code, "bad_frame")

    def test_trailing_bytes_are_refused_by_decode_frame(self):
        with self.assertRaises(ProtocolError):
            decode_frame(EXAMPLE_REQUEST + b"\x00")

    def test_bad_magic(self):
        with self.assertRaises(ProtocolError) as raised:
            decode_frame(b"EDGX" + EXAMPLE_REQUEST[4:])
        self.assertEqual(raised.exception.code, "bad_frame")
        self.assertIsInstance(raised.exception, EdgeError)

    def test_bad_magic_is_seen_from_the_header_alone(self):
        # No need to wait for a payload that will never make sense.
        with self.assertRaises(ProtocolError):
            try_decode_frame(b"HTTP/1.1 200 OK\r\n\r\nxxxxxxxxx")

    def test_other_version(self):
        data = bytearray(EXAMPLE_REQUEST)
        data[4] = 2
        with self.assertRaises(ProtocolError) as raised:
            decode_frame(bytes(data))
        self.assertEqual(raised.exception.code, "unsupported_version")

    def test_length_fields_above_2_31_are_malformed(self):
        for field in (16, 20):
            data = bytearray(EXAMPLE_REQUEST[:HEADER_SIZE])
            struct.pack_into("<I", data, field, 2 ** 31)
            with self.subTest(field=field), self.assertRaises(ProtocolError):
                try_decode_frame(bytes(data))

    def test_invalid_json_header(self):
        frame = decode_frame(encode_frame(MessageType.HEALTH, 1, b"{not json", flags=FLAG_RESPONSE))
        with self.assertRaises(ProtocolError):
            frame.json_object()
        frame = decode_frame(encode_frame(MessageType.HEALTH, 1, b"\xff\xfe", flags=FLAG_RESPONSE))
        with self.assertRaises(ProtocolError):
            frame.json_object()

    def test_error_frame_becomes_edge_error(self):
        data = encode_frame(MessageType.INFER, 9, {"code": "unknown_model", "message": "No model named 'x'."},
                            flags=FLAG_RESPONSE | FLAG_ERROR)
        self.assertEqual(data[6:8], b"\x03\x00")
        error = decode_frame(data).error()
        self.assertEqual((error.code, error.message), ("unknown_model", "No model named 'x'."))
        self.assertIn("unknown_model", str(error))


class DecoderTests(unittest.TestCase):
    def frames(self):
        return [
            encode_frame(MessageType.SUBSCRIBE, 5, {"firstId": 1, "lastId": 3}, flags=FLAG_RESPONSE),
            encode_frame(MessageType.EVENT, 5, {"id": 1}, b"\x01" * 13, flags=FLAG_RESPONSE),
            EXAMPLE_RESPONSE,
            encode_frame(MessageType.EVENT, 5, None, flags=FLAG_RESPONSE),
        ]

    def test_frames_split_at_every_byte(self):
        stream = b"".join(self.frames())
        decoder = FrameDecoder()
        received = []
        for i in range(len(stream)):
            received.extend(decoder.frames(stream[i:i + 1]))
        self.assertEqual([f.request_id for f in received], [5, 5, 7, 5])
        self.assertEqual([f.type for f in received], [9, 10, 6, 10])
        self.assertEqual(bytes(received[1].payload), b"\x01" * 13)
        self.assertEqual(decoder.buffered, 0)

    def test_many_frames_in_one_chunk(self):
        decoder = FrameDecoder()
        received = decoder.frames(b"".join(self.frames()) + EXAMPLE_REQUEST[:30])
        self.assertEqual(len(received), 4)
        self.assertEqual(decoder.buffered, 30)
        received = decoder.frames(EXAMPLE_REQUEST[30:])
        self.assertEqual(len(received), 1)
        self.assertEqual(received[0].json_object()["model"], "add")

    def test_iter_frames_reports_a_stream_ending_inside_a_frame(self):
        with self.assertRaises(ProtocolError):
            list(iter_frames([EXAMPLE_REQUEST, EXAMPLE_RESPONSE[:100]]))
        self.assertEqual(len(list(iter_frames([EXAMPLE_REQUEST[:7], EXAMPLE_REQUEST[7:]]))), 1)

    def test_decoder_stays_broken_after_bad_bytes(self):
        decoder = FrameDecoder()
        with self.assertRaises(ProtocolError):
            decoder.frames(b"garbage that is not a frame....")
        # The stream cannot be resynchronised: even a good frame afterwards is not accepted.
        with self.assertRaises(ProtocolError):
            decoder.frames(EXAMPLE_REQUEST)

    def test_payload_is_a_writable_copy(self):
        data = bytearray(EXAMPLE_RESPONSE)
        frame = FrameDecoder().frames(data)[0]
        data[-1] = 0  # the decoder's frame does not alias the caller's buffer
        self.assertEqual(frame.payload[-1], 0x42)
        frame.payload[0] = 1  # and it is the receiver's to write
        self.assertEqual(frame.payload[0], 1)


if __name__ == "__main__":
    unittest.main()
