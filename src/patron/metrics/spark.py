"""Apache Spark through Ibis's PySpark backend, for workspaces whose answers no longer fit one machine.

The metric expressions are the same ones that run on SQLite, PostgreSQL and DuckDB; Spark reads the
``patron export parquet`` files (on a laptop in local mode, or on a cluster with ``master``). PySpark and a
Java runtime are optional: ``pip install 'patron[spark]'`` and Java 17.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import ibis

from patron.core.errors import PatronError
from patron.metrics.export import exported_files

#: Spark's own defaults assume a cluster; these make local mode start in seconds and compute in UTC.
LOCAL_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.driver.bindAddress": "127.0.0.1",
}


def session(master: str = "local[2]", app_name: str = "patron") -> Any:
    """A Spark session (an existing one is reused, as Spark allows one per process)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise PatronError("metrics.spark_missing") from None
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # a machine whose hostname does not resolve
    # Python workers (``mapInPandas``) run this interpreter, with Patron and its packages, not the first python3 on
    # PATH; decided when the first session starts, so here rather than in the caller that needs it.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in LOCAL_SETTINGS.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def open_parquet(folder: Path, master: str = "local[2]") -> ibis.BaseBackend:
    """An Ibis connection to Spark whose tables are the exported files."""
    files = exported_files(folder)  # before Spark takes seconds to start
    con = ibis.pyspark.connect(session(master))
    for name, path in files.items():
        con.read_parquet(str(path), table_name=name)
    return con
