#!/usr/bin/env python3
"""tls-garbage.py PORT COUNT SEED: feed a TLS server garbage and broken
records, one connection each, and check that the server ends every one of
them (EOF or reset) within a deadline, never hanging on it.

The inputs, in turn: random bytes of random length; a real ClientHello
(made by Python's ssl module in memory) cut short at a random point; the
same ClientHello with random bytes flipped; a record header announcing
more than it sends; a ClientHello followed by garbage records; nothing at
all (connect and half-close). Prints one line per connection the server
did not end, and exits 1 if there was any.
"""

import random
import socket
import ssl
import sys


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def payload(rnd, hello, i):
    kind = i % 6
    if kind == 0:
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000)))
    if kind == 1:
        return hello[: rnd.randint(1, len(hello) - 1)]
    if kind == 2:
        b = bytearray(hello)
        for _ in range(rnd.randint(1, 8)):
            b[rnd.randrange(len(b))] = rnd.getrandbits(8)
        return bytes(b)
    if kind == 3:
        # a handshake record header that promises 16 KiB, then 10 bytes
        return bytes([22, 3, 1, 0x40, 0x00]) + bytes(10)
    if kind == 4:
        junk = bytes(rnd.getrandbits(8) for _ in range(200))
        return hello + bytes([23, 3, 3, 0, 200]) + junk
    return b""


def main():
    port, count, seed = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rnd = random.Random(seed)
    hello = client_hello()
    bad = 0
    for i in range(count):
        data = payload(rnd, hello, i)
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            if data:
                s.sendall(data)
            if i % 2 == 0:
                s.shutdown(socket.SHUT_WR)
            # The server must end the connection: read until EOF/reset.
            while True:
                got = s.recv(65536)
                if not got:
                    break
        except socket.timeout:
            print("connection %d (kind %d, %d bytes): not ended by the "
                  "server within 10 s" % (i, i % 6, len(data)))
            bad += 1
        except OSError:
            pass  # reset, broken pipe, or not connected: ended
        finally:
            s.close()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
