"""An HTTP CONNECT proxy on 127.0.0.1, for testing envgate behind HTTPS_PROXY.

Usage: python tests/connect_proxy.py --log FILE [--refuse]
Prints the port it listens on, then serves until killed. Each CONNECT request
appends its target (host:port) to FILE; with --refuse every tunnel is refused
with 403, as a corporate proxy refuses a host it does not allow.
"""

import argparse
import socket
import socketserver
import sys
import threading


def pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Tunnel(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = (line.split(" ") + ["", ""])[:3]
        with open(self.server.log, "a", encoding="utf-8") as log:
            log.write(f"{method} {target}\n")
        if method != "CONNECT" or self.server.refuse:
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        back = threading.Thread(target=pipe, args=(upstream, self.request), daemon=True)
        back.start()
        pipe(self.request, upstream)
        back.join()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--refuse", action="store_true")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Tunnel)
    server.log = args.log
    server.refuse = args.refuse
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
