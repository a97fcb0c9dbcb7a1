"""Key-value stores that processes rendezvous through: ``TCPStore`` (a server in one process,
clients in all), ``FileStore`` (a file every process can reach), ``HashStore`` (one process,
for tests) and ``PrefixStore`` (a namespace inside another store). Keys are str, values bytes."""
from __future__ import annotations

import fcntl
import os
import pickle
import socket
import struct
import threading
import time
from datetime import timedelta

__all__ = ["Store", "TCPStore", "FileStore", "HashStore", "PrefixStore"]

_DEFAULT_TIMEOUT = timedelta(seconds=300)


def _seconds(timeout) -> float:
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    return float(timeout)


def _to_bytes(value) -> bytes:
    if isinstance(value, str):
        return value.encode()
    return bytes(value)


class Store:
    """The interface every store implements (torch.distributed.Store)."""

    def __init__(self, timeout=_DEFAULT_TIMEOUT):
        self._timeout = _seconds(timeout)

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self._timeout)

    def set_timeout(self, timeout) -> None:
        self._timeout = _seconds(timeout)

    def set(self, key: str, value) -> None:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        """The value of ``key``, waiting up to the store's timeout for some process to set it."""
        raise NotImplementedError

    def add(self, key: str, amount: int) -> int:
        """Add ``amount`` to the integer at ``key`` (0 when unset); returns the new value."""
        raise NotImplementedError

    def compare_set(self, key: str, expected_value, desired_value) -> bytes:
        raise NotImplementedError

    def check(self, keys) -> bool:
        raise NotImplementedError

    def delete_key(self, key: str) -> bool:
        raise NotImplementedError

    def num_keys(self) -> int:
        raise NotImplementedError

    def wait(self, keys, timeout=None) -> None:
        """Wait until every key of ``keys`` is set (or raise after ``timeout``)."""
        limit = self._timeout if timeout is None else _seconds(timeout)
        deadline = time.monotonic() + limit
        delay = 0.001
        while not self.check(keys):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Timeout ({limit}s) waiting for keys {list(keys)} in store")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def multi_get(self, keys) -> list[bytes]:
        return [self.get(k) for k in keys]

    def multi_set(self, keys, values) -> None:
        for k, v in zip(keys, values):
            self.set(k, v)

    def append(self, key: str, value) -> None:
        """Append ``value`` to the bytes at ``key`` (an empty value when unset)."""
        raise NotImplementedError


def _apply(data: dict, cond: threading.Condition, op: str, args, timeout: float):
    """One store operation on an in-memory dict guarded by ``cond`` (HashStore and TCPStore's
    server share it)."""
    if op == "set":
        key, value = args
        data[key] = value
        cond.notify_all()
        return None
    if op == "get":
        (key,) = args
        if not cond.wait_for(lambda: key in data, timeout=timeout):
            raise TimeoutError(f"Timeout ({timeout}s) waiting for key {key!r} in store")
        return data[key]
    if op == "add":
        key, amount = args
        value = int(data.get(key, b"0")) + int(amount)
        data[key] = str(value).encode()
        cond.notify_all()
        return value
    if op == "compare_set":
        key, expected, desired = args
        current = data.get(key)
        if (current is None and expected == b"") or current == expected:
            data[key] = desired
            cond.notify_all()
            return desired
        return expected if current is None else current
    if op == "check":
        return all(k in data for k in args[0])
    if op == "wait":
        keys, limit = args
        limit = timeout if limit is None else limit
        if not cond.wait_for(lambda: all(k in data for k in keys), timeout=limit):
            raise TimeoutError(f"Timeout ({limit}s) waiting for keys {list(keys)} in store")
        return None
    if op == "delete_key":
        return data.pop(args[0], None) is not None
    if op == "num_keys":
        return len(data)
    if op == "append":
        key, value = args
        data[key] = data.get(key, b"") + value
        cond.notify_all()
        return None
    raise ValueError(f"unknown store operation {op!r}")


