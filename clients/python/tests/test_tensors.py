"""Tensor packing (8-byte aligned offsets, zero padding), unpacking and validation, with and without NumPy."""

import array
import os
import struct
import subprocess
import sys
import unittest

import support
from edgeruntime import ProtocolError, Tensor
from edgeruntime.tensors import (DTYPES, HAVE_NUMPY, align_up, element_count, pack_tensors, to_wire,
                                 unpack_tensors)

if HAVE_NUMPY:
    import numpy as np


def joined(parts):
    return b"".join(bytes(memoryview(p).cast("B")) for p in parts)


class PackTests(unittest.TestCase):
    def test_offsets_are_multiples_of_8_and_padding_is_zero(self):
        descriptors, parts, length = pack_tensors({
            "a": ("uint8", [3], [1, 2, 3]),
            "b": ("float64", [1], [1.5]),
            "c": ("int16", [3], [-1, 2, -3]),
            "d": ("bool", [2], [True, False]),
            "e": ("int64", [], [16000]),
        })
        self.assertEqual([d["offset"] for d in descriptors], [0, 8, 16, 24, 32])
        self.assertEqual([d["length"] for d in descriptors], [3, 8, 6, 2, 8])
        self.assertEqual(length, 40)
        payload = joined(parts)
        self.assertEqual(len(payload), 40)
        self.assertEqual(payload[:8], b"\x01\x02\x03\x00\x00\x00\x00\x00")
        self.assertEqual(struct.unpack_from("<d", payload, 8)[0], 1.5)
        self.assertEqual(payload[16:24], struct.pack("<3h", -1, 2, -3) + b"\x00\x00")
        self.assertEqual(payload[24:32], b"\x01\x00" + bytes(6))
        self.assertEqual(struct.unpack_from("<q", payload, 32)[0], 16000)

    def test_descriptor_keys_in_protocol_order(self):
        descriptors, _, _ = pack_tensors({"x": ("float32", [2], [1, 2])})
        self.assertEqual(list(descriptors[0]), ["name", "dtype", "shape", "offset", "length"])
        self.assertEqual(descriptors[0]["shape"], [2])

    def test_no_padding_after_the_last_tensor(self):
        _, parts, length = pack_tensors({"a": ("uint8", [5], b"abcde")})
        self.assertEqual((length, joined(parts)), (5, b"abcde"))

    def test_empty_tensor_takes_no_bytes(self):
        descriptors, parts, length = pack_tensors({"a": ("float32", [0, 4], b""), "b": ("uint8", [1], b"z")})
        self.assertEqual([(d["offset"], d["length"]) for d in descriptors], [(0, 0), (0, 1)])
        self.assertEqual(joined(parts), b"z")

    def test_nested_values_and_a_bare_scalar(self):
        _, parts, _ = pack_tensors({"m": ("int32", [2, 2], [[1, 2], [3, 4]]), "s": ("float32", [], 0.5)})
        self.assertEqual(joined(parts), struct.pack("<4i", 1, 2, 3, 4) + struct.pack("<f", 0.5))

    def test_array_array_of_the_matching_type_is_sent_as_is(self):
        values = array.array("f", [0.25] * 4)
        _, shape, data = to_wire("x", ("float32", [4], values))
        self.assertEqual(bytes(data), struct.pack("<4f", *([0.25] * 4)))
        # and one of another type is converted value by value
        _, _, data = to_wire("x", ("float32", [2], array.array("d", [1.0, 2.0])))
        self.assertEqual(bytes(data), struct.pack("<2f", 1.0, 2.0))

    def test_float16_packs_with_struct(self):
        _, _, data = to_wire("h", ("float16", [2], [1.0, -2.0]))
        self.assertEqual(bytes(data), b"\x00\x3c\x00\xc0")

    def test_wrong_value_count_is_refused(self):
        with self.assertRaisesRegex(ValueError, "'x'.*6 elements, 5 values"):
            pack_tensors({"x": ("float32", [2, 3], [0.0] * 5)})

    def test_wrong_byte_count_is_refused(self):
        with self.assertRaisesRegex(ValueError, "needs 24 bytes, got 20"):
            pack_tensors({"x": ("float32", [2, 3], bytes(20))})

    def test_unknown_dtype_and_bad_shape_are_refused(self):
        with self.assertRaisesRegex(ValueError, "complex64"):
            pack_tensors({"x": ("complex64", [1], [0])})
        with self.assertRaises(ValueError):
            pack_tensors({"x": ("float32", [-1], [])})
        with self.assertRaises(ValueError):
            pack_tensors({"x": ("int8", [1], [300])})  # does not fit
        with self.assertRaises(TypeError):
            pack_tensors({"x": [1.0, 2.0]})  # no dtype: ambiguous

    def test_tensor_objects_are_accepted_as_inputs(self):
        tensor = Tensor.from_values("int64", [2], [7, -8])
        descriptors, parts, _ = pack_tensors({"t": tensor})
        self.assertEqual(descriptors[0]["dtype"], "int64")
        self.assertEqual(joined(parts), struct.pack("<2q", 7, -8))


