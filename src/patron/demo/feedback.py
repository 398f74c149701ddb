"""The demo's feedback from other channels than surveys: store reviews, e-mails, chats, phone notes and social
posts about a tea shop, in Traditional Chinese, Simplified Chinese and English, over the demo's last 180 days.

Each comment joins one to three clauses, each about one theme and positive or negative (joined with 但/但是/but
where the sentiment turns), so the Feedback tab shows real themes with mixed sentiment. Each theme has its own
share of negative clauses; in the last three weeks delivery complaints rise (a courier change), the kind of
spike an alert should catch. About a third of the comments come from known customers (linked by their id).
Social listening (docs/social.md) tracks the shop's names and one keyword; half of the posts and reviews name the
shop, and eight days before the end a complaint about a foreign object in a drink spreads (``VIRAL_POSTS`` posts in
one day): the Social tab and the Alerts page show it as a spike. In the last three weeks customers complain about
the shop's new paper straws, which no theme covers: the taxonomy page lists it as an emerging topic (so does the
foreign-object complaint). The newest consented testimonials are approved for the public page.
Seeded and keyed by source id: loading twice stores nothing new. The survey comments the demo already holds
become items through ``feedback.service.analyze``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from patron.core import service as core_service
from patron.core.db import transaction
from patron.feedback import service, testimonials
from patron.feedback.models import Channel, FeedbackItem, FeedbackMention
from patron.feedback.schemas import AnalyzeReport, FeedbackCreate
from patron.social import service as social_service
from patron.text.normalise import to_simplified

DAYS = 180
APPROVED_TESTIMONIALS = 6
SPIKE_DAYS = 21
BATCH = 1000

#: theme: (share of negative clauses, [(positive zh-Hant, positive en)], [(negative zh-Hant, negative en)])
PHRASES: dict[str, tuple[float, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "delivery": (
        0.35,
        [
            ("外送很快，半小時就送到了", "the delivery was fast, it arrived in half an hour"),
            ("宅配準時送到，包裝完整", "the parcel was delivered on time"),
        ],
        [
            ("外送很慢，等了一個多小時", "the delivery was slow, it took over an hour"),
            ("物流延誤了三天才到貨", "shipping was delayed by three days"),
            ("送錯地址，還要自己去拿", "the courier delivered to the wrong address"),
        ],
    ),
    "food_quality": (
        0.3,
        [
            ("珍珠奶茶很好喝，茶味很香", "the bubble tea was delicious"),
            ("水果茶很新鮮，甜度剛好", "the fruit tea tasted fresh"),
        ],
        [
            ("奶茶太甜，喝不下去", "the milk tea was far too sweet and bland"),
            ("珍珠煮得太硬，口味跟以前不一樣", "the tapioca was hard and the taste has changed"),
            ("熱飲送到時已經冷掉了", "the hot drink was cold when it arrived"),
        ],
    ),
    "staff_attitude": (
        0.3,
        [
            ("店員很親切，還幫我推薦新品", "the staff were friendly and helpful"),
            ("服務生很有禮貌", "the cashier was polite and kind"),
        ],
        [
            ("店員態度很差，一直不耐煩", "the staff were rude and impatient"),
            ("客服態度冷漠，問了也不理人", "the employee at the counter was unfriendly"),
        ],
    ),
    "waiting_time": (
        0.55,
        [
            ("出餐速度很快，不用等", "the order was ready quickly, no wait"),
        ],
        [
            ("排隊排了很久", "we had to wait in a long queue"),
            ("等了二十分鐘才拿到飲料", "the wait for our drinks was slow"),
        ],
    ),
    "price_value": (
        0.45,
        [
            ("價格便宜，CP值很高", "good value for money"),
            ("第二杯半價很划算", "the discount on the second cup was worth it"),
        ],
        [
            ("又漲價了，太貴了", "the prices went up again, too expensive"),
            ("一杯要九十元，不划算", "ninety dollars a cup is overpriced"),
        ],
    ),
    "app_website": (
        0.6,
        [
            ("App 點餐很方便", "ordering in the app was easy"),
        ],
        [
            ("App 一直閃退，沒辦法下單", "the app kept crashing at checkout"),
            ("網站登入不了", "I could not log in to the website"),
        ],
    ),
    "loyalty_program": (
        0.3,
        [
            ("會員點數可以折抵，很實用", "the loyalty points are easy to use"),
        ],
        [
            ("會員點數沒有累積到", "my loyalty points were not added"),
        ],
    ),
    "cleanliness": (
        0.35,
        [
            ("店裡很乾淨", "the shop was clean and tidy"),
        ],
        [
            ("桌子很髒，沒人整理", "the tables were dirty"),
        ],
    ),
    "returns_refunds": (
        0.8,
        [
            ("退款很快就處理好了", "the refund was processed quickly"),
        ],
        [
            ("退款申請了兩週還沒收到", "I am still waiting for my refund after two weeks"),
        ],
    ),
    "payment": (
        0.5,
        [
            ("可以用行動支付，結帳很快", "paying by phone was quick"),
        ],
        [
            ("刷卡機壞了，只能付現", "the card reader was broken, cash only"),
        ],
    ),
}
THEME_WEIGHTS = {"delivery": 5, "food_quality": 8, "staff_attitude": 5, "waiting_time": 4, "price_value": 4,
                 "app_website": 3, "loyalty_program": 2, "cleanliness": 2, "returns_refunds": 1, "payment": 1}  # fmt: skip
CHANNEL_WEIGHTS = {Channel.REVIEW: 5, Channel.SOCIAL: 3, Channel.EMAIL: 2, Channel.CHAT: 3, Channel.PHONE: 1}
SOURCES = {Channel.REVIEW: ("google_maps", "foodpanda", "app_store"), Channel.SOCIAL: ("facebook", "threads", "dcard"),
           Channel.EMAIL: ("service_mailbox",), Channel.CHAT: ("line", "website_chat"), Channel.PHONE: ("call_centre",)}  # fmt: skip
LANGUAGES = (("zh-Hant", 0.6), ("zh-Hans", 0.2), ("en", 0.2))
#: What social listening tracks in the demo: (term, kind).
TRACKED = (("山嵐", "brand"), ("Mountain Mist", "brand"), ("外送", "keyword"))
#: How each language names the shop in a post or review.
BRAND_TAGS = {"zh-Hant": " #山嵐茶咖", "zh-Hans": " #山岚茶咖", "en": " at Mountain Mist."}
VIRAL_DAYS_BEFORE_END, VIRAL_POSTS = 8, 30
#: An emerging topic no theme of the shipped taxonomy covers: the shop switched to paper straws three weeks before
#: the end. ``STRAW_POSTS`` comments, half on their own, half as the last clause of another comment; the taxonomy
#: page's "Emerging topics" finds them (docs/feedback.md).
STRAW_DAYS, STRAW_POSTS = 21, 24
STRAWS = (
    ("新的紙吸管一下就軟掉了", "the new paper straw went soggy in minutes"),
    ("紙吸管泡久了會爛，喝到一半就不能用", "the paper straw fell apart halfway through"),
    (
        "可以換回原本的吸管嗎？紙吸管真的很難用",
        "please bring back the old straws, the paper straws are useless",
    ),
)
VIRAL = (
    (
        "在山嵐買的珍珠奶茶喝到異物，太誇張了",
        "found a foreign object in my Mountain Mist bubble tea, disgusting",
    ),
    ("山嵐的飲料裡有蟲，店家還不處理", "there was a bug in my Mountain Mist drink and nobody cares"),
    (
        "看到大家說山嵐的奶茶有異物，嚇到不敢喝",
        "everyone says Mountain Mist drinks had something in them, scary",
    ),
    ("請問山嵐會怎麼處理異物的事？", "how will Mountain Mist deal with the foreign object complaints?"),
)


def _clause(rng: random.Random, theme: str, negative: bool, language: str) -> str:
    _, positives, negatives = PHRASES[theme]
    zh, en = rng.choice(negatives if negative else positives)
    if language == "en":
        return en
    return zh if language == "zh-Hant" else to_simplified(zh)


def _comment(rng: random.Random, language: str, spike: bool) -> tuple[str, list[bool]]:
    themes = list(THEME_WEIGHTS)
    count = rng.choices((1, 2, 3), weights=(4, 4, 1))[0]
    chosen: list[str] = []
    if spike and rng.random() < 0.5:
        chosen.append("delivery")
    while len(chosen) < count:
        theme = rng.choices(themes, weights=[THEME_WEIGHTS[t] for t in themes])[0]
        if theme not in chosen:
            chosen.append(theme)
    negatives = [
        rng.random() < (0.9 if spike and theme == "delivery" else PHRASES[theme][0]) for theme in chosen
    ]
    text = ""
    for index, (theme, negative) in enumerate(zip(chosen, negatives, strict=True)):
        clause = _clause(rng, theme, negative, language)
        if index == 0:
            text = clause[0].upper() + clause[1:] if language == "en" else clause
            continue
        turned = negative != negatives[index - 1]
        if language == "en":
            text += (", but " if turned else ", and ") + clause
        else:
            text += ("，但是" if turned else "，") + clause
    return text + ("." if language == "en" else "。"), negatives


def generate_feedback(
    end: date, seed: int, customers: Sequence[str], count: int, timezone: str
) -> list[FeedbackCreate]:
    """``count`` comments over the ``DAYS`` days ending ``end``, seeded; a third name a known customer."""
    rng = random.Random(seed * 7 + 19)
    tags = random.Random(seed * 13 + 5)  # its own stream: the comments and their figures stay as they were
    zone = ZoneInfo(timezone)
    channels = list(CHANNEL_WEIGHTS)
    items = []
    for number in range(count):
        day = end - timedelta(days=rng.randrange(DAYS))
        spike = (end - day).days < SPIKE_DAYS
        language = rng.choices([code for code, _ in LANGUAGES], weights=[w for _, w in LANGUAGES])[0]
        text, negatives = _comment(rng, language, spike)
        channel = rng.choices(channels, weights=[CHANNEL_WEIGHTS[c] for c in channels])[0]
        at = datetime.combine(day, time(rng.randrange(9, 22), rng.randrange(60)), zone).astimezone(UTC)
        known = customers and rng.random() < 0.33 and channel != Channel.SOCIAL
        rating = None
        if channel == Channel.REVIEW:
            share = sum(negatives) / len(negatives)
            rating = float(max(1, min(5, round(5 - 4 * share + rng.uniform(-0.6, 0.6)))))
        if channel in (Channel.SOCIAL, Channel.REVIEW) and tags.random() < 0.5:
            text = (text[:-1] if language == "en" else text) + BRAND_TAGS[language]
        items.append(FeedbackCreate(
            channel=channel, text=text, occurred_at=at, source=rng.choice(SOURCES[channel]),
            source_id=f"demo-{number:05d}", author=None if known else f"user{rng.randrange(10_000):04d}",
            customer_id=rng.choice(customers) if known else None, rating=rating,
            reply_to=f"https://example.com/{channel.value}/{number}" if channel in (Channel.REVIEW, Channel.SOCIAL) else None,
        ))  # fmt: skip
    return items + _viral_posts(end, tags, zone) + _straw_comments(end, seed, customers, zone)


def _straw_comments(end: date, seed: int, customers: Sequence[str], zone: ZoneInfo) -> list[FeedbackCreate]:
    """The paper-straw complaints of the last ``STRAW_DAYS`` days, with their own random stream (the other comments
    and their figures stay as they were)."""
    rng = random.Random(seed * 31 + 7)
    channels = list(CHANNEL_WEIGHTS)
    items = []
    for number in range(STRAW_POSTS):
        day = end - timedelta(days=rng.randrange(STRAW_DAYS))
        language = rng.choices([code for code, _ in LANGUAGES], weights=[w for _, w in LANGUAGES])[0]
        zh, en = rng.choice(STRAWS)
        straw = en if language == "en" else zh if language == "zh-Hant" else to_simplified(zh)
        if rng.random() < 0.5:
            text = straw[0].upper() + straw[1:] + ("." if language == "en" else "。")
        else:
            before, _ = _comment(rng, language, False)
            text = before[:-1] + (", but " + straw + "." if language == "en" else "，但是" + straw + "。")
        channel = rng.choices(channels, weights=[CHANNEL_WEIGHTS[c] for c in channels])[0]
        at = datetime.combine(day, time(rng.randrange(9, 22), rng.randrange(60)), zone).astimezone(UTC)
        known = customers and rng.random() < 0.33 and channel != Channel.SOCIAL
        items.append(FeedbackCreate(
            channel=channel, text=text, occurred_at=at, source=rng.choice(SOURCES[channel]),
            source_id=f"demo-straw-{number:03d}", author=None if known else f"user{rng.randrange(10_000):04d}",
            customer_id=rng.choice(customers) if known else None,
        ))  # fmt: skip
    return items


def _viral_posts(end: date, rng: random.Random, zone: ZoneInfo) -> list[FeedbackCreate]:
    """One day's burst of posts about the same complaint, most in Traditional Chinese, all naming the shop."""
    day = end - timedelta(days=VIRAL_DAYS_BEFORE_END)
    posts = []
    for number in range(VIRAL_POSTS):
        zh, en = rng.choice(VIRAL)
        language = rng.choices(("zh-Hant", "zh-Hans", "en"), weights=(6, 2, 2))[0]
        text = en if language == "en" else zh if language == "zh-Hant" else to_simplified(zh)
        at = datetime.combine(day, time(rng.randrange(10, 23), rng.randrange(60)), zone).astimezone(UTC)
        posts.append(FeedbackCreate(
            channel=Channel.SOCIAL, text=text, occurred_at=at, source=rng.choice(SOURCES[Channel.SOCIAL]),
            source_id=f"demo-viral-{number:03d}", author=f"user{rng.randrange(10_000):04d}",
            reply_to=f"https://example.com/social/viral-{number}",
        ))  # fmt: skip
    return posts


