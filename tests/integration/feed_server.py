#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""tests/integration/feed_server.py ADDR PORT - an HTTP feed server that misbehaves
on purpose, for the reliability tests. Lab use only.

  /slow       one prefix line every 2 s, 60 lines (a server that trickles)
  /big        8 KiB of prefix lines (for --max-size)
  /toftp      a redirect to ftp:// (must not be followed)
  /ok         three prefix lines
"""
import http.server
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            try:
                for i in range(60):
                    self.wfile.write(b"198.51.100.%d/32\n" % (i + 1))
                    self.wfile.flush()
                    time.sleep(2)
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/big":
            body = b"".join(b"203.0.113.%d/32 # padding padding padding\n" % (i % 250 + 1)
                            for i in range(200))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/toftp":
            self.send_response(302)
            self.send_header("Location", "ftp://192.0.2.1/feed.txt")
            self.end_headers()
        elif self.path == "/ok":
            body = b"198.51.100.1/32\n198.51.100.2/32\n198.51.100.3/32\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
