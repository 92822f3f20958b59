#!/usr/bin/env python3
"""The floor under any UNIX-socket request/response on this machine, with no EdgeRuntime code involved.

Two processes ping-pong over a socketpair with blocking calls. The server busy-works WORK_US before answering, which
shows what waking a client that slept costs; REQUEST/RESPONSE bytes show what moving tensors costs.
The README's benchmark notes quote these figures:

    python3 tools/socket-floor.py                    # 100-byte messages, server answers at once
    python3 tools/socket-floor.py --work-us 50       # ... after 50 us of work: the sleeping client pays a wake-up
    python3 tools/socket-floor.py --request 65736 --response 16584   # a 64 KiB tensor in, 16 KiB out, no work
"""
import argparse
import os
import socket
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work-us", type=float, default=0)
    parser.add_argument("--request", type=int, default=100)
    parser.add_argument("--response", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()

    client, server = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    for s in (client, server):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    if os.fork() == 0:
        client.close()
        buffer, answer = bytearray(args.request), b"r" * args.response
        for _ in range(args.rounds):
            receive_exactly(server, buffer)
            start = time.perf_counter()
            while (time.perf_counter() - start) * 1e6 < args.work_us:
                pass
            server.sendall(answer)
        os._exit(0)

    server.close()
    request, buffer, times = b"q" * args.request, bytearray(args.response), []
    for _ in range(args.rounds):
        start = time.perf_counter()
        client.sendall(request)
        receive_exactly(client, buffer)
        times.append((time.perf_counter() - start) * 1e6)
    os.wait()
    times.sort()
    print(f"request {args.request} B, response {args.response} B, server work {args.work_us:.0f} us: "
          f"round trip p50 {times[len(times) // 2]:.1f} us, p99 {times[int(len(times) * 0.99)]:.1f} us")


def receive_exactly(sock, buffer):
    view, received = memoryview(buffer), 0
    while received < len(buffer):
        n = sock.recv_into(view[received:])
        if n == 0:
            raise EOFError("peer closed")
        received += n


if __name__ == "__main__":
    main()