def load_feedback(
    engine: Engine, *, slug: str, end: date, seed: int, customers: Sequence[str]
) -> AnalyzeReport:
    """Store the demo's comments (one per ten customers, at least 300, at most 3,000) and analyse everything,
    the survey comments included."""
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        workspace_id, timezone = workspace.id, workspace.timezone
    count = max(300, min(3000, len(customers) // 10))
    with transaction(engine) as session:
        tracked = {term.term for term in social_service.list_terms(session, workspace_id=workspace_id)}
        for term, kind in TRACKED:
            if term not in tracked:  # loading twice adds nothing
                social_service.add_term(
                    session, workspace_id=workspace_id, term=term, kind=kind, actor="demo"
                )
    items = generate_feedback(end, seed, customers, count, timezone)
    for start in range(0, len(items), BATCH):
        with transaction(engine) as session:
            service.add_items(session, workspace_id=workspace_id, items=items[start : start + BATCH])
    with transaction(engine) as session:
        report = service.analyze(
            session, workspace_id=workspace_id
        )  # what arrived before analysis on arrival
        # Items are analysed as they arrive, so the report counts what the workspace now holds analysed.
        analysed = session.scalar(select(func.count()).select_from(FeedbackItem).where(
            FeedbackItem.workspace_id == workspace_id, FeedbackItem.analyzed_with.is_not(None)))  # fmt: skip
        mentions = session.scalar(select(func.count()).select_from(FeedbackMention).where(
            FeedbackMention.workspace_id == workspace_id))  # fmt: skip
        _approve_testimonials(session, workspace_id)
        return report.model_copy(update={"analysed": int(analysed or 0), "mentions": int(mentions or 0)})


def _approve_testimonials(session: Session, workspace_id: int) -> None:
    """The newest ``APPROVED_TESTIMONIALS`` testimonials approved, so the public page /t/<workspace> shows some; only
    when nothing was decided yet (loading twice changes nothing)."""
    page = testimonials.list_testimonials(session, workspace_id=workspace_id, limit=APPROVED_TESTIMONIALS)
    if page.approved or page.hidden:
        return
    for item in page.items:
        testimonials.decide(
            session, workspace_id=workspace_id, item_id=item.item_id, status="approved", actor="demo"
        )
