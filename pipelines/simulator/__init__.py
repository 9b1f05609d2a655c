"""The crowd simulator (issue 12): simulated workers of known quality run the whole pipeline
over HTTP on a COCO ground truth, and the export is scored against it.

Modules, lowest first: `groundtruth` (reading any COCO instances file), `pictures` (stand-in
photos), `behaviour` (seeded worker models and the thinking-time model), `client` (the HTTP
calls the browser tools make), `server` (a real server process on a loopback port), `crew`
(the project and its people), `report` (fidelity figures and database checks), `state` (a
run's options and counters), `preparation` (project, crew, photos, references, gold),
`answering` (one leased task answered, per stage), `waves` (the passes and waves), `ending`
(export and report), `driver` (stage after stage until nothing is left). `manage.py
simulate_crowd` is the command.
"""
