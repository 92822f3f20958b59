"""Pipeline requests (docs/protocol.md "Pipelines"). Pure: no I/O.

``parse_configuration`` reads the one-line configuration form edgectl takes (``--config``):
``audio=large:100,vision=small:/2``, i.e. MODALITY=ENCODER:UNIT_MS or MODALITY=ENCODER:/STRIDE per modality. A unit
length alone means stride 1; a stride alone means unit length 0.
"""

import math
import os
import re
from typing import Any, Dict, Mapping, Optional

__all__ = ["parse_configuration", "configuration_header", "pipeline_run_request", "sensor"]

_CLOCKS = ("realtime", "fast")
_UNIT_MS = re.compile(r"^\d+(\.\d+)?(ms)?$")
_STRIDE = re.compile(r"^/\d+$")


def parse_configuration(spec):
    # type: (str) -> Dict[str, Any]
    """``"audio=large:100,vision=small:/2"`` -> ``{"modalities": [{"modality": "audio", "encoder": "large",
    "unitMs": 100.0, "stride": 1}, {"modality": "vision", "encoder": "small", "unitMs": 0.0, "stride": 2}]}``.
    Raises ValueError saying what is wrong."""
    if not isinstance(spec, str):
        raise TypeError("a configuration spec is a str, e.g. 'audio=large:100,vision=small:/2'")
    modalities = []
    for part in (p.strip() for p in spec.split(",")):
        modality, equals, rest = part.partition("=")
        encoder, colon, unit = rest.partition(":")
        modality, encoder, unit = modality.strip(), encoder.strip(), unit.strip()
        if not equals or not colon or not modality or not encoder or not unit:
            raise ValueError("{!r} is not MODALITY=ENCODER:UNIT_MS or MODALITY=ENCODER:/STRIDE "
                             "(e.g. audio=large:100, vision=small:/2)".format(part))
        if _STRIDE.match(unit):
            stride = int(unit[1:])
            if stride < 1:
                raise ValueError("{!r}: the stride after '/' must be >= 1".format(part))
            choice = {"modality": modality, "encoder": encoder, "unitMs": 0.0, "stride": stride}
        elif _UNIT_MS.match(unit) and float(unit[:-2] if unit.endswith("ms") else unit) > 0:
            choice = {"modality": modality, "encoder": encoder,
                      "unitMs": float(unit[:-2] if unit.endswith("ms") else unit), "stride": 1}
        else:
            raise ValueError("{!r}: the unit length must be a number of milliseconds > 0 or /STRIDE".format(part))
        if any(m["modality"] == modality for m in modalities):
            raise ValueError("{!r} appears twice in {!r}".format(modality, spec))
        modalities.append(choice)
    return {"modalities": modalities}


def configuration_header(configuration):
    # type: (Any) -> Dict[str, Any]
    """A configuration as the protocol's JSON: a spec string (see :func:`parse_configuration`), a dict with
    ``modalities`` (sent as is), or a sequence of modality dicts or ``(modality, encoder, unit_ms, stride)`` tuples."""
    if isinstance(configuration, str):
        return parse_configuration(configuration)
    if isinstance(configuration, Mapping):
        if "modalities" not in configuration:
            raise ValueError("a configuration dict needs 'modalities': {!r}".format(configuration))
        return dict(configuration)
    modalities = []
    for choice in configuration:
        if isinstance(choice, Mapping):
            modalities.append(dict(choice))
        else:
            modality, encoder, unit_ms, stride = choice
            modalities.append({"modality": modality, "encoder": encoder, "unitMs": float(unit_ms),
                               "stride": int(stride)})
    return {"modalities": modalities}


def sensor(name):
    # type: (str) -> Dict[str, str]
    """An input read live from one of the daemon's sensors: ``inputs={"audio": sensor("mic")}``."""
    if not isinstance(name, str) or not name:
        raise ValueError("a sensor input names one of the daemon's sensors")
    return {"sensor": name}


def _input(value):
    # type: (Any) -> Any
    if isinstance(value, Mapping):
        if set(value) not in ({"sensor"}, {"path"}) or not isinstance(next(iter(value.values())), str):
            raise ValueError("an input is a path or {{'sensor': NAME}} or {{'path': FILE}}, not {!r}".format(value))
        return dict(value)
    return os.fspath(value)


def pipeline_run_request(name, inputs=None, index=None, mode=None, skip=None, budget_ms=None, configuration=None,
                         clock=None, live=None, pre_ms=None):
    # type: (str, Optional[Mapping[str, Any]], Optional[int], Optional[str], Optional[bool], Optional[float], Any, Optional[str], Optional[bool], Optional[float]) -> Dict[str, Any]
    """The JSON header of a ``pipeline-run`` request. Only what is given is sent: the rest is the pipeline's own
    setting. ``inputs`` maps an input name (a modality, or ``image``) to a replay file or frame folder on the daemon's
    machine, or to ``sensor(NAME)`` to read one of its sensors live; the pipeline's configured inputs fill in the
    names it leaves out. ``live=True`` insists every input is a sensor; ``pre_ms`` starts a live run that far back."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a pipeline's name")
    header = {"pipeline": name}  # type: Dict[str, Any]
    if inputs is not None:
        if not isinstance(inputs, Mapping):
            raise TypeError("inputs must be a dict of input name -> file path")
        header["inputs"] = {str(k): _input(v) for k, v in inputs.items()}
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError("index must be an int >= 0, got {!r}".format(index))
        header["index"] = index
    if mode is not None:
        header["mode"] = mode
    if skip is not None:
        header["skip"] = bool(skip)
    if budget_ms is not None:
        if isinstance(budget_ms, bool) or not (math.isfinite(float(budget_ms)) and float(budget_ms) > 0):
            raise ValueError("budget_ms must be > 0, got {!r}".format(budget_ms))
        header["budgetMs"] = float(budget_ms)
    if configuration is not None:
        header["configuration"] = configuration_header(configuration)
    if clock is not None:
        if clock not in _CLOCKS:
            raise ValueError("clock must be 'realtime' or 'fast', got {!r}".format(clock))
        header["clock"] = clock
    if live is not None:
        header["live"] = bool(live)
    if pre_ms is not None:
        if isinstance(pre_ms, bool) or not (math.isfinite(float(pre_ms)) and float(pre_ms) > 0):
            raise ValueError("pre_ms must be > 0, got {!r}".format(pre_ms))
        header["preMs"] = float(pre_ms)
    return header