class _DictStore(Store):
    """A store whose operations are ``_apply``'s, run by ``_call(op, *args)`` (on a dict in
    this process, HashStore, or on the master's, TCPStore)."""

    def _call(self, op, *args):
        raise NotImplementedError

    def set(self, key, value):
        self._call("set", key, _to_bytes(value))

    def get(self, key):
        return self._call("get", key)

    def add(self, key, amount):
        return self._call("add", key, amount)

    def compare_set(self, key, expected_value, desired_value):
        return self._call("compare_set", key, _to_bytes(expected_value), _to_bytes(desired_value))

    def check(self, keys):
        return self._call("check", list(keys))

    def wait(self, keys, timeout=None):
        self._call("wait", list(keys), None if timeout is None else _seconds(timeout))

    def delete_key(self, key):
        return self._call("delete_key", key)

    def num_keys(self):
        return self._call("num_keys")

    def append(self, key, value):
        self._call("append", key, _to_bytes(value))


class HashStore(_DictStore):
    """An in-process store (threads of one process share it).

    >>> s = ember.distributed.HashStore(); s.set("k", "v"); s.get("k")
    b'v'
    """

    def __init__(self, timeout=_DEFAULT_TIMEOUT):
        super().__init__(timeout)
        self._data: dict[str, bytes] = {}
        self._cond = threading.Condition()

    def _call(self, op, *args):
        with self._cond:
            return _apply(self._data, self._cond, op, args, self._timeout)


# ---- TCPStore ----------------------------------------------------------------------------------
def send_msg(sock: socket.socket, obj) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(struct.pack("!Q", len(body)) + body)


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ConnectionError("connection closed by the peer")
        got += k
    return bytes(buf)


def recv_msg(sock: socket.socket):
    (n,) = struct.unpack("!Q", recv_exact(sock, 8))
    return pickle.loads(recv_exact(sock, n))


class _StoreServer:
    """The master's side of a TCPStore: a thread per client, all on one dict."""

    def __init__(self, host: str, port: int):
        self._data: dict[str, bytes] = {}
        self._cond = threading.Condition()
        self._sock = socket.create_server((host, port), reuse_port=False)
        self.port = self._sock.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="ember-store-server").start()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            while True:
                try:
                    op, args, timeout = recv_msg(conn)
                except (ConnectionError, OSError, EOFError):
                    return
                try:
                    with self._cond:
                        reply = ("ok", _apply(self._data, self._cond, op, args, timeout))
                except Exception as e:  # (sent back to the client, raised there)
                    reply = ("error", e)
                try:
                    send_msg(conn, reply)
                except OSError:
                    return

    def close(self):
        self._closed = True
        try:
            # NOTE: shutdown first: close alone does not wake a thread blocked in accept()
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()


class TCPStore(_DictStore):
    """A store served over TCP by the process with ``is_master=True``; every process (the master
    too) is a client. ``port=0`` on the master picks a free port (read it from ``.port``).

    >>> s = ember.distributed.TCPStore("127.0.0.1", 0, 1, is_master=True)
    >>> s.set("k", b"v"); s.get("k")
    b'v'
    """

    def __init__(self, host_name: str, port: int, world_size: int | None = None,
                 is_master: bool = False, timeout=_DEFAULT_TIMEOUT,
                 wait_for_workers: bool = True, multi_tenant: bool = False,
                 master_listen_fd=None, use_libuv: bool = True):
        super().__init__(timeout)
        self.host = host_name
        self.world_size = world_size
        self._server = _StoreServer(host_name, port) if is_master else None
        self.port = self._server.port if is_master else int(port)
        self._lock = threading.Lock()
        self._sock = self._connect()
        if world_size is not None and wait_for_workers:
            # NOTE: as torch: construction returns once world_size clients have connected
            self.add("__ember_store_clients__", 1)
            self.wait_for(lambda: int(self.get("__ember_store_clients__")) >= world_size,
                          "workers to join the store")

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + self._timeout
        delay = 0.01
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self._timeout)
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError as e:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not connect to the TCPStore at {self.host}:"
                                       f"{self.port} within {self._timeout}s: {e}") from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def wait_for(self, predicate, what):
        deadline = time.monotonic() + self._timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Timeout ({self._timeout}s) waiting for {what}")
            time.sleep(0.005)

    def _call(self, op, *args):
        with self._lock:
            send_msg(self._sock, (op, args, self._timeout))
            status, value = recv_msg(self._sock)
        if status == "error":
            raise value
        return value

    def local_address(self) -> str:
        """The address this process reaches the store from (its address for other ranks)."""
        return self._sock.getsockname()[0]

    def close(self):
        try:
            self._sock.close()
        except OSError:
            pass
        if self._server is not None:
            self._server.close()


