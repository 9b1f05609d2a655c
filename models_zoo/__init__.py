"""cocoforge's model service: class-agnostic mask proposals (SharpMask, FPN) in plain
PyTorch. Runs in its own environment (.venv-models, Python 3.11, torch 2.13.0) and imports
neither Django nor the annotation app; the web app reaches it through Celery (queue
``models``) and media storage only."""
