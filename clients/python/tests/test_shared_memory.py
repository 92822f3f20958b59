"""Shared-memory regions without edged: the memfd (sealed against shrinking and growing, mapped shared), the
region-register / region-unregister / infer frames byte for byte, output descriptors that name a region, and the
client against the scripted fake daemon, which receives the memfd over the socket as edged does."""

import fcntl
import gc
import mmap
import os
import socket
import struct
import unittest

import support  # noqa: F401  (puts the package on sys.path)
from edgeruntime import (EdgeClient, EdgeError, ProtocolError, RegionTensor, SharedRegion, Tensor,
                         encode_infer_request)
from edgeruntime.frames import FLAG_ERROR, FLAG_RESPONSE, MessageType, decode_frame, encode_frame
from edgeruntime.tensors import HAVE_NUMPY, unpack_tensors
from test_client import FakeDaemon

if HAVE_NUMPY:
    import numpy as np

F_GET_SEALS = getattr(fcntl, "F_GET_SEALS", 1034)
SHRINK_AND_GROW = 2 | 4  # F_SEAL_SHRINK | F_SEAL_GROW

X = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
Y = [11.0, 22.0, 33.0, 44.0, 55.0, 66.0]


def memfds_named(name):
    """This process's descriptors and mappings of the memfd the client creates for region ``name``."""
    tag = "/memfd:edgeruntime:" + name + " "
    fds = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            if (os.readlink("/proc/self/fd/" + entry) + " ").startswith(tag):
                fds.append(int(entry))
        except OSError:
            pass  # the descriptor listdir itself used
    with open("/proc/self/maps") as maps:
        mappings = [line for line in maps if (line.rstrip("\n") + " ").split(None, 5)[-1].startswith(tag)]
    return fds, mappings


def receive_with_fds(fake):
    """The next frame, and the descriptors that came with its bytes (as edged reads a region-register)."""
    fds = []
    while True:
        frame = fake.decoder.next_frame()
        if frame is not None:
            return frame, fds
        data, received, _, _ = socket.recv_fds(fake.conn, 65536, 4)
        fds.extend(received)
        if not data:
            raise EOFError("the client closed the connection")
        fake.decoder.feed(data)


def accept_region(fake, size, first_bytes=b""):
    """Answers a region-register as edged does: checks the one sealed memfd, maps it (and writes ``first_bytes`` at
    its start, before answering); returns (frame, mapping)."""
    frame, fds = receive_with_fds(fake)
    try:
        assert frame.type == MessageType.REGION_REGISTER, frame
        assert len(fds) == 1, fds
        assert fcntl.fcntl(fds[0], F_GET_SEALS) & SHRINK_AND_GROW == SHRINK_AND_GROW
        assert os.fstat(fds[0]).st_size == size
        mapping = mmap.mmap(fds[0], size)
        mapping[:len(first_bytes)] = first_bytes
    finally:
        for fd in fds:
            os.close(fd)
    name = frame.json_object()["name"]
    fake.reply(frame, {"name": name, "size": size})
    return frame, mapping


