"""Fixed vocabulary of the demo brand: a Taiwanese tea-and-coffee retailer with stores, a web shop and an app."""

from __future__ import annotations

BRAND_NAME = "山嵐茶咖 Mountain Mist Tea & Coffee"

# (category, zh-Hant name, list price in TWD). Gift boxes sell in festival seasons, iced drinks in summer.
PRODUCTS: tuple[tuple[str, str, int], ...] = (
    ("tea_leaves", "阿里山高山烏龍茶 150g", 680),
    ("tea_leaves", "梨山高冷茶 150g", 980),
    ("tea_leaves", "東方美人茶 75g", 880),
    ("tea_leaves", "日月潭紅玉紅茶 75g", 560),
    ("tea_leaves", "文山包種茶 150g", 620),
    ("tea_leaves", "木柵鐵觀音 150g", 720),
    ("tea_leaves", "凍頂烏龍茶 150g", 600),
    ("tea_leaves", "蜜香紅茶 75g", 480),
    ("tea_leaves", "四季春青茶 300g", 450),
    ("tea_leaves", "金萱烏龍茶 150g", 520),
    ("tea_leaves", "桂花烏龍茶包 20入", 320),
    ("tea_leaves", "冷泡綠茶包 30入", 290),
    ("coffee_beans", "阿里山咖啡豆 227g", 850),
    ("coffee_beans", "古坑咖啡豆 227g", 780),
    ("coffee_beans", "衣索比亞耶加雪菲 227g", 560),
    ("coffee_beans", "哥倫比亞慧蘭 227g", 480),
    ("coffee_beans", "招牌綜合豆 454g", 690),
    ("coffee_beans", "深焙曼特寧 227g", 520),
    ("coffee_beans", "低咖啡因綜合豆 227g", 540),
    ("coffee_beans", "濾掛咖啡 10入", 250),
    ("coffee_beans", "冷萃咖啡包 8入", 280),
    ("ready_to_drink", "冷泡烏龍茶 500ml", 65),
    ("ready_to_drink", "無糖紅茶 500ml", 55),
    ("ready_to_drink", "冷萃黑咖啡 350ml", 85),
    ("ready_to_drink", "鮮奶茶 350ml", 75),
    ("ready_to_drink", "拿鐵咖啡 350ml", 80),
    ("ready_to_drink", "蜂蜜檸檬綠茶 500ml", 60),
    ("snacks", "鳳梨酥 6入", 320),
    ("snacks", "太陽餅 6入", 260),
    ("snacks", "牛軋糖 200g", 220),
    ("snacks", "抹茶千層蛋糕", 480),
    ("snacks", "烏龍茶磅蛋糕", 360),
    ("snacks", "手工餅乾罐", 280),
    ("snacks", "綠豆椪 6入", 340),
    ("teaware", "鶯歌手拉坯茶壺", 2400),
    ("teaware", "白瓷品茗杯 2入", 680),
    ("teaware", "玻璃冷泡壺 1L", 590),
    ("teaware", "手沖咖啡壺組", 1680),
    ("teaware", "隨行保溫杯 480ml", 890),
    ("teaware", "竹製茶盤", 1280),
    ("teaware", "陶瓷濾杯", 520),
    ("gift_boxes", "新春好茶禮盒", 1880),
    ("gift_boxes", "中秋茶點禮盒", 1580),
    ("gift_boxes", "高山茶雙入禮盒", 2280),
    ("gift_boxes", "咖啡品味禮盒", 1380),
    ("gift_boxes", "企業送禮茶盒", 2980),
    ("gift_boxes", "茶與酥禮盒", 1180),
)

# A few names in Simplified script for the zh-Hans customers; zh-Hant and English names for the rest.
SURNAMES_HANT = ("陳", "林", "黃", "張", "李", "王", "吳", "劉", "蔡", "楊", "許", "鄭", "謝", "郭", "洪", "曾", "邱", "廖", "賴", "周")
GIVEN_HANT = ("怡君", "家豪", "雅婷", "志明", "淑芬", "冠宇", "美玲", "俊傑", "佳穎", "宗翰", "詩涵", "建宏", "欣怡", "承恩", "雅雯", "柏翰", "靜宜", "偉倫", "思妤", "彥廷")
SURNAMES_HANS = ("陈", "林", "黄", "张", "李", "王", "吴", "刘", "杨", "赵", "周", "徐", "孙", "马", "朱")
GIVEN_HANS = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "秀英", "晓东", "建华", "丽娟")
GIVEN_EN = ("Emily", "James", "Olivia", "Daniel", "Sophia", "Michael", "Grace", "David", "Chloe", "Kevin", "Amy", "Ryan", "Jessica", "Eric", "Hannah", "Jason")
SURNAMES_EN = ("Smith", "Chen", "Wang", "Johnson", "Lee", "Brown", "Lin", "Taylor", "Nguyen", "Garcia", "Wilson", "Huang")

# City and weight (roughly population share of the customer base).
CITIES: tuple[tuple[str, float], ...] = (
    ("臺北市", 0.20), ("新北市", 0.22), ("桃園市", 0.10), ("臺中市", 0.14), ("臺南市", 0.08),
    ("高雄市", 0.12), ("新竹市", 0.05), ("基隆市", 0.03), ("新竹縣", 0.03), ("彰化縣", 0.03),
)  # fmt: skip
# Each store belongs to a city; a store customer shops at a store in their city when there is one.
STORES: dict[str, str] = {
    "臺北市": "臺北信義店", "新北市": "新北板橋店", "桃園市": "桃園站前店", "臺中市": "臺中勤美店",
    "臺南市": "臺南中西店", "高雄市": "高雄巨蛋店", "新竹市": "新竹巨城店",
}  # fmt: skip
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
