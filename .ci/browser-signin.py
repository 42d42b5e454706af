#!/usr/bin/env python3
"""Signs in at an authorization URL in headless Chromium, as a person would.

Usage: browser-signin.py CHROMIUM AUTHORIZE_URL USERNAME PASSWORD

Drives Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on fd 3,
answers on fd 4, each a JSON message ended by NUL), so it needs nothing but the standard
library. Opens the URL, waits for the login form, types the user name and password, clicks
"Sign in", and waits until the browser shows the app's loopback page; exits 0 when that page
says "Signed in". Every wait is bounded.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 60


class DevTools:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def wire_pipes():
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
        ]
        self.process = subprocess.Popen(
            # The pipes are moved to fds 3 and 4 before the fds not passed are closed.
            [chromium, *flags], preexec_fn=wire_pipes, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0

    def _read_message(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, session, expression):
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    def wait_for(self, session, expression, what):
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            value = self.evaluate(session, expression)
            if value:
                return value
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def main():
    chromium, url, username, password = sys.argv[1:5]
    profile = tempfile.mkdtemp(prefix="browser-signin-")
    browser = DevTools(chromium, profile)
    try:
        target = browser.call("Target.createTarget", {"url": url})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        browser.wait_for(session, "document.readyState === 'complete' && "
                         "!!document.getElementById('username')", "the login form")
        for field, text in (("username", username), ("password", password)):
            browser.evaluate(session, f"document.getElementById('{field}').focus()")
            browser.call("Input.insertText", {"text": text}, session)
        browser.evaluate(session, "document.getElementById('submit').click()")
        page = browser.wait_for(
            session,
            "document.readyState === 'complete' && !document.getElementById('username') && "
            "document.body && document.body.innerText",
            "the app's page after the sign-in")
        print(f"browser shows: {page.strip()}")
        return 0 if "Signed in" in page else 1
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