class MemfdTests(unittest.TestCase):
    def test_the_memory_is_a_memfd_sealed_against_shrinking_and_growing(self):
        region = SharedRegion("seal-test", 4096)
        self.addCleanup(region.close)
        fd = region.fd
        self.assertTrue(os.readlink("/proc/self/fd/%d" % fd).startswith("/memfd:edgeruntime:seal-test"))
        self.assertEqual(fcntl.fcntl(fd, F_GET_SEALS) & SHRINK_AND_GROW, SHRINK_AND_GROW)
        self.assertEqual(os.fstat(fd).st_size, 4096)
        for size in (8192, 1024, 0):
            with self.subTest(size=size), self.assertRaises(PermissionError):
                os.ftruncate(fd, size)
        self.assertEqual(os.fstat(fd).st_size, 4096)
        self.assertFalse(os.get_inheritable(fd))  # MFD_CLOEXEC: a child process does not get it
        self.assertEqual(len(region.buffer), 4096)
        self.assertFalse(region.buffer.readonly)
        self.assertFalse(region.registered)

    def test_the_mapping_is_shared_with_whoever_maps_the_memfd(self):
        with SharedRegion("shared-test", 4096) as region:
            other = mmap.mmap(region.fd, 4096)  # what the daemon does with the descriptor it receives
            region.buffer[100:105] = b"hello"
            self.assertEqual(other[100:105], b"hello")
            other[0:3] = b"abc"
            self.assertEqual(bytes(region.buffer[0:3]), b"abc")
            other.close()

    def test_close_releases_the_descriptor_and_the_mapping(self):
        region = SharedRegion("close-test", 8192)
        fds, mappings = memfds_named("close-test")
        self.assertIn(region.fd, fds)  # (before Python 3.13, mmap holds a duplicate too)
        self.assertEqual(len(mappings), 1)
        region.close()
        region.close()  # twice is harmless
        self.assertTrue(region.closed)
        self.assertIsNone(region.fd)
        self.assertEqual(memfds_named("close-test"), ([], []))
        with self.assertRaises(ValueError):
            region.buffer

    def test_a_view_outlives_close_and_the_mapping_goes_with_it(self):
        region = SharedRegion("view-test", 4096)
        view = region.write(("int32", [2], [7, -7]), 16)
        tensor = region.tensor(view.dtype, view.shape, view.offset)
        region.close()
        self.assertEqual(tensor.tolist(), [7, -7])  # still mapped: no dangling view
        self.assertEqual(len(memfds_named("view-test")[1]), 1)
        del tensor
        gc.collect()
        self.assertEqual(memfds_named("view-test"), ([], []))

    def test_name_and_size_rules(self):
        for name in ("", "x" * 65, "a\0b", 7):
            with self.subTest(name=name), self.assertRaises(ValueError):
                SharedRegion(name, 4096)
        for size in (0, -8, 1.5, True):
            with self.subTest(size=size), self.assertRaises(ValueError):
                SharedRegion("cam", size)
        SharedRegion("x" * 64, 8).close()

    def test_write_tensor_and_bounds(self):
        with SharedRegion("write-test", 64) as region:
            placed = region.write(("float32", [2, 3], X), 8)
            self.assertEqual(placed, RegionTensor("float32", [2, 3], 8))
            self.assertEqual(placed.nbytes, 24)
            self.assertEqual(bytes(region.buffer[8:32]), struct.pack("<6f", *X))
            self.assertEqual(region.tensor("float32", [2, 3], 8).tolist(), [X[:3], X[3:]])
            self.assertEqual(region.write(Tensor.from_values("uint8", [3], [1, 2, 3]), 40).offset, 40)
            with self.assertRaises(ValueError):
                region.write(("float32", [4], [0.0] * 4), 56)  # 16 bytes from 56 pass the end (64)
            with self.assertRaises(ValueError):
                region.tensor("int64", [1], -8)
            with self.assertRaises(TypeError):
                region.write(placed)

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
    def test_ndarray_views_the_region(self):
        with SharedRegion("numpy-test", 64) as region:
            image = region.ndarray(np.uint8, (2, 4), offset=16)
            image[:] = 9
            self.assertEqual(bytes(region.buffer[16:24]), b"\x09" * 8)
            floats = region.ndarray("float32", 6)
            floats[:] = X
            self.assertEqual(region.tensor("float32", [6]).tolist(), X)
            self.assertEqual(region.write(np.arange(3, dtype=np.int64), 40), RegionTensor("int64", [3], 40))
            with self.assertRaises(ValueError):
                region.ndarray("float64", 9)
            del image, floats


class EncodingTests(unittest.TestCase):
    def test_region_register_and_unregister_frames_byte_for_byte(self):
        self.assertEqual(
            encode_frame(MessageType.REGION_REGISTER, 5, {"name": "cam"}),
            bytes.fromhex("45444752" "01" "13" "0000" "0500000000000000" "0e000000" "00000000") + b'{"name":"cam"}')
        self.assertEqual(
            encode_frame(MessageType.REGION_UNREGISTER, 6, {"name": "cam"}),
            bytes.fromhex("45444752" "01" "14" "0000" "0600000000000000" "0e000000" "00000000") + b'{"name":"cam"}')
        self.assertEqual((MessageType.name(19), MessageType.name(20)), ("region-register", "region-unregister"))

    def test_infer_request_naming_a_region(self):
        with SharedRegion("cam", 4096) as cam:
            data = encode_infer_request(7, "add", {"x": RegionTensor("float32", [2, 3], 64),
                                                   "sr": ("int64", [], [16000])},
                                        region=cam, output_offset=128, output_length=64)
            frame = decode_frame(data)
            self.assertEqual(frame.type, MessageType.INFER)
            self.assertEqual(frame.json, (
                b'{"model":"add","inputs":['
                b'{"name":"x","dtype":"float32","shape":[2,3],"region":"cam","offset":64,"length":24},'
                b'{"name":"sr","dtype":"int64","shape":[],"offset":0,"length":8}],'
                b'"outputRegion":{"region":"cam","offset":128,"length":64}}'))
            self.assertEqual(bytes(frame.payload), struct.pack("<q", 16000))  # only the payload input travels
            # Without output_length the output range runs to the region's end.
            default = decode_frame(encode_infer_request(8, "add", {"x": RegionTensor("float32", [2, 3], 0)},
                                                        region=cam, output_offset=24)).json_object()
            self.assertEqual(default["outputRegion"], {"region": "cam", "offset": 24, "length": 4072})
            self.assertEqual(decode_frame(encode_infer_request(9, "add", {"x": RegionTensor("float32", [2, 3], 0)},
                                                               region=cam)).payload, bytearray())

    def test_a_region_tensor_needs_its_region(self):
        with self.assertRaises(ValueError):
            encode_infer_request(1, "add", {"x": RegionTensor("float32", [2, 3], 0)})
        with self.assertRaises(TypeError):
            encode_infer_request(1, "add", {"x": RegionTensor("float32", [2, 3], 0)}, region="cam")


