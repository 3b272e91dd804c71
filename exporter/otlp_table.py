"""The one table from catalogue metrics to OpenTelemetry semantic-convention metrics, used by
`--otlp.naming semconv` and printed in README.md between two markers:

    python -m inferwatch.exporter.otlp_table README.md     # rewrite the README's table

Names, instruments, units and attribute values are those of semantic conventions 1.44.0
(model/hardware/*.yaml; gen_ai.* as defined there until 1.43.0 moved them, unchanged, to the
GenAI conventions repository). Every convention metric listed is "Development" stability.
This module is data only: it imports no opentelemetry package.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from inferwatch import catalog as c
from inferwatch.catalog.spec import MetricSpec
from inferwatch.catalog_doc import between_markers

SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
GAUGE, COUNTER, UPDOWNCOUNTER, HISTOGRAM = "gauge", "counter", "updowncounter", "histogram"

# Catalogue label -> convention attribute, by domain. GPU: the index becomes hw.name "gpu<N>".
GPU_LABELS = {"uuid": "hw.id", "gpu": "hw.name"}
# Engine: the engine's pod (discovery's namespace and pod labels) is the point's, not the
# resource's (the exporter's own pod).
ENGINE_LABELS = {"engine": "gen_ai.provider.name", "model": "gen_ai.request.model",
                 "namespace": "k8s.namespace.name", "pod": "k8s.pod.name"}
# GPU_INFO label -> attribute the hw.gpu.* metrics recommend (metric_attributes.hw.gpu).
GPU_INFO_LABELS = {"name": "hw.model", "driver_version": "hw.driver_version",
                   "serial": "hw.serial_number"}
HW_VENDOR = {"hw.vendor": "NVIDIA"}  # NVML reads NVIDIA GPUs only
# Engines' metrics do not split requests by API; chat completion is the operation they serve.
GEN_AI_OPERATION = {"gen_ai.operation.name": "chat"}


@dataclass(frozen=True)
class Source:
    """A catalogue family feeding a convention metric, with the attributes it adds; with
    `per`, the value is this family's divided by `per`'s for the same series. With `sensor`,
    the component is that sensor of the GPU (hw.temperature is "a temperature sensor"):
    hw.id <uuid>-<sensor>, hw.name gpuN-<sensor>, hw.parent the GPU's hw.id and
    hw.sensor_location GPUN_<SENSOR>, in the registry's CPU0_DIE style."""

    spec: MetricSpec
    attributes: dict[str, str] = field(default_factory=dict)
    per: MetricSpec | None = None
    sensor: str = ""


@dataclass(frozen=True)
class Row:
    name: str
    instrument: str
    unit: str
    sources: tuple[Source, ...]
    attributes: dict[str, str]  # constant attributes on every point
    integer: bool = False       # the convention's metric_value_type is int
    gpu_info: bool = False      # hw.model, hw.driver_version, hw.serial_number from GPU_INFO
    brief: str = ""             # the convention's brief, as is

    @property
    def labels(self) -> dict[str, str]:
        return ENGINE_LABELS if self.name.startswith("gen_ai.") else GPU_LABELS


_GPU = {**HW_VENDOR}
_TYPED = {**HW_VENDOR, "hw.type": "gpu"}  # hw.power and hw.energy require hw.type

