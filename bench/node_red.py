"""Node-RED beside Circuit OS: installed from npm into a cache folder on first use, one flow.

The flow is the webhook circuit's twin: `http in` (POST /hooks/lead) → `change` (the payload
becomes {body, greeting}) → `switch` (body.score ≥ 50) → `http response`. The editor and admin
API are off; nothing is persisted (Node-RED keeps no executions).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

VERSION = "4.1.15"
CACHE = Path(os.environ.get("CIRCUITOS_BENCH_CACHE", Path.home() / ".cache" / "circuitos-bench"))
HOME = CACHE / f"node-red-{VERSION}"
PATH = "/hooks/lead"

FLOW = [
    {"id": "bench", "type": "tab", "label": "bench"},
    {"id": "in", "type": "http in", "z": "bench", "url": PATH, "method": "post", "upload": False, "swaggerDoc": "", "wires": [["set"]]},
    {
        "id": "set",
        "type": "change",
        "z": "bench",
        "rules": [{"t": "set", "p": "payload", "pt": "msg", "to": '{"body": payload, "greeting": "Hello " & payload.lead.email}', "tot": "jsonata"}],
        "wires": [["check"]],
    },
    {
        "id": "check",
        "type": "switch",
        "z": "bench",
        "property": "payload.body.score",
        "propertyType": "msg",
        "rules": [{"t": "gte", "v": "50", "vt": "num"}],
        "checkall": "true",
        "repair": False,
        "outputs": 1,
        "wires": [["respond"]],
    },
    {"id": "respond", "type": "http response", "z": "bench", "statusCode": "", "headers": {}, "wires": []},
]

SETTINGS = """module.exports = {
    flowFile: "flows.json",
    httpAdminRoot: false,
    credentialSecret: false,
    logging: { console: { level: "warn", metrics: false, audit: false } },
};
"""


def red_js() -> Path:
    return HOME / "node_modules" / "node-red" / "red.js"


def install() -> Path:
    """`npm install node-red@VERSION` into the cache folder, once."""
    if red_js().exists():
        return red_js()
    if not shutil.which("npm"):
        raise RuntimeError("npm is not installed: the side-by-side mode needs Node.js and npm")
    HOME.mkdir(parents=True, exist_ok=True)
    print(f"installing Node-RED {VERSION} into {HOME} (first use)")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--omit=dev", "--save-exact", f"node-red@{VERSION}"], cwd=HOME, check=True)
    return red_js()


def start(port: int) -> subprocess.Popen:
    script = install()
    user_dir = HOME / "user"
    user_dir.mkdir(exist_ok=True)
    (user_dir / "flows.json").write_text(json.dumps(FLOW))
    (user_dir / "settings.js").write_text(SETTINGS)
    process = subprocess.Popen(
        ["node", str(script), "--port", str(port), "--userDir", str(user_dir), "--settings", str(user_dir / "settings.js")],
        cwd=HOME,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 60
    url = f"http://127.0.0.1:{port}{PATH}"
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Node-RED exited ({process.returncode})")
        try:
            request = urllib.request.Request(url, data=b'{"score": 70, "lead": {"email": "a@b.test"}}', headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("Node-RED did not answer within 60 s")
