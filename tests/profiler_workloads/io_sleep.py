# expect: io
"""Waiting, not computing: polling a slow 'service' with time.sleep between tries, plus a
subprocess whose exit we wait for."""
import subprocess
import sys
import time


def poll_service(tries, delay):
    answers = []
    for i in range(tries):
        time.sleep(delay)  # the service is slow to answer
        answers.append(i * i)
    return answers


def run_child():
    subprocess.run([sys.executable, "-c", "import time; time.sleep(0.15)"], check=True)


if __name__ == "__main__":
    print(len(poll_service(30, 0.02)))
    run_child()
