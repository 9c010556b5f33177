"""Where a job writes: a hidden staging sibling renamed onto ``--output`` at the end, and what ``--overwrite`` may
replace (an earlier result of this command, nothing else).

Through Hadoop's FileSystem, so local paths, HDFS and object stores behave the same.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.batch.inputs import BatchInputError, has_scheme, local_output

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# What a finished job leaves under --output: `--overwrite` replaces a directory holding these and nothing else.
OUTPUT_ENTRIES = frozenset({"paragraphs", "articles", "rejected", "report.json"})


def refuse_to_replace(output: str, entries: list[str] | None) -> None:
    """``--overwrite`` replaces an earlier result of this command only: pointed by mistake at a model directory,
    the MLflow store's folder or the working directory, it deleted them. ``entries``: the names in the existing
    output (None: it is a file)."""
    if entries is None:
        raise BatchInputError(f"{output}: a file, not an earlier batch output; --overwrite replaces only those")
    others = sorted(set(entries) - OUTPUT_ENTRIES)
    if "report.json" not in entries or others:
        found = ["no report.json"] if "report.json" not in entries else []
        found += [f"it holds {', '.join(others[:5])}{' ...' if len(others) > 5 else ''}"] if others else []
        raise BatchInputError(
            f"{output}: not an earlier batch output ({'; '.join(found)}); --overwrite replaces only those: "
            "choose another --output, or remove this one yourself"
        )


class StagedOutput:
    """The output name and its hidden staging sibling, through Hadoop's FileSystem (local, HDFS, S3...)."""

    def __init__(self, spark: SparkSession, output: str):
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self.jvm = jvm
        self.final = jvm.org.apache.hadoop.fs.Path(local_output(output))
        self.fs = self.final.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        self.fs.setWriteChecksum(False)  # no hidden .report.json.crc beside the report on a local disk
        parent, name = self.final.getParent(), self.final.getName()
        staged_name = f".{name}.tmp-{uuid.uuid4().hex[:12]}"
        self.staging = jvm.org.apache.hadoop.fs.Path(parent, staged_name)
        # Known without the JVM: after Ctrl-C or SIGTERM the gateway may be gone when the staging must go.
        local = None if has_scheme(output) else Path(local_output(output))
        self.local_staging = None if local is None else local.parent / staged_name

    def _staged(self, child: str) -> Any:
        return self.jvm.org.apache.hadoop.fs.Path(self.staging, child)

    def path(self, child: str) -> str:
        return str(self._staged(child).toString())

    def exists(self) -> bool:
        return bool(self.fs.exists(self.final))

    def entries(self) -> list[str] | None:
        """The names directly under the existing output, None when it is a file."""
        if not self.fs.getFileStatus(self.final).isDirectory():
            return None
        return [str(status.getPath().getName()) for status in self.fs.listStatus(self.final)]

    def write_text(self, child: str, text: str) -> None:
        stream = self.fs.create(self._staged(child), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def delete(self, child: str) -> None:
        self.fs.delete(self._staged(child), True)

    def commit(self, overwrite: bool) -> None:
        """Rename the staging directory onto the output name (moving an old result aside first)."""
        old = None
        if self.fs.exists(self.final):
            if not overwrite:
                raise BatchInputError(f"{self.final}: output exists; pass --overwrite to replace it")
            old = self.jvm.org.apache.hadoop.fs.Path(
                self.final.getParent(), f".{self.final.getName()}.old-{uuid.uuid4().hex[:12]}"
            )
            if not self.fs.rename(self.final, old):
                raise BatchInputError(f"{self.final}: could not move the previous output aside")
        if not self.fs.rename(self.staging, self.final):
            raise BatchInputError(f"{self.final}: could not rename {self.staging} onto it")
        if old is not None:
            self.fs.delete(old, True)

    def discard(self) -> None:
        try:
            self.fs.delete(self.staging, True)
        except Exception:
            if self.local_staging is None:
                raise
        if self.local_staging is not None:  # the JVM's delete may not have run (or the JVM may be gone)
            shutil.rmtree(self.local_staging, ignore_errors=True)
