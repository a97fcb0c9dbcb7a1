"""The transport under every process group: one TCP connection between each pair of ranks.

Each rank listens on a port it publishes in the store; rank ``r`` connects to every lower rank
and accepts the higher ones. A thread per connection reads messages as they come and files them
by (sender, key), so a send never waits for the receiver to be ready (and two ranks sending to
each other cannot deadlock). Receives take messages in the order they were posted: an ``irecv``
reserves its place at once, so waiting on requests in any order gets the right message.
"""
from __future__ import annotations

import pickle
import socket
import struct
import threading
import time

from .store import recv_exact, send_msg

__all__ = ["Mesh"]


class _Box:
    __slots__ = ("arrived", "n_arrived", "n_posted")

    def __init__(self):
        self.arrived: dict[int, object] = {}
        self.n_arrived = 0
        self.n_posted = 0


class Mesh:
    """Connections from this rank to every other rank of the world."""

    def __init__(self, store, rank: int, world_size: int, timeout: float, host: str):
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self._cond = threading.Condition()
        self._boxes: dict[tuple, _Box] = {}
        self._socks: dict[int, socket.socket] = {}
        self._send_locks: dict[int, threading.Lock] = {}
        self._dead: dict[int, str] = {}
        self._closed = False
        listener = socket.create_server((host, 0))
        self._listener = listener
        store.set(f"addr/{rank}", pickle.dumps((host, listener.getsockname()[1])))
        accepter = threading.Thread(target=self._accept, args=(world_size - 1 - rank,),
                                    daemon=True, name="ember-dist-accept")
        accepter.start()
        for peer in range(rank):
            addr = pickle.loads(store.get(f"addr/{peer}"))
            sock = self._connect(addr)
            sock.sendall(struct.pack("!q", rank))
            self._add_peer(peer, sock)
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._socks) < world_size - 1:
                left = deadline - time.monotonic()
                if left <= 0:
                    missing = sorted(set(range(world_size)) - set(self._socks) - {rank})
                    raise RuntimeError(f"Timed out after {timeout}s initializing the process "
                                       f"group: rank {rank} has no connection from ranks "
                                       f"{missing}")
                self._cond.wait(left)
        listener.close()

    def _connect(self, addr):
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = socket.create_connection(addr, timeout=self.timeout)
                sock.settimeout(None)
                return sock
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def _accept(self, count):
        for _ in range(count):
            try:
                sock, _ = self._listener.accept()
                (peer,) = struct.unpack("!q", recv_exact(sock, 8))
            except OSError:
                return
            self._add_peer(peer, sock)

    def _add_peer(self, peer, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._cond:
            self._socks[peer] = sock
            self._send_locks[peer] = threading.Lock()
            self._cond.notify_all()
        threading.Thread(target=self._read, args=(peer, sock), daemon=True,
                         name=f"ember-dist-recv-{peer}").start()

    def _read(self, peer, sock):
        try:
            while True:
                (n,) = struct.unpack("!Q", recv_exact(sock, 8))
                key, obj = pickle.loads(recv_exact(sock, n))
                self._deposit(peer, key, obj)
        except (ConnectionError, OSError, EOFError) as e:
            with self._cond:
                self._dead[peer] = str(e) or type(e).__name__
                self._cond.notify_all()
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _deposit(self, src, key, obj):
        with self._cond:
            box = self._boxes.get((src, key))
            if box is None:
                box = self._boxes[(src, key)] = _Box()
            box.arrived[box.n_arrived] = obj
            box.n_arrived += 1
            self._cond.notify_all()

    # ---- the interface the process groups use ---------------------------------------------------
    def send(self, dst: int, key, obj) -> None:
        if dst == self.rank:
            self._deposit(dst, key, obj)
            return
        sock = self._socks.get(dst)
        if sock is None or self._closed:
            raise RuntimeError(f"rank {self.rank} has no connection to rank {dst}")
        try:
            with self._send_locks[dst]:
                send_msg(sock, (key, obj))
        except OSError as e:
            raise RuntimeError(f"rank {self.rank} failed to send to rank {dst}: {e}") from e

    def post(self, src: int, key) -> int:
        """Reserve the next message from ``src`` under ``key``; returns the ticket."""
        with self._cond:
            box = self._boxes.get((src, key))
            if box is None:
                box = self._boxes[(src, key)] = _Box()
            box.n_posted += 1
            return box.n_posted - 1

    def ready(self, src: int, key, ticket: int) -> bool:
        with self._cond:
            box = self._boxes.get((src, key))
            return box is not None and ticket in box.arrived

    def take(self, src: int, key, ticket: int, timeout: float | None = None):
        """The message of ``ticket`` (from ``post``), waiting for it to arrive."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                box = self._boxes[(src, key)]
                if ticket in box.arrived:
                    obj = box.arrived.pop(ticket)
                    if not box.arrived and box.n_posted == box.n_arrived:
                        del self._boxes[(src, key)]
                    return obj
                self._check_alive(src, key)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"Timed out after {limit}s: rank {self.rank} waiting for "
                                       f"a message from rank {src} ({_describe(key)})")
                self._cond.wait(min(left, 1.0))

    def recv(self, src: int, key, timeout: float | None = None):
        return self.take(src, key, self.post(src, key), timeout)

    def recv_any(self, srcs, key_of, timeout: float | None = None):
        """(src, message) for the first unclaimed message from any of ``srcs`` (under
        ``key_of(src)``)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                for src in srcs:
                    box = self._boxes.get((src, key_of(src)))
                    if box is not None and box.n_arrived > box.n_posted:
                        ticket = box.n_posted
                        box.n_posted += 1
                        break
                else:
                    if all(s in self._dead for s in srcs if s != self.rank):
                        raise RuntimeError(f"rank {self.rank}: every peer closed its connection")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise RuntimeError(f"Timed out after {limit}s: rank {self.rank} waiting "
                                           "for a message from any rank")
                    self._cond.wait(min(left, 1.0))
                    continue
                break
        return src, self.take(src, key_of(src), ticket, timeout)

    def _check_alive(self, src, key):
        if src in self._dead:
            raise RuntimeError(f"Connection closed by peer: rank {src} went away while rank "
                               f"{self.rank} waited for a message ({_describe(key)}): "
                               f"{self._dead[src]}")
        if self._closed:
            raise RuntimeError("the process group was destroyed")

    def close(self) -> None:
        """Half-close every connection: peers still read what was sent, then see the end."""
        self._closed = True
        for sock in list(self._socks.values()):
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        with self._cond:
            self._cond.notify_all()


def _describe(key) -> str:
    if key[0] == "p2p":
        return f"recv with tag {key[1]}"
    return f"collective {key[2]} #{key[1] + 1} of group {key[3]}"
