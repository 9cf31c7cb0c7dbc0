"""What the web page adds to a streamed answer, and what it weighs.

    python3 benches/ui-first-token.py target/release/localgpt

Starts a fake OpenAI-style provider (it answers at once) and `localgpt serve` against
it, then measures, 30 times each (medians):
- the API's own first byte: POST /api/chat/stream until the first `delta` event arrives;
- the page's, in Chromium (headless, Debian's, through Selenium), from pressing Enter:
  to the first bytes of the answer read by the page's own stream reader, and to the
  first words of the answer on screen (a MutationObserver's time);
and the page's transfer size on a first load (gzip, an empty cache).
Goals: the page within 5 ms of the API; under 300 KB.
"""

import http.client
import http.server
import json
import os
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

BINARY = os.path.abspath(sys.argv[1])
RUNS = 30


class Provider(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        chunks = [
            {"choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True


provider = Server(("127.0.0.1", 0), Provider)
threading.Thread(target=provider.serve_forever, daemon=True).start()

home = tempfile.mkdtemp()
with open(os.path.join(home, "config.toml"), "w") as handle:
    handle.write('[agent]\nmodel = "gpt-4o"\n[sessions]\nauto_title = false\n')
env = dict(os.environ, LOCALGPT_HOME=home, OPENAI_API_KEY="sk-bench",
           OPENAI_BASE_URL=f"http://127.0.0.1:{provider.server_address[1]}/v1")
serve = subprocess.Popen([BINARY, "serve", "--port", "0"], env=env, stderr=subprocess.PIPE, text=True)
port = None
for line in serve.stderr:
    if "http://127.0.0.1:" in line:
        port = int(line.split("http://127.0.0.1:")[1].split()[0].rstrip(")"))
        break
threading.Thread(target=lambda: [None for _ in serve.stderr], daemon=True).start()
token = subprocess.run([BINARY, "serve", "--print-token"], env=env, capture_output=True, text=True).stdout.strip()


def api_first_byte():
    connection = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"message": "hi"})
    started = time.perf_counter()
    connection.request("POST", "/api/chat/stream", body, {
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = connection.getresponse()
    seen = b""
    while b"event: delta" not in seen:
        seen += response.read1(4096)
    elapsed = time.perf_counter() - started
    response.read()
    connection.close()
    return elapsed * 1000


api = sorted(api_first_byte() for _ in range(RUNS))

connection = http.client.HTTPConnection("127.0.0.1", port)
connection.request("POST", "/api/ui/code", "", {"Authorization": f"Bearer {token}"})
login = json.loads(connection.getresponse().read())["path"]

options = Options()
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
browser.get(f"http://127.0.0.1:{port}{login}")
time.sleep(1)
size = browser.execute_script(
    "const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];"
    "return entries.filter(e => !e.name.includes('/api/')).reduce((sum, e) => sum + e.transferSize, 0);"
)
files = browser.execute_script(
    "return performance.getEntriesByType('resource').filter(e => !e.name.includes('/api/')).length + 1"
)

page, page_byte = [], []
for _ in range(RUNS):
    browser.find_element("id", "new-chat").click()
    elapsed = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const box = document.getElementById('messages');
        const input = document.getElementById('input');
        input.value = 'hi';
        let started;
        const watch = new MutationObserver(() => {
          const answers = box.querySelectorAll('.message.assistant .markdown');
          const last = answers[answers.length - 1];
          if (last && last.textContent.includes('Hello')) {
            watch.disconnect();
            done([firstByte, performance.now() - started]);
          }
        });
        watch.observe(box, {childList: true, subtree: true, characterData: true});
        // The first bytes the page reads: the reader's first answer with data.
        const read = window.__pageRead || ReadableStreamDefaultReader.prototype.read;
        window.__pageRead = read;
        let firstByte = null;
        ReadableStreamDefaultReader.prototype.read = function () {
          const answer = read.call(this);
          answer.then(({ value }) => { if (value && firstByte === null) firstByte = performance.now() - started; });
          return answer;
        };
        started = performance.now();
        input.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
        """
    )
    page_byte.append(elapsed[0])
    page.append(elapsed[1])
    time.sleep(0.05)
page.sort()
page_byte.sort()
browser.quit()
serve.terminate()
serve.wait()

median_api = statistics.median(api)
median_page = statistics.median(page)
median_byte = statistics.median(page_byte)
print(f"API first byte:        median {median_api:.2f} ms (min {api[0]:.2f})")
print(f"page first byte:       median {median_byte:.2f} ms (min {page_byte[0]:.2f}), "
      f"{median_byte - median_api:+.2f} ms (goal within 5 ms)")
print(f"page first words:      median {median_page:.2f} ms (min {page[0]:.2f}), "
      f"{median_page - median_api:+.2f} ms")
print(f"first load:            {size / 1024:.1f} KB transferred in {files} files (goal under 300 KB)")
