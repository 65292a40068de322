"""Starts moto's standalone server (a real AWS-protocol server) on 127.0.0.1.

Usage: python tests/moto_server.py --port PORT

Run by scripts/moto-server.sh and by tests that need a server of their own (the
IAM-enforcement test switches authentication on, which would break every other
test sharing a server).
"""

import argparse

from moto.server import ThreadedMotoServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    try:
        server._thread.join()  # serve until killed
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
