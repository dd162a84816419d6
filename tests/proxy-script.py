#!/usr/bin/env python3
"""proxy-script.py: scripted SOCKS5 and HTTP CONNECT proxies for
tests/connect-phase.bats, stand-ins for replies that the real proxies
(microsocks, danted, tinyproxy) never give: each SOCKS5 reply code, reply
bytes followed in the same segment by bytes of the tunnel, a close before
the reply, a proxy that never answers. They also record what the client
sent before the tunnel was up.

    proxy-script.py socks5 [--pause MS] [--rep N] [--bnd 1|3|4]
                           [--extra TEXT] [--drip MS]
                           [--close-after greeting|request|never]
    proxy-script.py http [--pause MS] [--status LINE] [--header LINE]...
                         [--extra TEXT] [--drip MS]
                         [--close-after request|never]

One connection, on 127.0.0.1 port 0; the port is announced on stderr as
netkit does ("event=server.listening address=127.0.0.1 port=N"). On
stderr, one line per thing seen:

    proxy: client 127.0.0.1:40000   (the client's address, as accepted)
    proxy: greeting 050100          (SOCKS5: the client's greeting, hex;
                                     method 0, no authentication, is chosen)
    proxy: request cmd=1 atyp=1 host=127.0.0.1 port=80
    proxy: > CONNECT 127.0.0.1:80 HTTP/1.1   (HTTP: each request line)
    proxy: early 0                  (bytes sent beyond the handshake
                                     messages before the reply; after a
                                     pause of --pause MS (300) after each
                                     message, so that early bytes have come)
    proxy: replied

--rep N is the SOCKS5 reply code (default 0, success); --bnd the type of
its BND.ADDR (1 IPv4, 3 a name, 4 IPv6); --status the HTTP status line
(default 200), --header a header line of the reply. The reply, and
--extra after it, go in one send() on a TCP_NODELAY socket:
one segment; with --drip MS, one byte at a time, MS apart (the method
selection too). On success the proxy then reads until EOF, copies what it got
to stdout and closes. --close-after: close (without a reply) once that
message has arrived, or with "never", hold the connection without ever
answering until the client closes.
"""

import argparse
import socket
import struct
import sys
import time

PAUSE = 0.3  # seconds; --pause MS


def say(msg):
    print("proxy: " + msg, file=sys.stderr, flush=True)


def recv_exact(c, n):
    got = b""
    while len(got) < n:
        d = c.recv(n - len(got))
        if not d:
            say("eof after %d of %d bytes" % (len(got), n))
            sys.exit(1)
        got += d
    return got


def pending(c):
    """Bytes already waiting on c (after a pause), without reading them."""
    time.sleep(PAUSE)
    c.settimeout(0)  # with a timeout, Python would poll until readable
    try:
        n = len(c.recv(65536, socket.MSG_PEEK))
    except BlockingIOError:
        n = 0
    c.settimeout(30)
    return n


def send(c, a, data):
    if a.drip is None:
        c.sendall(data)
        return
    for i in range(len(data)):
        c.sendall(data[i:i + 1])
        time.sleep(a.drip / 1000)


def hold(c):
    """Never answer: wait until the client goes away."""
    while c.recv(65536):
        pass
    sys.exit(0)


def relay_to_stdout(c):
    while True:
        d = c.recv(65536)
        if not d:
            break
        sys.stdout.buffer.write(d)
        sys.stdout.flush()
    c.close()


def socks5(c, a):
    early = 0
    head = recv_exact(c, 2)
    methods = recv_exact(c, head[1])
    say("greeting " + (head + methods).hex())
    early += pending(c)
    if a.close_after == "greeting":
        c.close()
        return
    if a.close_after == "never":
        hold(c)
    send(c, a, b"\x05\x00")
    req = recv_exact(c, 4)
    atyp = req[3]
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, recv_exact(c, 4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, recv_exact(c, 16))
    elif atyp == 3:
        host = recv_exact(c, recv_exact(c, 1)[0]).decode()
    else:
        say("bad atyp %d" % atyp)
        sys.exit(1)
    port = struct.unpack("!H", recv_exact(c, 2))[0]
    say("request cmd=%d atyp=%d host=%s port=%d" % (req[1], atyp, host, port))
    early += pending(c)
    say("early %d" % early)
    if a.close_after == "request":
        c.close()
        return
    if a.bnd == 1:
        bnd = b"\x01" + socket.inet_aton("127.0.0.1")
    elif a.bnd == 4:
        bnd = b"\x04" + socket.inet_pton(socket.AF_INET6, "::1")
    else:
        name = b"bound.example"
        bnd = b"\x03" + bytes([len(name)]) + name
    reply = b"\x05" + bytes([a.rep]) + b"\x00" + bnd + struct.pack("!H", 4321)
    send(c, a, reply + a.extra.encode())
    say("replied")
    if a.rep == 0:
        relay_to_stdout(c)
    else:
        c.close()


def http(c, a):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            say("eof in the request")
            sys.exit(1)
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n"):
        say("> " + line.decode())
    early = len(rest) + pending(c)
    say("early %d" % early)
    if a.close_after == "request":
        c.close()
        return
    if a.close_after == "never":
        hold(c)
    reply = a.status + "\r\n" + "".join(h + "\r\n" for h in a.header) + "\r\n"
    send(c, a, reply.encode() + a.extra.encode())
    say("replied")
    if a.status.split()[1].startswith("2"):
        if rest:
            sys.stdout.buffer.write(rest)
        relay_to_stdout(c)
    else:
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["socks5", "http"])
    p.add_argument("--rep", type=int, default=0)
    p.add_argument("--bnd", type=int, choices=[1, 3, 4], default=1)
    p.add_argument("--status", default="HTTP/1.1 200 Connection established")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--extra", default="")
    p.add_argument("--pause", type=int, default=300)
    p.add_argument("--drip", type=int)
    p.add_argument("--close-after",
                   choices=["greeting", "request", "never"])
    a = p.parse_args()
    global PAUSE
    PAUSE = a.pause / 1000
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    print("event=server.listening address=127.0.0.1 port=%d family=IPv4"
          % ls.getsockname()[1], file=sys.stderr, flush=True)
    c, peer = ls.accept()
    ls.close()
    say("client %s:%d" % peer[:2])
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.settimeout(30)
    if a.kind == "socks5":
        socks5(c, a)
    else:
        http(c, a)


if __name__ == "__main__":
    main()