TABLE: tuple[Row, ...] = (
    Row("hw.gpu.utilization", GAUGE, "1", (
        Source(c.GPU_UTILIZATION, {"hw.gpu.task": "general"}),
        Source(c.GPU_ENCODER_UTILIZATION, {"hw.gpu.task": "encoder"}),
        Source(c.GPU_DECODER_UTILIZATION, {"hw.gpu.task": "decoder"})), _GPU, gpu_info=True,
        brief="Fraction of time spent in a specific task."),
    Row("hw.gpu.memory.usage", UPDOWNCOUNTER, "By", (Source(c.GPU_MEMORY_USED),), _GPU,
        integer=True, gpu_info=True, brief="GPU memory used."),
    Row("hw.gpu.memory.limit", UPDOWNCOUNTER, "By", (Source(c.GPU_MEMORY_TOTAL),), _GPU,
        integer=True, gpu_info=True, brief="Size of the GPU memory."),
    Row("hw.gpu.memory.utilization", GAUGE, "1",
        (Source(c.GPU_MEMORY_USED, per=c.GPU_MEMORY_TOTAL),), _GPU, gpu_info=True,
        brief="Fraction of GPU memory used."),
    Row("hw.gpu.io", COUNTER, "By", (
        Source(c.GPU_PCIE_TX, {"network.io.direction": "transmit"}),
        Source(c.GPU_PCIE_RX, {"network.io.direction": "receive"})), _GPU, integer=True,
        gpu_info=True, brief="Received and transmitted bytes by the GPU."),
    Row("hw.power", GAUGE, "W", (Source(c.GPU_POWER_USAGE),), _TYPED,
        brief="Instantaneous power consumed by the component."),
    Row("hw.energy", COUNTER, "J", (Source(c.GPU_ENERGY),), _TYPED,
        brief="Energy consumed by the component."),
    Row("hw.temperature", GAUGE, "Cel", (
        Source(c.GPU_TEMPERATURE, sensor="die"),
        Source(c.GPU_MEMORY_TEMPERATURE, sensor="memory")), _GPU,
        brief="Temperature in degrees Celsius."),
    Row("gen_ai.server.time_to_first_token", HISTOGRAM, "s", (Source(c.ENGINE_TTFT),),
        GEN_AI_OPERATION, brief="Time to generate first token for successful responses."),
    Row("gen_ai.server.time_per_output_token", HISTOGRAM, "s", (Source(c.ENGINE_TPOT),),
        GEN_AI_OPERATION, brief="Time per output token generated after the first token for "
        "successful responses."),
    Row("gen_ai.server.request.duration", HISTOGRAM, "s", (Source(c.ENGINE_REQUEST_DURATION),),
        GEN_AI_OPERATION, brief="Generative AI server request duration such as time-to-last "
        "byte or last output token."),
    # The conventions define no server-side token metric: the client's histogram is the one
    # with gen_ai.token.type, and the engines' per-request token histograms are its data.
    Row("gen_ai.client.token.usage", HISTOGRAM, "{token}", (
        Source(c.ENGINE_REQUEST_PROMPT_TOKENS, {"gen_ai.token.type": "input"}),
        Source(c.ENGINE_REQUEST_GENERATION_TOKENS, {"gen_ai.token.type": "output"})),
        GEN_AI_OPERATION, integer=True, brief="Number of input and output tokens used."),
)


def mapped_families() -> dict[str, Row]:
    """Catalogue family name (as the snapshot holds it, no `_total`) -> its row."""
    return {s.spec.name.removesuffix("_total") if s.spec.type == "counter" else s.spec.name: row
            for row in TABLE for s in row.sources}


BEGIN = ("<!-- otlp-semconv:begin (generated by `python -m inferwatch.exporter.otlp_table "
         "README.md`) -->")
END = "<!-- otlp-semconv:end -->"


def _source(source: Source) -> str:
    text = f"`{source.spec.name}`"
    if source.per is not None:
        text += f" / `{source.per.name}`"
    if source.sensor:
        text += f" (sensor {source.sensor}: hw.parent, hw.sensor_location)"
    return text + "".join(f" ({k}={v})" for k, v in source.attributes.items())


def render_table() -> str:
    rows = ["| OpenTelemetry metric | instrument | unit | from | attributes |",
            "|---|---|---|---|---|"]
    for row in TABLE:
        attrs = [f"`{a}` ← `{label}`" + (" as gpuN" if label == "gpu" else "")
                 for label, a in row.labels.items()]
        attrs += [f"`{k}`={v}" for k, v in row.attributes.items()]
        if row.gpu_info:
            attrs += [f"`{a}` ← `{c.GPU_INFO.name}{{{label}}}`"
                      for label, a in GPU_INFO_LABELS.items()]
        sources = "<br>".join(_source(s) for s in row.sources)
        rows.append(f"| `{row.name}` | {row.instrument} | `{row.unit}` | {sources} | "
                    f"{', '.join(attrs)} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    """`text` with the part between the markers replaced by the current table."""
    return between_markers(text, BEGIN, END, render_table())


def main(argv: list[str]) -> int:
    for name in argv:
        path = Path(name)
        path.write_text(with_table(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