class RegionOutputTests(unittest.TestCase):
    DESCRIPTOR = {"name": "y", "dtype": "float32", "shape": [2, 3], "region": "cam", "offset": 16, "length": 24}

    def test_outputs_are_read_from_the_region_they_name(self):
        memory = bytearray(64)
        struct.pack_into("<6f", memory, 16, *Y)
        view = unpack_tensors([self.DESCRIPTOR], b"", False, {"cam": memory})["y"]
        copy = unpack_tensors([self.DESCRIPTOR], b"", False, {"cam": memory}, copy_regions=True)["y"]
        self.assertEqual(view.tolist(), [Y[:3], Y[3:]])
        self.assertEqual(copy.tolist(), [Y[:3], Y[3:]])
        memory[16:40] = bytes(24)
        self.assertEqual(view.tolist(), [[0.0] * 3] * 2)  # a view follows the region
        self.assertEqual(copy.tolist(), [Y[:3], Y[3:]])  # a copy does not

    def test_a_region_the_request_did_not_use_or_a_range_past_its_end_is_a_protocol_error(self):
        for regions in (None, {"other": bytearray(64)}, {"cam": bytearray(32)}):
            with self.subTest(regions=regions), self.assertRaises(ProtocolError):
                unpack_tensors([self.DESCRIPTOR], bytes(64), False, regions)