class UnpackTests(unittest.TestCase):
    def payload(self):
        return bytearray(struct.pack("<3f", 1, 2, 3) + bytes(4) + struct.pack("<q", -5))

    def descriptors(self):
        return [{"name": "y", "dtype": "float32", "shape": [1, 3], "offset": 0, "length": 12},
                {"name": "n", "dtype": "int64", "shape": [], "offset": 16, "length": 8}]

    def test_plain_tensors(self):
        out = unpack_tensors(self.descriptors(), self.payload(), use_numpy=False)
        self.assertEqual(list(out), ["y", "n"])
        self.assertIsInstance(out["y"], Tensor)
        self.assertEqual(out["y"].shape, (1, 3))
        self.assertEqual(out["y"].tolist(), [[1.0, 2.0, 3.0]])
        self.assertEqual(list(out["y"].values), [1.0, 2.0, 3.0])
        self.assertEqual(out["n"].tolist(), -5)
        self.assertEqual(out["n"].item(), -5)
        self.assertEqual(out["y"].nbytes, 12)

    def test_plain_tensors_are_views_on_the_payload(self):
        payload = self.payload()
        out = unpack_tensors(self.descriptors(), payload, use_numpy=False)
        payload[0:4] = struct.pack("<f", 9.0)
        self.assertEqual(out["y"].values[0], 9.0)

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
    def test_numpy_arrays(self):
        out = unpack_tensors(self.descriptors(), self.payload(), use_numpy=True)
        self.assertIsInstance(out["y"], np.ndarray)
        self.assertEqual(out["y"].dtype, np.float32)
        self.assertEqual(out["y"].shape, (1, 3))
        np.testing.assert_array_equal(out["y"], [[1, 2, 3]])
        self.assertEqual(out["n"].shape, ())
        self.assertEqual(int(out["n"]), -5)
        self.assertTrue(out["y"].flags.writeable)  # a view on the client's own receive buffer

    def test_inconsistent_descriptors_are_protocol_errors(self):
        cases = {
            "beyond the payload": {"name": "y", "dtype": "float32", "shape": [8], "offset": 0, "length": 32},
            "length does not match shape": {"name": "y", "dtype": "float32", "shape": [2], "offset": 0, "length": 12},
            "unknown dtype": {"name": "y", "dtype": "complex64", "shape": [1], "offset": 0, "length": 8},
            "negative offset": {"name": "y", "dtype": "uint8", "shape": [1], "offset": -1, "length": 1},
            "no name": {"dtype": "uint8", "shape": [1], "offset": 0, "length": 1},
            "bad shape": {"name": "y", "dtype": "uint8", "shape": [-1], "offset": 0, "length": 1},
        }
        for what, descriptor in cases.items():
            for use_numpy in ([False, True] if HAVE_NUMPY else [False]):
                with self.subTest(what=what, use_numpy=use_numpy), self.assertRaises(ProtocolError):
                    unpack_tensors([descriptor], self.payload(), use_numpy=use_numpy)

    def test_round_trip_of_every_dtype(self):
        values = {"float32": [1.5, -2.0], "float16": [0.5, -1.0], "float64": [1e300, -0.0], "int8": [-128, 127],
                  "uint8": [0, 255], "int16": [-32768, 7], "uint16": [65535, 0], "int32": [-2 ** 31, 5],
                  "uint32": [2 ** 32 - 1, 1], "int64": [-2 ** 63, 2 ** 63 - 1], "uint64": [2 ** 64 - 1, 0],
                  "bool": [True, False]}
        self.assertEqual(set(values), set(DTYPES))
        inputs = {name: (name, [2], v) for name, v in values.items()}
        descriptors, parts, _ = pack_tensors(inputs)
        for use_numpy in ([False, True] if HAVE_NUMPY else [False]):
            out = unpack_tensors(descriptors, bytearray(joined(parts)), use_numpy=use_numpy)
            for name, v in values.items():
                with self.subTest(dtype=name, use_numpy=use_numpy):
                    self.assertEqual(out[name].tolist(), v)


