# expect: io
"""Reads on loopback: a local server thread answers each request after a short delay; the main
thread spends its time blocked in recv. Also reads a FIFO fed slowly by another thread."""
import os
import socket
import tempfile
import threading
import time


def serve(listener, requests, delay):
    conn, _ = listener.accept()
    with conn:
        for _ in range(requests):
            conn.recv(64)
            time.sleep(delay)
            conn.sendall(b"x" * 4096)


def fetch_all(port, requests):
    got = 0
    with socket.create_connection(("127.0.0.1", port)) as s:
        for _ in range(requests):
            s.sendall(b"GET")
            need = 4096
            while need:
                chunk = s.recv(need)
                need -= len(chunk)
                got += len(chunk)
    return got


def read_fifo(path, n):
    def feed():
        with open(path, "wb") as w:
            for _ in range(n):
                time.sleep(0.01)
                w.write(b"y" * 100)
                w.flush()

    t = threading.Thread(target=feed)
    t.start()
    total = 0
    with open(path, "rb", buffering=0) as r:
        while True:
            data = r.read(100)
            if not data:
                break
            total += len(data)
    t.join()
    return total


if __name__ == "__main__":
    requests = 40
    listener = socket.create_server(("127.0.0.1", 0))
    server = threading.Thread(target=serve, args=(listener, requests, 0.01))
    server.start()
    print(fetch_all(listener.getsockname()[1], requests))
    server.join()
    listener.close()
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        print(read_fifo(fifo, 20))