class ClientTests(unittest.TestCase):
    def setUp(self):
        self.fake = FakeDaemon()
        self.addCleanup(self.fake.close)

    def client(self, **options):
        client = EdgeClient(self.fake.path, timeout=5.0, **options)
        self.addCleanup(client.close)
        return client

    def test_register_infer_unregister_on_the_wire(self):
        seen = {}

        def script(fake):
            # What the daemon writes lands in the client's mapping: one memory.
            register, mapping = accept_region(fake, 4096, b"from the daemon")
            seen["register"] = (register.json, register.payload)
            infer = fake.receive()
            seen["infer"] = infer.json_object()
            seen["infer payload"] = bytes(infer.payload)
            x = infer.json_object()["inputs"][0]
            out = infer.json_object()["outputRegion"]
            values = struct.unpack_from("<6f", mapping, x["offset"])
            struct.pack_into("<6f", mapping, out["offset"], *[v + i + 1 for i, v in enumerate(values)])
            fake.reply(infer, {"model": "add", "outputs": [
                {"name": "y", "dtype": "float32", "shape": [2, 3], "region": "cam", "offset": out["offset"],
                 "length": 24}], "timing": {"totalUs": 3.0}})
            unregister = fake.receive()
            seen["unregister"] = unregister.json
            fake.reply(unregister, {"name": "cam", "unregistered": True})
            mapping.close()
            fake.wait_for_eof()  # nothing more: close() after unregister sends no second unregister

        self.fake.run(script)
        client = self.client(use_numpy=False)
        region = client.register_region("cam", 4096)
        self.assertIsNone(region.fd)  # closed once the daemon had it: the mappings keep the memory
        self.assertTrue(region.registered)
        self.assertEqual(bytes(region.buffer[:15]), b"from the daemon")
        result = client.infer("add", {"x": ("float32", [2, 3], X)}, region=region)
        self.assertEqual(result["y"].tolist(), [Y[:3], Y[3:]])
        self.assertEqual(result.timing, {"totalUs": 3.0})
        region.buffer[:] = bytes(4096)
        self.assertEqual(result["y"].tolist(), [Y[:3], Y[3:]])  # copied out: reusing the region cannot change it
        self.assertEqual(client.unregister_region(region), {"name": "cam", "unregistered": True})
        self.assertFalse(region.registered)
        region.close()
        client.close()
        self.fake.finish()
        self.assertEqual(seen["register"], (b'{"name":"cam"}', bytearray()))
        self.assertEqual(seen["infer"], {
            "model": "add",
            "inputs": [{"name": "x", "dtype": "float32", "shape": [2, 3], "region": "cam", "offset": 0, "length": 24}],
            "outputRegion": {"region": "cam", "offset": 24, "length": 4072}})
        self.assertEqual(seen["infer payload"], b"")
        self.assertEqual(seen["unregister"], b'{"name":"cam"}')

    def test_inputs_are_placed_at_aligned_offsets(self):
        seen = {}

        def script(fake):
            _, mapping = accept_region(fake, 256)
            infer = fake.receive()
            seen["infer"] = infer.json_object()
            seen["bytes"] = bytes(mapping[:40])
            fake.reply(infer, {"model": "m", "outputs": [], "timing": {}})
            mapping.close()
            unregister = fake.receive()
            fake.reply(unregister, {"name": "cam", "unregistered": True})

        self.fake.run(script)
        client = self.client(use_numpy=False)
        with client.register_region("cam", 256) as region:
            client.infer("m", {"a": ("uint8", [3], b"abc"), "b": ("float64", [1], [1.5]),
                               "c": ("int16", [3], [1, 2, 3])}, region=region)
        client.close()
        self.fake.finish()
        self.assertEqual([(d["name"], d["region"], d["offset"], d["length"]) for d in seen["infer"]["inputs"]],
                         [("a", "cam", 0, 3), ("b", "cam", 8, 8), ("c", "cam", 16, 6)])
        self.assertEqual(seen["infer"]["outputRegion"], {"region": "cam", "offset": 24, "length": 232})
        self.assertEqual(seen["bytes"][:3] + seen["bytes"][8:22], b"abc" + struct.pack("<d3h", 1.5, 1, 2, 3))

    def test_infer_region_returns_views_on_the_region(self):
        def script(fake):
            _, mapping = accept_region(fake, 256)
            infer = fake.receive()
            struct.pack_into("<2q", mapping, 64, 5, -5)
            fake.reply(infer, {"model": "m", "outputs": [
                {"name": "z", "dtype": "int64", "shape": [2], "region": "cam", "offset": 64, "length": 16},
                {"name": "p", "dtype": "uint8", "shape": [1], "offset": 0, "length": 1}], "timing": {}}, b"\x07")
            mapping.close()
            fake.wait_for_eof()

        self.fake.run(script)
        client = self.client(use_numpy=False)
        region = client.register_region("cam", 256)
        self.addCleanup(region.close)
        result = client.infer_region("m", region, {"x": region.write(("float32", [2, 3], X), 8)},
                                     output_offset=64, output_length=64)
        self.assertEqual(result["z"].tolist(), [5, -5])
        self.assertEqual(result["p"].tolist(), [7])  # an output may still come in the payload
        struct.pack_into("<q", region.buffer, 64, 42)
        self.assertEqual(result["z"].tolist(), [42, -5])  # a view: no copy out of the region
        client.close()
        self.fake.finish()

    def test_refused_registration_raises_and_leaves_no_memory(self):
        def script(fake):
            frame, fds = receive_with_fds(fake)
            for fd in fds:
                os.close(fd)
            fake.reply(frame, {"code": "shared_memory_disabled", "message": "Shared memory is not enabled."},
                       flags=FLAG_RESPONSE | FLAG_ERROR)
            fake.reply(fake.receive(), {"status": "ok"})

        self.fake.run(script)
        client = self.client()
        with self.assertRaises(EdgeError) as raised:
            client.register_region("refused", 4096)
        self.assertEqual(raised.exception.code, "shared_memory_disabled")
        self.assertEqual(memfds_named("refused"), ([], []))
        self.assertEqual(client.health(), {"status": "ok"})  # the connection stays usable
        self.fake.finish()

    def test_leaving_the_with_block_unregisters(self):
        seen = []

        def script(fake):
            _, mapping = accept_region(fake, 64)
            mapping.close()
            unregister = fake.receive()
            seen.append((unregister.type, unregister.json))
            fake.reply(unregister, {"name": "cam", "unregistered": True})

        self.fake.run(script)
        client = self.client()
        with client.register_region("cam", 64) as region:
            self.assertEqual(region.size, 64)
        self.fake.finish()
        self.assertEqual(seen, [(MessageType.REGION_UNREGISTER, b'{"name":"cam"}')])
        self.assertTrue(region.closed)
        self.assertEqual(memfds_named("cam"), ([], []))


if __name__ == "__main__":
    unittest.main()
