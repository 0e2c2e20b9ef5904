"""Load and check the registry file (sources as data).

A registry problem (unknown network, duplicate id, bad YAML) is a configuration error
of the operator and is raised at once with the file and the entry, before any fetch.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from pipeline.contracts import Registry
from pipeline.settings import Settings


class RegistryError(ValueError):
    """The registry file cannot be used; the message says where and why."""


def parse_registry(text: str, origin: str = "<registry>", samples_url: str = "") -> Registry:
    """Parse registry YAML, substituting ``{samples}`` in URLs, and check references."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{origin}: not valid YAML: {exc}") from exc
    try:
        registry = Registry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(f"{origin}: {exc}") from exc
    network_ids = {n.id for n in registry.networks}
    seen: set[str] = set()
    for source in registry.sources:
        if source.id in seen:
            raise RegistryError(f"{origin}: source id {source.id!r} is used twice")
        seen.add(source.id)
        if source.network not in network_ids:
            raise RegistryError(f"{origin}: source {source.id!r} names unknown network {source.network!r}")
        if "{samples}" in source.url:
            if not samples_url:
                raise RegistryError(
                    f"{origin}: source {source.id!r} uses {{samples}} but no sample server URL is set "
                    "(INNONET_SAMPLES_URL; `innonet demo` sets it)"
                )
            source.url = source.url.replace("{samples}", samples_url.rstrip("/"))
    return registry


def load_registry(settings: Settings) -> Registry:
    """The registry named by the settings."""
    path = Path(settings.registry_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read registry {path}: {exc}") from exc
    return parse_registry(text, str(path), settings.samples_url)