# ---- FileStore ---------------------------------------------------------------------------------
class FileStore(Store):
    """A store kept in a file that every process opens (a shared file system across hosts).

    >>> import tempfile, os
    >>> s = ember.distributed.FileStore(os.path.join(tempfile.mkdtemp(), "store"), 1)
    >>> s.add("n", 2)
    2
    """

    def __init__(self, file_name: str, world_size: int = -1, timeout=_DEFAULT_TIMEOUT):
        super().__init__(timeout)
        self.path = file_name
        self.world_size = world_size
        fd = os.open(file_name, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)

    def _locked(self, fn):
        with open(self.path, "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                raw = f.read()
                data = pickle.loads(raw) if raw else {}
                result, changed = fn(data)
                if changed:
                    f.seek(0)
                    f.truncate()
                    f.write(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
                    f.flush()
                return result
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _poll(self, fn, what, timeout=None):
        limit = self._timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        delay = 0.001
        while True:
            found, value = self._locked(lambda d: (fn(d), False))
            if found:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"Timeout ({limit}s) waiting for {what} in FileStore "
                                   f"{self.path}")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def set(self, key, value):
        value = _to_bytes(value)
        self._locked(lambda d: (d.__setitem__(key, value), True))

    def get(self, key):
        return self._poll(lambda d: (key in d, d.get(key)), f"key {key!r}")

    def add(self, key, amount):
        def op(d):
            d[key] = str(int(d.get(key, b"0")) + int(amount)).encode()
            return int(d[key]), True
        return self._locked(op)

    def compare_set(self, key, expected_value, desired_value):
        expected, desired = _to_bytes(expected_value), _to_bytes(desired_value)

        def op(d):
            current = d.get(key)
            if (current is None and expected == b"") or current == expected:
                d[key] = desired
                return desired, True
            return (expected if current is None else current), False
        return self._locked(op)

    def check(self, keys):
        keys = list(keys)
        return self._locked(lambda d: (all(k in d for k in keys), False))

    def wait(self, keys, timeout=None):
        keys = list(keys)
        self._poll(lambda d: (all(k in d for k in keys), None), f"keys {keys}",
                   None if timeout is None else _seconds(timeout))

    def delete_key(self, key):
        return self._locked(lambda d: (d.pop(key, None) is not None, True))

    def num_keys(self):
        return self._locked(lambda d: (len(d), False))

    def append(self, key, value):
        value = _to_bytes(value)
        self._locked(lambda d: (d.__setitem__(key, d.get(key, b"") + value), True))


class PrefixStore(Store):
    """``store`` with every key put under ``prefix + '/'``.

    >>> base = ember.distributed.HashStore()
    >>> ember.distributed.PrefixStore("a", base).set("k", "v"); base.get("a/k")
    b'v'
    """

    def __init__(self, prefix: str, store: Store):
        super().__init__(getattr(store, "_timeout", _seconds(_DEFAULT_TIMEOUT)))
        self.prefix = prefix
        self.underlying_store = store

    def _k(self, key):
        return f"{self.prefix}/{key}"

    def set(self, key, value):
        self.underlying_store.set(self._k(key), value)

    def get(self, key):
        return self.underlying_store.get(self._k(key))

    def add(self, key, amount):
        return self.underlying_store.add(self._k(key), amount)

    def compare_set(self, key, expected_value, desired_value):
        return self.underlying_store.compare_set(self._k(key), expected_value, desired_value)

    def check(self, keys):
        return self.underlying_store.check([self._k(k) for k in keys])

    def wait(self, keys, timeout=None):
        self.underlying_store.wait([self._k(k) for k in keys], timeout)

    def delete_key(self, key):
        return self.underlying_store.delete_key(self._k(key))

    def num_keys(self):
        return self.underlying_store.num_keys()

    def append(self, key, value):
        self.underlying_store.append(self._k(key), value)
