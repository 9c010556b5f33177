"""What uvicorn imports in every serving worker of `python -m service`: the app factory, with pandas and pyarrow
kept out of the process.

MLflow's client imports pandas and pyarrow whenever they are installed (they are, for training) to register
dataset and HDFS support the service never uses: 65 MB of each worker's memory (326 -> 261 MB on loading the
default model from the SQLite store, before the heap is trimmed). MLflow imports both inside ``except ImportError``
guards, as it also runs without them (mlflow-skinny), so a serving worker refuses them before anything imports
MLflow. This module, not `service.main`: tests build the app in the test process, which needs pandas for training.
tests/integration/test_service_http.py checks that a worker, after classifying, listing the registry, comparing two
versions and a hot reload, has mapped neither library.
"""

from __future__ import annotations

import sys

NOT_IMPORTED_WHEN_SERVING = ("pandas", "pyarrow")
for _library in NOT_IMPORTED_WHEN_SERVING:
    sys.modules.setdefault(_library, None)  # type: ignore[arg-type]  # None in sys.modules: "import X" fails

from service.main import create_served_app  # noqa: E402  (after the refusal above)

__all__ = ["create_served_app"]
