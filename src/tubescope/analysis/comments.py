"""What the collected comments say about a channel's audience: volume over time, who comments
most, how much of it is conversation (replies), and the most liked comments. Pure: it reads a
comments frame (columns of the warehouse's ``comments`` table), nothing else."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tubescope.analysis.features import JsonMixin, require_columns


@dataclass(frozen=True)
class MonthlyComments(JsonMixin):
    """Comments and replies posted in one calendar month."""

    month: str
    """UTC month, ``YYYY-MM``."""
    comments: int
    replies: int


@dataclass(frozen=True)
class Commenter(JsonMixin):
    """One commenter with the number of comments they wrote and the likes those received."""

    author: str
    comments: int
    likes: int


@dataclass(frozen=True)
class CommentsSummary(JsonMixin):
    """A channel's collected comments summarised: volume per month, top commenters and reply share."""

    n_comments: int
    """Top-level comments and replies collected."""
    n_top_level: int
    n_replies: int
    reply_share: float | None
    """Replies / all comments collected; None without comments."""
    n_videos: int
    """Videos with at least one comment collected."""
    n_authors: int
    monthly: tuple[MonthlyComments, ...]
    top_commenters: tuple[Commenter, ...]
    note: str = (
        "Only comments collected with `tubescope collect --comments` are counted; "
        "YouTube may hold more (--max-comments, held-for-review and deleted ones)."
    )


def summarize_comments(comments: pd.DataFrame, *, top: int = 5) -> CommentsSummary:
    """Volume per month, reply share and the ``top`` most active commenters of ``comments``."""
    require_columns(comments, "comments", ("comment_id", "video_id", "parent_id", "author", "published_at"))
    if comments.empty:
        return CommentsSummary(0, 0, 0, None, 0, 0, (), ())
    is_reply = comments["parent_id"].notna() & (comments["parent_id"].astype(str) != "")
    published = pd.to_datetime(comments["published_at"], utc=True)
    months = published.dt.strftime("%Y-%m")
    by_month = (
        pd.DataFrame({"month": months, "reply": is_reply}).groupby("month")["reply"].agg(["size", "sum"])
    )
    likes = pd.to_numeric(comments.get("like_count", pd.Series(0, index=comments.index)), errors="coerce")
    authors = pd.DataFrame({"author": comments["author"].astype(str), "likes": likes.fillna(0)})
    ranked = (
        authors.groupby("author")["likes"].agg(["size", "sum"]).sort_values(["size", "sum"], ascending=False)
    )
    n_replies = int(is_reply.sum())
    return CommentsSummary(
        n_comments=len(comments),
        n_top_level=len(comments) - n_replies,
        n_replies=n_replies,
        reply_share=n_replies / len(comments),
        n_videos=int(comments["video_id"].nunique()),
        n_authors=int(comments["author"].nunique()),
        monthly=tuple(
            MonthlyComments(str(month), int(row["size"]), int(row["sum"]))
            for month, row in by_month.iterrows()
        ),
        top_commenters=tuple(
            Commenter(str(author), int(row["size"]), int(row["sum"]))
            for author, row in ranked.head(top).iterrows()
        ),
    )
