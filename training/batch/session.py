"""The Spark session `topicframe batch`, the tests and the benchmark share.

On a ``local`` or ``local-cluster`` master everything stays on the loopback interface (Spark
otherwise binds the first non-loopback address it finds) and the executors' Python workers run
this interpreter (they would otherwise start the system ``python3``, which has none of the
packages). On a cluster master (``yarn``, ``k8s://``, ``spark://``) those come from the
cluster's own configuration and ``spark-submit``'s options, which this module leaves alone.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# One BLAS/OpenMP thread per Python worker: Spark already runs one worker per core, and more threads
# per worker only fight over the same cores.
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# PySpark 4.3 warns on every import under pandas 3 (the lock's), 2-7 times a job. What the job uses of it (Arrow
# batches through mapInPandas) gives the service's labels for every held-out paragraph (tests/integration/
# test_batch_spark.py), so the warning is silenced in the driver and in the Python workers.
PANDAS_WARNING = "PySpark does not yet fully support pandas"
WORKER_ENV["PYTHONWARNINGS"] = f"ignore:{PANDAS_WARNING}:FutureWarning"


def is_local(master: str | None) -> bool:
    return master is None or master.startswith(("local", "local-cluster"))


def prepare_local_environment() -> None:
    """Environment variables Spark reads when the JVM starts: set before the first session."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def spark_session(master: str | None, app_name: str = "topicframe-batch", progress: bool = True) -> SparkSession:
    """A session on ``master`` (``None``: what ``spark-submit`` configured, else ``local[*]``)."""
    warnings.filterwarnings("ignore", message=PANDAS_WARNING, category=FutureWarning)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if is_local(master):
        prepare_local_environment()
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
        )
    if master is not None:
        builder = builder.master(master)
    for name, value in WORKER_ENV.items():
        builder = builder.config(f"spark.executorEnv.{name}", value)
    builder = builder.config("spark.ui.showConsoleProgress", str(progress).lower())
    # Arrow for the pandas UDF's batches; Python worker reuse keeps each worker's loaded model.
    builder = builder.config("spark.python.worker.reuse", "true")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
