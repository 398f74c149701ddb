"""The demo shop's FAQ assistant: a knowledge base (orders, delivery, returns, membership and points, payments) and
90 days of questions asked through it, with ratings and hand-overs, some answered by staff and closed.

The base holds each topic in Traditional Chinese and in English. Simplified Chinese is served from the
Traditional entries (OpenCC: a zh-Hans question finds them, the zh-Hans help page shows them converted) rather
than from a third copy: two copies of one entry in the same index tie on every question, and a tie is a lead of
zero, so the assistant would never be sure (docs/assistant.md, confidence).

Questions are asked through the real ``service.ask`` and recorded with ``records.record`` at their moment, so the
dashboard's numbers are the assistant's own. Seeded: the same seed gives the same history. A workspace that
already has entries is left as it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from patron.assistant import records, service
from patron.assistant.models import KnowledgeEntry
from patron.core import service as core_service
from patron.core.db import transaction
from patron.core.mail import Message as MailMessage
from patron.customers.models import Customer

#: (id, category, zh-Hant title, zh-Hant phrasings, zh-Hant answer, English title, English phrasings, English answer)
TOPICS: list[tuple[str, str, str, list[str], str, str, list[str], str]] = [
    ("order-status", "orders", "如何查詢訂單狀態？", ["我的訂單到哪裡了", "訂單進度怎麼看"],
     "登入後到「會員中心 › 我的訂單」即可查看每筆訂單的狀態與物流單號。",
     "How do I check my order status?", ["where is my order", "track my order"],
     "Sign in and open Account › My orders to see each order's status and tracking number."),
    ("order-change", "orders", "下單後可以修改訂單嗎？", ["訂單可以改地址嗎", "想更改訂購的商品"],
     "訂單出貨前可在「我的訂單」修改收件地址；要更換商品，請取消後重新下單。",
     "Can I change my order after placing it?", ["change delivery address", "change items in my order"],
     "Before it ships you can change the address in My orders; to change items, cancel and order again."),
    ("order-cancel", "orders", "如何取消訂單？", ["不想買了怎麼取消", "取消訂購"],
     "訂單出貨前可在「我的訂單」按「取消訂單」，款項會在 3 至 7 個工作天內退回原付款方式。",
     "How do I cancel an order?", ["cancel my purchase"],
     "Before it ships, choose Cancel order in My orders; the payment is refunded within 3 to 7 working days."),
    ("invoice", "orders", "可以開統一編號發票嗎？", ["公司報帳要統編", "三聯式發票"],
     "結帳時在「發票資訊」填入統一編號與抬頭，電子發票會寄到您的信箱。",
     "Can I get a company invoice?", ["invoice with tax id"],
     "Enter your company's tax ID and name under Invoice at checkout; the e-invoice is e-mailed to you."),
    ("shipping-fee", "delivery", "運費怎麼計算？", ["寄送要多少錢", "滿多少免運"],
     "單筆訂單滿 1,000 元免運費，未滿收 80 元；離島另加 70 元。",
     "How much is delivery?", ["shipping cost", "free shipping"],
     "Orders of NT$1,000 or more ship free; below that delivery is NT$80, outlying islands NT$70 more."),
    ("shipping-time", "delivery", "下單後多久會收到？", ["幾天會到貨", "出貨要多久"],
     "現貨商品於付款後 1 個工作天內出貨，一般 2 至 3 天送達。",
     "How long does delivery take?", ["when will it arrive", "delivery time"],
     "Items in stock ship within one working day of payment and usually arrive in 2 to 3 days."),
    ("store-pickup", "delivery", "可以超商取貨嗎？", ["便利商店取件", "7-11 取貨"],
     "可以，結帳時選擇「超商取貨」並選擇門市，到店後出示簡訊取貨。",
     "Can I pick up at a convenience store?", ["store pickup"],
     "Yes: choose Convenience store pickup at checkout, pick the store, and show the text message there."),
    ("return-how", "returns", "如何申請退貨？", ["我要退貨", "怎麼退換貨"],
     "收到商品 7 天內可在「我的訂單」申請退貨，宅配人員會到府收件。",
     "How do I return an item?", ["I want to return something", "return policy"],
     "Within 7 days of delivery choose Return in My orders; a courier collects it from you."),
    ("return-refund", "returns", "退款多久會收到？", ["退貨後多久退錢", "退款進度"],
     "我們收到退貨後 3 個工作天內退款；信用卡退款依發卡銀行作業約需 7 至 14 天入帳。",
     "When will I get my refund?", ["refund time"],
     "We refund within 3 working days of receiving the return; card refunds take 7 to 14 days to show."),
    ("return-damaged", "returns", "收到的商品破損怎麼辦？", ["包裝壞掉", "商品有瑕疵"],
     "請在收到後 48 小時內拍照，從「我的訂單」申請換貨，我們會免費寄出新品。",
     "What if my item arrived damaged?", ["broken package", "faulty item"],
     "Take photos within 48 hours and request an exchange in My orders; we send a new one free."),
    ("member-join", "membership", "如何加入會員？", ["註冊會員", "成為茶友會會員"],
     "在網站右上角按「註冊」，以手機號碼或電子郵件註冊即可加入茶友會，免費。",
     "How do I become a member?", ["sign up", "join the club"],
     "Choose Sign up at the top right and register with your phone or e-mail; membership is free."),
    ("points-earn", "membership", "購物可以累積點數嗎？", ["點數怎麼算", "消費集點"],
     "每消費 100 元累積 1 點，訂單完成後入帳；週年慶期間點數加倍。",
     "How do I earn points?", ["points per purchase"],
     "You earn 1 point per NT$100 spent, credited when the order completes; double during the anniversary."),
    ("points-use", "membership", "點數可以折抵嗎？", ["點數怎麼使用", "用點數換折價券"],
     "100 點可兌換 100 元折價券，300 點可兌換 350 元折價券，結帳時使用。",
     "How do I use my points?", ["redeem points"],
     "100 points buy a NT$100 voucher and 300 points a NT$350 voucher, used at checkout."),
    ("points-expiry", "membership", "點數會過期嗎？", ["點數有效期限", "點數什麼時候到期"],
     "點數自入帳起 12 個月內有效，到期前一個月會以電子郵件提醒。",
     "Do points expire?", ["points validity"],
     "Points are valid for 12 months from when they are credited; we remind you a month before."),
    ("pay-methods", "payments", "有哪些付款方式？", ["可以用什麼付款", "付款方法"],
     "可使用信用卡、LINE Pay、Apple Pay、ATM 轉帳與超商取貨付款。",
     "Which payment methods do you accept?", ["how can I pay"],
     "Credit card, LINE Pay, Apple Pay, ATM transfer and cash on store pickup."),
    ("pay-installments", "payments", "信用卡可以分期嗎？", ["分期付款", "零利率分期"],
     "單筆滿 3,000 元可使用 3 期零利率分期，適用銀行列於結帳頁。",
     "Can I pay in installments?", ["installment plan"],
     "Orders of NT$3,000 or more can be paid in 3 interest-free installments with the banks listed at checkout."),
    ("pay-failed", "payments", "付款失敗怎麼辦？", ["刷卡失敗", "付款沒有成功"],
     "請確認卡片額度與 3D 驗證簡訊；訂單會保留 30 分鐘，可在「我的訂單」重新付款。",
     "What if my payment failed?", ["card declined"],
     "Check your card limit and the 3-D Secure text; the order is kept for 30 minutes so you can pay again."),
]  # fmt: skip

#: What the demo's customers ask: (question, language, weight). Some match the base, some are its gaps.
ASKED: list[tuple[str, str, int]] = [
    ("我的訂單到哪了？", "zh-Hant", 8), ("我的订单到哪了", "zh-Hans", 4), ("where is my order", "en", 3),
    ("運費多少", "zh-Hant", 6), ("滿多少免运费", "zh-Hans", 3), ("free shipping?", "en", 2),
    ("幾天會到", "zh-Hant", 5), ("可以超商取貨嗎", "zh-Hant", 3), ("怎麼退貨", "zh-Hant", 6),
    ("退货后多久退钱", "zh-Hans", 3), ("how do I return an item", "en", 2), ("收到的茶葉包裝破損", "zh-Hant", 3),
    ("點數怎麼用", "zh-Hant", 5), ("积分会过期吗", "zh-Hans", 2), ("Do points expire?", "en", 1),
    ("可以用 LINE Pay 嗎", "zh-Hant", 3), ("刷卡失敗", "zh-Hant", 2), ("可以分期嗎", "zh-Hant", 2),
    ("怎麼取消訂單", "zh-Hant", 3), ("要開統編", "zh-Hant", 2), ("如何加入會員", "zh-Hant", 2),
    # gaps: nothing in the base answers these
    ("可以寄到國外嗎", "zh-Hant", 4), ("寄到香港運費", "zh-Hant", 2), ("能寄到国外吗", "zh-Hans", 2),
    ("do you ship overseas", "en", 2), ("有實體門市嗎", "zh-Hant", 3), ("門市營業時間", "zh-Hant", 2),
    ("茶葉怎麼保存", "zh-Hant", 3), ("茶葉保存期限", "zh-Hant", 2), ("可以包裝成禮盒嗎", "zh-Hant", 3),
]  # fmt: skip
DAYS = 90
PER_DAY = (3, 9)
STAFF_REPLY = {
    "zh-Hant": "您好，謝謝您的詢問。我們已確認：目前可以寄送到香港、澳門與新加坡，運費依重量計算，下單前可來信報價。",
    "zh-Hans": "您好，谢谢您的询问。我们已确认：目前可以寄送到香港、澳门与新加坡，运费按重量计算，下单前可来信报价。",
    "en": "Thank you for asking. We ship to Hong Kong, Macau and Singapore; the fee depends on weight, ask us for a quote.",
}


@dataclass(frozen=True)
class AssistantReport:
    entries: int
    questions: int
    handovers: int
    ratings: int


class _Accepted:
    """The demo sends no e-mail: replies count as sent."""

    def send(self, message: MailMessage) -> None:
        return None


def entries() -> list[service.EntryData]:
    out = []
    for key, category, title, phrasings, answer, en_title, en_phrasings, en_answer in TOPICS:
        out.append(service.EntryData(key, title, tuple(phrasings), answer, category, "zh-Hant"))
        out.append(service.EntryData(f"{key}-en", en_title, tuple(en_phrasings), en_answer, category, "en"))
    return out


def load_assistant(engine: Engine, *, slug: str, end: date, seed: int) -> AssistantReport | None:
    """The knowledge base and 90 days of questions up to ``end``; None when the base already has entries."""
    rng = random.Random(seed)
    with transaction(engine) as session:
        workspace = core_service.get_workspace(session, slug)
        if session.scalar(select(func.count()).select_from(KnowledgeEntry)
                          .where(KnowledgeEntry.workspace_id == workspace.id)):  # fmt: skip
            return None
        service.import_entries(session, workspace.id, entries())
        customers = list(session.execute(
            select(Customer.id, Customer.email).where(Customer.workspace_id == workspace.id,
                                                      Customer.email.is_not(None)).order_by(Customer.id).limit(500)
        ).all())  # fmt: skip
        zone = ZoneInfo(workspace.timezone)
        weights = [w for _, _, w in ASKED]
        questions = handovers = ratings = 0
        start = end - timedelta(days=DAYS - 1)
        for offset in range(DAYS):
            day = start + timedelta(days=offset)
            for _ in range(rng.randint(*PER_DAY)):
                text, language, _ = rng.choices(ASKED, weights)[0]
                moment = datetime.combine(day, time(rng.randint(8, 22), rng.randint(0, 59)), zone)
                answer = service.ask(session, workspace.id, text, language)
                channel = rng.choice(("help", "widget", "widget", "api"))
                row = records.record(session, workspace.id, text, answer, channel, now=moment)
                questions += 1
                if answer.answered and rng.random() < 0.45:
                    rating = "helpful" if rng.random() < 0.82 else "unhelpful"
                    records.rate(session, workspace.id, row.id, rating, now=moment + timedelta(minutes=1))
                    ratings += 1
                wants_person = (not answer.answered and rng.random() < 0.6) or (
                    answer.answered and rng.random() < 0.04)  # fmt: skip
                if wants_person and customers:
                    customer_id, _ = rng.choice(customers)
                    customer = session.get(Customer, customer_id)
                    conversation = records.hand_over(
                        session, workspace.id, question=text, customer=customer, question_id=row.id,
                        locale=language, channel=channel if channel != "api" else "help",
                        now=moment + timedelta(minutes=2),
                    )  # fmt: skip
                    handovers += 1
                    age = (end - day).days
                    if age > 2 or rng.random() < 0.3:  # older ones were answered; most were closed after
                        records.reply(session, workspace, conversation.id, body=STAFF_REPLY[language], user_id=None,
                                      mailer=_Accepted(), now=moment + timedelta(hours=rng.randint(1, 20)))  # fmt: skip
                        if age > 5:
                            records.close(session, workspace.id, conversation.id,
                                          now=moment + timedelta(days=1))  # fmt: skip
        return AssistantReport(len(TOPICS) * 2, questions, handovers, ratings)
