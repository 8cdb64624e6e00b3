"""Child process: serve a demo scenario over loopback HTTPS, so the process being measured runs only
the product's client code. ``python -m bench.serve_fake SCENARIO LATENCY_MS [DEVICES [no-hunting]]``:
DEVICES spreads the scenario's device groups over that many devices (``Scenario.with_devices``);
``no-hunting`` refuses advanced hunting (403), so the device reads page the Defender for Endpoint API.

Prints one JSON line (login/graph/mde URLs, CA file, tenant id), then answers commands on stdin, one
JSON line each: ``log`` (every request so far: [start, end, method, path]) and ``reset``. Stops at EOF.
"""

from __future__ import annotations

import json
import os
import sys

from bench.instrument import TimedCloud
from dex_tui.demo import DemoServer, load_scenario


def main(argv: list[str]) -> int:
    # The machine under test may have few cores: let the measured process win them from this one.
    os.nice(10)
    scenario = load_scenario(argv[0])
    if int(argv[1]):
        scenario = scenario.with_knobs(latency_ms=int(argv[1]))
    if len(argv) > 2 and int(argv[2]):
        scenario = scenario.with_devices(int(argv[2]))
    if "no-hunting" in argv[3:]:
        scenario = scenario.with_faults({"endpoint": "graph.huntingQuery", "kind": "status", "status": 403,
                                         "count": 0})
    cloud = TimedCloud(scenario, cache_device_pages=True)
    with DemoServer(cloud) as server:
        print(json.dumps({"login_url": server.login_url, "graph_url": server.graph_url, "mde_url": server.mde_url,
                          "ca_file": server.ca_file, "tenant_id": scenario.tenant_id}), flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "log":
                print(json.dumps([[e.start, e.end, e.method, e.path] for e in list(cloud.timed_log)]), flush=True)
            elif command == "reset":
                cloud.reset_log()
                print("[]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
