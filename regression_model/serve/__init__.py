"""Serve the model over HTTP (the ``serve`` extra): ``regression-model serve``.

``create_app()`` builds the FastAPI app; ``run_server()`` runs it with uvicorn. The
endpoints: ``/health``, ``/ready``, ``/v1/model``, ``/v1/predict``, a page at ``/`` and the
OpenAPI docs at ``/docs``, served with no asset from the internet.
"""

from regression_model.serve.app import create_app, run_server

__all__ = ["create_app", "run_server"]
