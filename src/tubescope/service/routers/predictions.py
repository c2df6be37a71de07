"""Forecasts for planned videos, from the latest trained model."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tubescope.jobs.predict import PlannedVideo
from tubescope.service.state import ReadToken, State

router = APIRouter(prefix="/v1/predictions", tags=["predictions"])


class PredictionRequest(BaseModel):
    """The body of a prediction request: a planned video."""

    channel: str = Field(min_length=1, max_length=300)
    title: str = Field(min_length=1, max_length=300)
    duration_seconds: float = Field(gt=0, le=30 * 86400)
    publish_at: datetime
    short: bool = False
    tags: list[str] = Field(default_factory=list, max_length=100)
    category_id: str | None = Field(default=None, max_length=10)


@router.post("")
def predict(body: PredictionRequest, _: ReadToken, state: State) -> dict[str, Any]:
    """Predict the views of a planned video."""
    published = body.publish_at if body.publish_at.tzinfo else body.publish_at.astimezone()
    video = PlannedVideo(
        channel=body.channel,
        title=body.title,
        duration_seconds=body.duration_seconds,
        published_at=published,
        short=body.short,
        tags=tuple(body.tags),
        category_id=body.category_id,
    )
    return state.predictor().predict(video).to_dict()
