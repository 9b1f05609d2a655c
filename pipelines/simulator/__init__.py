"""The crowd simulator (issue 12): simulated workers of known quality run the whole pipeline
over HTTP on a COCO ground truth, and the export is scored against it.

Modules, lowest first: `groundtruth` (reading any COCO instances file), `pictures` (stand-in
photos), `behaviour` (seeded worker models and the thinking-time model), `client` (the HTTP
calls the browser tools make), `server` (a real server process on a loopback port), `crew`
(the project and its people), `driver` (stage after stage until nothing is left), `report`
(fidelity figures and database checks). `manage.py simulate_crowd` is the command.
"""
