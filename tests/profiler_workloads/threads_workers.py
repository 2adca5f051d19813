# expect: loop
"""Worker threads: three threads each run a pure-Python loop (they take turns on the GIL); the
main thread waits for them in join()."""
import threading


def crunch(n, out, slot):
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1000003
    out[slot] = acc


if __name__ == "__main__":
    results = [0] * 3
    workers = [threading.Thread(target=crunch, args=(2_000_000, results, k), name=f"worker-{k}") for k in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    print(results)
