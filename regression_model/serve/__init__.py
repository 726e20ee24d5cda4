"""Serve the model over HTTP (the ``serve`` extra): ``regression-model serve``.

``app.create_app()`` builds the FastAPI app, ``server.run_server()`` runs it with uvicorn.
The endpoints: ``/health``, ``/ready``, ``/metrics``, ``/v1/model``, ``/v1/predict``, a page
at ``/`` and the OpenAPI docs at ``/docs``, served with no asset from the internet. Nothing
is imported here, so that the command line can start the server without loading the
model's libraries.
"""

# prometheus-client's multiprocess directory, which the server names for its workers
# (server.py) and the metrics read (metrics.py).
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
