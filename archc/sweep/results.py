"""Result files: every candidate a row, streamed as it arrives, and resumable.

Rows are written in sweep order, so the rows of a killed sweep are a prefix of the full result.
Next to the output a small manifest (``OUT.sweep.json``) records what the sweep is (spec
sources' hash, axes, sample, constraint, settings, columns); rerunning the same sweep with the
same output reads the rows already there, drops a row the kill cut in half, and continues after
the last complete one, so no row is lost or doubled.  A different sweep aimed at the same file is
a usage error, never a silent mix.

* JSONL: one JSON object a line.
* CSV: a header, then one line per row (values as JSON scalars: strings quoted only where CSV
  needs it).
* Parquet (the ``pyarrow`` extra): rows stream to a JSONL journal (``OUT.journal.jsonl``) that is
  converted to Parquet when the sweep ends; a Parquet file cannot be appended to safely.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archc.errors import MissingDependencyError, UsageError
from archc.sweep.values import parse_value

FORMATS = ("jsonl", "csv", "parquet")
MANIFEST_SUFFIX = ".sweep.json"
JOURNAL_SUFFIX = ".journal.jsonl"


def format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in FORMATS:
        return suffix
    raise UsageError(
        f"cannot tell the format of {str(path)!r} from its suffix",
        None,
        ["name the output .jsonl, .csv or .parquet"],
    )


def fingerprint(description: dict[str, Any]) -> str:
    text = json.dumps(description, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


class ResultFile:
    """One sweep's output: opened (resuming when it can), appended to, finished."""

    def __init__(
        self, path: Path, columns: Sequence[str], description: dict[str, Any], overwrite: bool
    ) -> None:
        self.path = path
        self.format = format_of(path)
        if self.format == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise MissingDependencyError(
                    "Parquet output needs pyarrow", None, ["pip install 'archc[parquet]'"]
                ) from None
        self.columns = list(columns)
        self.description = {**description, "columns": self.columns, "format": self.format}
        self.stream_path = (
            path.with_name(path.name + JOURNAL_SUFFIX) if self.format == "parquet" else path
        )
        self.manifest = _manifest_path(path)
        self.rows: list[dict[str, Any]] = []
        self.complete = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open(overwrite)

    # ---------------------------------------------------------------- opening, resuming
    def _open(self, overwrite: bool) -> None:
        wanted = fingerprint(self.description)
        exists = self.path.exists() or self.stream_path.exists()
        if exists and not overwrite:
            if not self.manifest.exists():
                raise UsageError(
                    f"{self.path} exists and is not the output of an archc sweep",
                    None,
                    ["pass --overwrite to replace it, or choose another --output"],
                )
            recorded = json.loads(self.manifest.read_text())
            if recorded.get("fingerprint") != wanted:
                raise UsageError(
                    f"{self.path} holds the results of a different sweep "
                    "(the spec, the axes, the constraint or the settings differ)",
                    None,
                    ["pass --overwrite to start again, or choose another --output"],
                )
            self.complete = bool(recorded.get("complete"))
            self.rows = self._read_existing()
        else:
            for p in (self.path, self.stream_path):
                if p.exists():
                    p.unlink()
            self._write_header()
        self.manifest.write_text(
            json.dumps(
                {"fingerprint": wanted, "complete": self.complete, **self.description},
                indent=2,
                default=str,
            )
            + "\n"
        )
        self._stream = open(self.stream_path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._stream, lineterminator="\n") if self.format == "csv" else None

    def _write_header(self) -> None:
        if self.format == "csv":
            with open(self.stream_path, "w", encoding="utf-8", newline="") as f:
                csv.writer(f, lineterminator="\n").writerow(self.columns)
        else:
            self.stream_path.write_text("")

    def _read_existing(self) -> list[dict[str, Any]]:
        if self.format == "parquet" and self.complete and self.path.exists():
            import pyarrow.parquet as pq

            return list(pq.read_table(self.path).to_pylist())
        if not self.stream_path.exists():
            self._write_header()
            return []
        data = self.stream_path.read_bytes()
        keep = _complete_prefix(data, csv_quotes=self.format == "csv")
        if keep < len(data):
            with open(self.stream_path, "r+b") as f:
                f.truncate(keep)
            data = data[:keep]
        text = data.decode("utf-8")
        if self.format == "csv":
            reader = csv.reader(io.StringIO(text))
            header = next(reader, None)
            if header is None:
                self._write_header()
                return []
            return [self._from_csv(record) for record in reader if record]
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _from_csv(self, record: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column, text in zip(self.columns, record, strict=True):
            if column in ("status", "message"):
                row[column] = text
            elif text == "":
                row[column] = None
            else:
                row[column] = json.loads(text) if _is_json_scalar(text) else parse_value(text)
        return row

    # ---------------------------------------------------------------- writing
    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            if self._csv is not None:
                self._csv.writerow([_csv_cell(column, row.get(column)) for column in self.columns])
            else:
                self._stream.write(json.dumps(row, separators=(",", ":")) + "\n")
        self._stream.flush()
        self.rows.extend(rows)

    def finish(self) -> None:
        """All candidates are in: convert the Parquet journal, mark the manifest complete."""
        self._stream.close()
        if self.format == "parquet" and not self.complete:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist([_plain(r, self.columns) for r in self.rows])
            tmp = self.path.with_name(self.path.name + ".tmp")
            pq.write_table(table, tmp)
            os.replace(tmp, self.path)
            self.stream_path.unlink(missing_ok=True)
        self.complete = True
        recorded = json.loads(self.manifest.read_text())
        recorded["complete"] = True
        self.manifest.write_text(json.dumps(recorded, indent=2, default=str) + "\n")

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()


def _complete_prefix(data: bytes, csv_quotes: bool) -> int:
    """Bytes of ``data`` up to the end of its last complete record (a row the kill cut in half
    is dropped).  In CSV a newline inside a quoted field does not end a record."""
    if not csv_quotes:
        return data.rfind(b"\n") + 1
    keep = 0
    quoted = False
    for i, byte in enumerate(data):
        if byte == 0x22:  # '"'; an escaped quote ("") flips twice
            quoted = not quoted
        elif byte == 0x0A and not quoted:
            keep = i + 1
    return keep


def _is_json_scalar(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, int | float | bool | str) or value is None


def _csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if column in ("status", "message") or isinstance(value, str):
        return str(value) if column in ("status", "message") else json.dumps(value)
    if isinstance(value, tuple | list):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return json.dumps(value)


def _plain(row: dict[str, Any], columns: Sequence[str]) -> dict[str, Any]:
    return {
        c: list(v) if isinstance(v, tuple) else v for c, v in ((c, row.get(c)) for c in columns)
    }
