"""Dependencies of the API, as Annotated aliases so tests can override them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from pipeline.settings import Settings
from search.base import SearchBackend
from store.repository import Store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_backend(request: Request) -> SearchBackend:
    return request.app.state.backend


def get_store(request: Request) -> Store:
    return request.app.state.store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SearchDep = Annotated[SearchBackend, Depends(get_backend)]
StoreDep = Annotated[Store, Depends(get_store)]