class TensorTests(unittest.TestCase):
    def test_construction_checks_the_byte_count(self):
        with self.assertRaisesRegex(ValueError, "needs 8 bytes"):
            Tensor("float32", [2], bytes(7))

    def test_zeros_equality_and_repr(self):
        zeros = Tensor.zeros("float32", [2, 1, 128])
        self.assertEqual(zeros.size, 256)
        self.assertEqual(zeros.nbytes, 1024)
        self.assertEqual(zeros, Tensor("float32", (2, 1, 128), bytes(1024)))
        self.assertNotEqual(zeros, Tensor("int32", (2, 1, 128), bytes(1024)))
        self.assertIn("shape=[2, 1, 128]", repr(zeros))

    def test_item_needs_one_element(self):
        with self.assertRaises(ValueError):
            Tensor.zeros("uint8", [2]).item()

    @unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
    def test_numpy_view(self):
        t = Tensor.from_values("int16", [2, 2], [1, 2, 3, 4])
        np.testing.assert_array_equal(t.numpy(), [[1, 2], [3, 4]])

    def test_helpers(self):
        self.assertEqual([align_up(n) for n in (0, 1, 7, 8, 9, 16)], [0, 8, 8, 8, 16, 16])
        self.assertEqual(element_count([]), 1)
        self.assertEqual(element_count([2, 0, 3]), 0)


@unittest.skipUnless(HAVE_NUMPY, "numpy is not installed")
class NumpyInputTests(unittest.TestCase):
    def test_contiguous_array_is_sent_without_a_copy(self):
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        dtype, shape, data = to_wire("x", a)
        self.assertEqual((dtype, shape), ("float32", [2, 3]))
        self.assertEqual(bytes(data), a.tobytes())
        a[0, 0] = 42  # the bytes to send are the array's own
        self.assertEqual(struct.unpack_from("<f", data, 0)[0], 42.0)

    def test_non_contiguous_big_endian_and_zero_dim_arrays(self):
        a = np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2]
        _, shape, data = to_wire("x", a)
        self.assertEqual((shape, struct.unpack("<6i", data)), ([3, 2], (0, 2, 4, 6, 8, 10)))
        _, _, data = to_wire("x", np.array([1.0, 2.0], dtype=">f8"))
        self.assertEqual(bytes(data), struct.pack("<2d", 1.0, 2.0))
        dtype, shape, data = to_wire("sr", np.array(16000, dtype=np.int64))
        self.assertEqual((dtype, shape, bytes(data)), ("int64", [], struct.pack("<q", 16000)))
        dtype, _, data = to_wire("m", np.array([True, False]))
        self.assertEqual((dtype, bytes(data)), ("bool", b"\x01\x00"))

    def test_unsupported_numpy_dtype(self):
        with self.assertRaisesRegex(TypeError, "complex"):
            to_wire("x", np.zeros(2, dtype=np.complex64))


class NoNumpySwitchTests(unittest.TestCase):
    def test_environment_variable_turns_numpy_off(self):
        code = "import edgeruntime.tensors as t; print(t.numpy_default())"
        env = dict(os.environ, EDGERUNTIME_NO_NUMPY="1", PYTHONPATH=str(support.CLIENT_DIR))
        out = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=True)
        self.assertEqual(out.stdout.strip(), b"False")
        env["EDGERUNTIME_NO_NUMPY"] = "0"
        out = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, check=True)
        self.assertEqual(out.stdout.strip(), str(HAVE_NUMPY).encode())


if __name__ == "__main__":
    unittest.main()
