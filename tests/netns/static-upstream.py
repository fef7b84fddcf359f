"""The netns tests' upstream: serves a directory over HTTP like `python3 -m http.server`, but with a listen
backlog of 1024 instead of 5 (socketserver's default), so bursts of connects from three sites are queued, not
dropped. A dropped SYN stalls a connect for a second, which a test would misread as a broken path.
Usage: static-upstream.py PORT BIND_ADDRESS DIRECTORY"""
import functools
import http.server
import sys

port, bind, directory = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


Server((bind, port), functools.partial(Handler, directory=directory)).serve_forever()
