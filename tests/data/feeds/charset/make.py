#!/usr/bin/python3
"""Generate the character-set fixtures in this folder, and cases.tsv.

    python3 tests/data/feeds/charset/make.py            # (re)write the files
    python3 tests/data/feeds/charset/make.py --check    # also run uchardet(1)

Every fixture is a small RSS 2.0 feed whose texts are the Python unicode
strings below, encoded with Python's codecs, so the bytes are reproducible and
the expected UTF-8 is known. The contract they test is the "Character sets"
paragraph of ingest/ing_feed.h: the HTTP Content-Type charset, then a byte
order mark, then the XML declaration's encoding=, then UTF-8; a declared
encoding that iconv does not know or that the bytes do not decode in falls
through to the next declared one, then to uchardet's guess, then to
windows-1252; a single-byte declaration over valid UTF-8 is read as UTF-8.

cases.tsv has one row per fixture (lines starting with # are comments):

    file  content_type  first_title  encoding  case

  file          the fixture's name, relative to this folder;
  content_type  the HTTP Content-Type the bytes arrive with ("" = none);
  first_title   the exact UTF-8 title of the first item. When it contains
                U+FFFD (the invalid-bytes fixture) only its ASCII words are
                to be compared: the invalid bytes may come out as U+FFFD or
                as any sensible decoding. Its encoding is UTF-8 all the
                same: the valid UTF-8 around a few bad bytes must survive,
                not become mojibake of a whole-document fallback;
  encoding      the encoding family ing_feed_t.encoding must name, compared
                case-insensitively; alternatives separated by "|". Families
                (aliases accepted by tests/ingest/test_feed_charset.c):
                  UTF-8, UTF-16 (UTF-16LE, UTF-16BE),
                  ISO-8859-1 (latin1, ISO-8859-15, windows-1252, cp1252:
                    a detector cannot tell undeclared Latin-1 from
                    windows-1252 when no byte is in 0x80-0x9F, and the
                    texts here decode identically in all of them),
                  windows-1252 (cp1252 only: the bytes use 0x80-0x9F),
                  Shift_JIS (SJIS, CP932, windows-31j, MS_Kanji),
                  GB18030 (GB2312, GBK, CP936, EUC-CN),
                  KOI8-R;
  case          what the fixture tests (for people).

The Japanese texts avoid the characters on which Shift_JIS decoders disagree
(backslash/yen, tilde/overline, wave dash, minus, dashes, U+3000) but keep
double-byte characters whose second byte is 0x5C (ソ, 表). The Russian texts
use only characters that KOI8-R has (no guillemets).

--check runs the uchardet command-line tool (apt-get install uchardet) on
every file and prints its guess next to the expected family; it is advisory
(uchardet's guess only matters for undeclared and mislabelled fixtures).
"""

import html
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- the texts
# Each feed: channel fields and items (title, description, link, pubDate,
# guid). The first item's title is the one cases.tsv names.

PT = dict(
    lang="pt-BR",
    title="Mercado Financeiro - Últimas notícias",
    link="https://noticias.example.com.br/mercados",
    desc="Cotações, juros, câmbio e as principais notícias da bolsa brasileira.",
    items=[
        ("Ibovespa sobe 1,2% e dólar recua com expectativa de corte de juros",
         "O principal índice da bolsa brasileira fechou em alta pelo terceiro pregão "
         "seguido. Investidores reagiram à ata do Copom e à queda dos rendimentos "
         "dos títulos americanos.",
         "https://noticias.example.com.br/mercados/ibovespa-sobe-dolar-recua",
         "Sat, 28 Nov 2026 18:05:00 -0300", "ibov-20261128-fechamento"),
        ("Petrobras anuncia dividendos acima do esperado; ações disparam",
         "A estatal vai distribuir R$ 17,1 bilhões aos acionistas. Os papéis "
         "preferenciais subiram 4,3% na sessão.",
         "https://noticias.example.com.br/empresas/petrobras-dividendos",
         "Sat, 28 Nov 2026 16:40:00 -0300", "petr-20261128-dividendos"),
        ("Inflação desacelera em novembro, aponta IBGE",
         "O IPCA-15 subiu 0,28% no mês, abaixo da previsão dos analistas. "
         "Alimentação e transportes puxaram a desaceleração.",
         "https://noticias.example.com.br/economia/ipca-15-novembro",
         "Fri, 27 Nov 2026 09:12:00 -0300", "ipca-20261127"),
        ("Banco Central mantém Selic em 10,5% ao ano",
         "A decisão do comitê foi unânime. O comunicado indica cautela diante do "
         "cenário fiscal e da alta do câmbio.",
         "https://noticias.example.com.br/economia/copom-mantem-selic",
         "Thu, 26 Nov 2026 19:30:00 -0300", "copom-20261126"),
        ("Vale conclui venda de participação em unidade de metais básicos",
         "A mineradora recebeu US$ 2,5 bilhões pela operação. Segundo a companhia, "
         "os recursos reforçam o caixa e a distribuição de proventos.",
         "https://noticias.example.com.br/empresas/vale-metais-basicos",
         "Thu, 26 Nov 2026 11:02:00 -0300", "vale-20261126-venda"),
        ("Varejo: vendas do comércio crescem 0,8% em outubro",
         "É o segundo mês consecutivo de expansão. Supermercados e farmácias "
         "lideraram o avanço, enquanto o setor de vestuário recuou.",
         "https://noticias.example.com.br/economia/vendas-varejo-outubro",
         "Wed, 25 Nov 2026 10:00:00 -0300", "varejo-20261125"),
    ],
)

DE = dict(
    lang="de-DE",
    title="Börse & Wirtschaft",
    link="https://boerse.example.de/nachrichten",
    desc="Aktuelle Nachrichten von den Finanzmärkten in Frankfurt und weltweit.",
    items=[
        ("DAX schließt fester: Autowerte und Banken gefragt",
         "Der deutsche Leitindex gewann 1,1 Prozent auf 19.840 Punkte. Besonders "
         "gefragt waren Aktien von Volkswagen, BMW und der Deutschen Bank.",
         "https://boerse.example.de/nachrichten/dax-schliesst-fester",
         "Fri, 27 Nov 2026 17:45:00 +0100", "dax-2026-11-27"),
        ("Bundesbank: Deutsche Wirtschaft wächst im vierten Quartal nur schwach",
         "Die Notenbank rechnet mit einem Plus von 0,1 Prozent. Die Industrie "
         "leidet weiter unter hohen Energiekosten und schwacher Nachfrage aus China.",
         "https://boerse.example.de/nachrichten/bundesbank-monatsbericht",
         "Fri, 27 Nov 2026 12:00:00 +0100", "buba-2026-11-27"),
        ("Zinsentscheidung der EZB: Märkte erwarten Senkung um 0,25 Prozentpunkte",
         "Händler preisen eine Zinssenkung im Dezember fast vollständig ein. "
         "Die Rendite zehnjähriger Bundesanleihen fiel auf 2,1 Prozent.",
         "https://boerse.example.de/nachrichten/ezb-zinsentscheidung",
         "Thu, 26 Nov 2026 15:20:00 +0100", "ezb-2026-11-26"),
        ("Siemens Energy übertrifft Prognosen, Aktie steigt um 6 Prozent",
         "Der Energietechnikkonzern hob seine Ziele für das Geschäftsjahr an. "
         "Vor allem das Geschäft mit Stromnetzen läuft besser als erwartet.",
         "https://boerse.example.de/nachrichten/siemens-energy-zahlen",
         "Thu, 26 Nov 2026 08:05:00 +0100", "enr-2026-11-26"),
        ("Ölpreis fällt nach überraschendem Anstieg der US-Lagerbestände",
         "Ein Barrel der Nordseesorte Brent kostete zuletzt 78,40 Dollar. "
         "Die Vorräte stiegen um 3,2 Millionen Barrel.",
         "https://boerse.example.de/nachrichten/oelpreis-lagerbestaende",
         "Wed, 25 Nov 2026 16:30:00 +0100", "oel-2026-11-25"),
    ],
)

FR = dict(  # windows-1252: uses ’ “ ” € — … œ Œ (bytes 0x80-0x9F)
    lang="fr-FR",
    title="Les Échos de la Bourse",
    link="https://bourse.example.fr/actualites",
    desc="L’actualité des marchés financiers, des entreprises et de l’économie.",
    items=[
        ("Zone euro : l’inflation recule à 2,1 % en novembre — la BCE “prête” à agir",
         "Selon Eurostat, la hausse des prix a ralenti pour le deuxième mois "
         "consécutif. Les marchés anticipent désormais une baisse des taux dès décembre…",
         "https://bourse.example.fr/actualites/inflation-zone-euro-novembre",
         "Mon, 30 Nov 2026 11:00:00 +0100", "fr-2026-11-30-inflation"),
        ("Le CAC 40 termine en hausse de 0,9 % ; LVMH gagne 12 € à la clôture",
         "Le luxe a porté la cote parisienne. L’indice a franchi la barre des "
         "7 500 points pour la première fois depuis l’été.",
         "https://bourse.example.fr/actualites/cac-40-cloture-lvmh",
         "Fri, 27 Nov 2026 17:40:00 +0100", "fr-2026-11-27-cac"),
        ("Immobilier : les prix reculent au cœur de Paris",
         "Le prix moyen au mètre carré est passé sous la barre des 9 500 €. "
         "Les notaires évoquent un marché “en cours de stabilisation”.",
         "https://bourse.example.fr/actualites/immobilier-prix-paris",
         "Thu, 26 Nov 2026 08:30:00 +0100", "fr-2026-11-26-immo"),
        ("TotalEnergies : bénéfice de 4,1 milliards d’euros au troisième trimestre",
         "Le groupe pétrolier maintient ses rachats d’actions — 2 milliards d’euros "
         "par trimestre — malgré la baisse des cours du brut.",
         "https://bourse.example.fr/actualites/totalenergies-resultats-t3",
         "Wed, 25 Nov 2026 07:15:00 +0100", "fr-2026-11-25-tte"),
        ("Œuvres d’art : les enchères de Drouot dépassent 120 millions d’euros",
         "Un record pour une vente d’automne. Les acheteurs étrangers représentent "
         "près de la moitié du montant adjugé.",
         "https://bourse.example.fr/actualites/encheres-drouot-record",
         "Tue, 24 Nov 2026 19:00:00 +0100", "fr-2026-11-24-drouot"),
    ],
)

JA = dict(  # Shift_JIS; ソ (0x835C) and 表 (0x955C) have 0x5C as second byte
    lang="ja",
    title="マーケットニュース",
    link="https://market.example.jp/news",
    desc="株式、為替、金利など国内外の市場の動きをお伝えします。",
    items=[
        ("ソフトバンクグループが決算発表で黒字転換、株価は急伸",
         "ソフトバンクグループは中間決算で最終損益が黒字に転換したと発表した。"
         "投資先の評価益が拡大し、株価は一時8%上昇した。",
         "https://market.example.jp/news/20261127-softbank",
         "Fri, 27 Nov 2026 15:30:00 +0900", "mkt-20261127-0001"),
        ("日経平均が3日続伸、半導体関連株に買い集まる",
         "東京株式市場で日経平均株価は前日比412円高で取引を終えた。"
         "米国のハイテク株高を受けて東京エレクトロンやアドバンテストが買われた。",
         "https://market.example.jp/news/20261127-nikkei",
         "Fri, 27 Nov 2026 15:10:00 +0900", "mkt-20261127-0002"),
        ("トヨタ自動車、通期の営業利益予想を上方修正",
         "円安と北米での販売好調が寄与した。"
         "年間配当も従来予想から5円増やす方針を示した。",
         "https://market.example.jp/news/20261126-toyota",
         "Thu, 26 Nov 2026 13:45:00 +0900", "mkt-20261126-0003"),
        ("日銀が政策金利を据え置き、円相場は1ドル150円台で推移",
         "日本銀行は金融政策決定会合で現行の金融緩和策の維持を決めた。"
         "植田総裁は記者会見で賃金の動向を注視すると述べた。",
         "https://market.example.jp/news/20261126-boj",
         "Thu, 26 Nov 2026 12:20:00 +0900", "mkt-20261126-0004"),
        ("東証プライム市場の売買代金、4兆円を上回る",
         "海外投資家の買いが続き、売買代金は今年最高の水準となった。"
         "値上がり銘柄数は全体の7割を超えた。",
         "https://market.example.jp/news/20261125-tse",
         "Wed, 25 Nov 2026 15:30:00 +0900", "mkt-20261125-0005"),
    ],
)

ZH = dict(  # GB2312 (the GBK variant below adds 昇, which GB2312 lacks)
    lang="zh-CN",
    title="财经快讯",
    link="https://finance.example.cn/news",
    desc="提供股市、债市、汇市的最新财经新闻和市场分析。",
    items=[
        ("上证指数收涨1.2%，券商板块领涨两市",
         "沪深两市成交额突破一万亿元，券商、保险板块涨幅居前。"
         "北向资金全天净买入超过六十亿元。",
         "https://finance.example.cn/news/20261127/stock-market",
         "Fri, 27 Nov 2026 15:05:00 +0800", "cj-20261127-001"),
        ("央行下调存款准备金率0.5个百分点",
         "中国人民银行宣布下调金融机构存款准备金率，释放长期资金约一万亿元。"
         "分析人士认为此举有助于稳定市场预期。",
         "https://finance.example.cn/news/20261126/rrr-cut",
         "Thu, 26 Nov 2026 18:00:00 +0800", "cj-20261126-002"),
        ("贵州茅台三季度净利润同比增长15%",
         "公司前三季度实现营业收入一千二百亿元，净利润同比增长百分之十五，"
         "业绩符合市场预期。",
         "https://finance.example.cn/news/20261126/moutai-q3",
         "Thu, 26 Nov 2026 20:30:00 +0800", "cj-20261126-003"),
        ("人民币对美元汇率中间价上调120个基点",
         "中国外汇交易中心公布的数据显示，人民币对美元汇率中间价报7.1020，"
         "创近两个月新高。",
         "https://finance.example.cn/news/20261125/cny-fixing",
         "Wed, 25 Nov 2026 09:20:00 +0800", "cj-20261125-004"),
        ("新能源汽车销量创新高，比亚迪股价大涨",
         "十一月前三周新能源汽车零售销量同比增长三成以上。"
         "比亚迪港股盘中一度上涨百分之七。",
         "https://finance.example.cn/news/20261125/nev-sales",
         "Wed, 25 Nov 2026 14:10:00 +0800", "cj-20261125-005"),
    ],
)

ZH_GBK_TITLE = "华为昇腾芯片出货量大增，概念股集体走强"  # 昇 is GBK 0x954E, not GB2312

RU = dict(  # KOI8-R
    lang="ru",
    title="Финансовые новости",
    link="https://finance.example.ru/news",
    desc="Новости фондового рынка, валютные курсы и экономика России.",
    items=[
        ("Индекс Мосбиржи вырос на 1,5% на фоне подорожания нефти",
         "Лидерами роста стали акции нефтяных компаний. Российский рынок "
         "завершил торги на максимуме за месяц.",
         "https://finance.example.ru/news/2026/11/27/moex-index",
         "Fri, 27 Nov 2026 19:00:00 +0300", "fin-2026-11-27-01"),
        ("Банк России сохранил ключевую ставку на уровне 16%",
         "Регулятор отметил замедление инфляции, но допустил повышение ставки "
         "в случае ускорения роста цен.",
         "https://finance.example.ru/news/2026/11/27/key-rate",
         "Fri, 27 Nov 2026 13:30:00 +0300", "fin-2026-11-27-02"),
        ("Курс рубля укрепился к доллару и евро",
         "Поддержку рублю оказали налоговые выплаты экспортеров и высокие "
         "цены на нефть.",
         "https://finance.example.ru/news/2026/11/26/rouble",
         "Thu, 26 Nov 2026 17:15:00 +0300", "fin-2026-11-26-03"),
        ("Сбербанк увеличил чистую прибыль на 12% за девять месяцев",
         "Чистая прибыль банка по МСФО составила 1,2 трлн рублей. "
         "Рост обеспечили процентные и комиссионные доходы.",
         "https://finance.example.ru/news/2026/11/26/sber-results",
         "Thu, 26 Nov 2026 10:00:00 +0300", "fin-2026-11-26-04"),
        ("Акции Газпрома подешевели после публикации отчётности",
         "Компания сообщила о снижении выручки от экспорта газа. "
         "Бумаги потеряли более трёх процентов.",
         "https://finance.example.ru/news/2026/11/25/gazprom",
         "Wed, 25 Nov 2026 16:45:00 +0300", "fin-2026-11-25-05"),
        ("Инфляция в России замедлилась до 7,5% в годовом выражении",
         "По данным Росстата, цены за неделю выросли на 0,1%. "
         "Подешевели овощи и бензин.",
         "https://finance.example.ru/news/2026/11/25/inflation",
         "Wed, 25 Nov 2026 20:00:00 +0300", "fin-2026-11-25-06"),
    ],
)

EN = dict(  # UTF-8 / UTF-16: non-ASCII Latin, punctuation and other scripts
    lang="en",
    title="Global Markets Wire",
    link="https://wire.example.com/markets",
    desc="Stocks, bonds and currencies around the world.",
    items=[
        ("Stoxx 600 rises as Nestlé and L’Oréal rally; Bund yield falls to 2.1% — lowest since May",
         "European shares closed at a two-month high. Consumer staples led the "
         "gains while Zürich-listed banks lagged.",
         "https://wire.example.com/markets/europe-close-1127",
         "Fri, 27 Nov 2026 16:45:00 GMT", "gmw-1127-eu"),
        ("Nikkei (日経平均) extends winning streak to three sessions",
         "Chip-related stocks led the advance in Tokyo. The yen held near ¥150 "
         "per dollar.",
         "https://wire.example.com/markets/asia-close-1127",
         "Fri, 27 Nov 2026 06:30:00 GMT", "gmw-1127-asia"),
        ("Moscow Exchange index (Индекс Мосбиржи) gains 1.5% on oil",
         "Energy names drove the rebound. The rouble firmed against the dollar.",
         "https://wire.example.com/markets/russia-1127",
         "Fri, 27 Nov 2026 16:00:00 GMT", "gmw-1127-ru"),
        ("Euro slips to $1.05 as ECB signals December cut",
         "Traders priced in a 25 basis-point reduction. The euro fell 0.4% "
         "against the dollar and 0.3% against sterling (£).",
         "https://wire.example.com/markets/fx-1126",
         "Thu, 26 Nov 2026 14:20:00 GMT", "gmw-1126-fx"),
        ("Shanghai Composite (上证指数) closes up 1.2% led by brokers",
         "Turnover topped one trillion yuan. Northbound investors bought a net "
         "6 billion yuan of mainland shares.",
         "https://wire.example.com/markets/china-1127",
         "Fri, 27 Nov 2026 07:10:00 GMT", "gmw-1127-cn"),
    ],
)

# The invalid-UTF-8 feed: [[hex]] stands for raw bytes spliced into the UTF-8
# after encoding. The first title mixes ASCII words with lone invalid bytes;
# the others carry an overlong, an encoded surrogate, a code point above
# U+10FFFF, truncated sequences (one right before '<') and stray
# continuation bytes, next to valid non-ASCII text. The valid ” (E2 80 9D)
# holds 0x9D, a byte glibc's WINDOWS-1252 converter rejects, so a
# windows-1252 fallback over the whole document must cope with it too.
BAD = dict(
    lang="en",
    title="Wire Desk [[ff]] Markets",
    link="https://desk.example.com/markets",
    desc="Automated market briefs.",
    items=[
        ("Stocks [[ff]] rally as Fed [[c3]] holds rates",
         "The S&P 500 rose 1.1% [[fe]] after the decision. Treasury yields fell.",
         "https://desk.example.com/markets/fed-holds",
         "Fri, 27 Nov 2026 19:05:00 GMT", "desk-1127-01"),
        ("Nestlé shares [[c0af]] climb 3% in Zürich",
         "Overlong slash [[c0af]] and surrogate [[eda080]] in the café report.",
         "https://desk.example.com/markets/nestle",
         "Fri, 27 Nov 2026 15:30:00 GMT", "desk-1127-02"),
        ("Yen weakens past ¥150 [[f4908080]] per dollar",
         "Above U+10FFFF [[f4908080]] then a truncated euro [[e282]]",
         "https://desk.example.com/markets/yen",
         "Fri, 27 Nov 2026 08:00:00 GMT", "desk-1127-03"),
        ("Oil [[80]] slips as stockpiles [[bf]] rise",
         "Brent fell to $78 [[e2]] a barrel — the lowest in a month. "
         "Traders still expect a “soft landing”.",
         "https://desk.example.com/markets/oil",
         "Thu, 26 Nov 2026 21:10:00 GMT", "desk-1126-04"),
    ],
)


# ---------------------------------------------------------------- rendering

def esc(s):
    return html.escape(s, quote=False)


def render(feed, decl="", quote='"', standalone=False, title0=None):
    """The feed as a unicode string. decl: the encoding= value, "" for a
    version-only XML declaration, None for no declaration at all."""
    out = []
    if decl is not None:
        d = '<?xml version="1.0"'
        if decl:
            d += " encoding=%s%s%s" % (quote, decl, quote)
        if standalone:
            d += ' standalone="yes"'
        out.append(d + "?>\n")
    out.append('<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n')
    out.append("  <title>%s</title>\n" % esc(feed["title"]))
    out.append("  <link>%s</link>\n" % feed["link"])
    out.append('  <atom:link href="%s/rss.xml" rel="self" type="application/rss+xml"/>\n'
               % feed["link"])
    out.append("  <description>%s</description>\n" % esc(feed["desc"]))
    out.append("  <language>%s</language>\n" % feed["lang"])
    for i, (title, desc, link, date, guid) in enumerate(feed["items"]):
        if i == 0 and title0 is not None:
            title = title0
        out.append("  <item>\n")
        out.append("    <title>%s</title>\n" % esc(title))
        out.append("    <link>%s</link>\n" % link)
        out.append("    <description>%s</description>\n" % esc(desc))
        out.append("    <pubDate>%s</pubDate>\n" % date)
        out.append('    <guid isPermaLink="false">%s</guid>\n' % guid)
        out.append("  </item>\n")
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def splice_bad(b):
    return re.sub(rb"\[\[([0-9a-f]+)\]\]", lambda m: bytes.fromhex(m.group(1).decode()), b)


def bad_title(s):
    return re.sub(r"\[\[[0-9a-f]+\]\]", "\ufffd", s)


BOM8 = b"\xef\xbb\xbf"
CT_UTF8 = "application/rss+xml; charset=utf-8"

# (file, bytes, content type, expected first title, family, case)
CASES = []


def case(name, data, ct, title, family, what):
    CASES.append((name, data, ct, title, family, what))


def t0(feed):
    return feed["items"][0][0]


def build():
    # Latin-1, Portuguese
    case("latin1_pt_declared.xml", render(PT, "ISO-8859-1").encode("latin-1"), "",
         t0(PT), "ISO-8859-1", "(a) declared ISO-8859-1")
    case("latin1_pt_undeclared.xml", render(PT, None).encode("latin-1"), "",
         t0(PT), "ISO-8859-1", "(b) no XML declaration, no HTTP charset: Latin-1 bytes")
    case("latin1_pt_mislabel_utf8.xml", render(PT, "UTF-8").encode("latin-1"), "",
         t0(PT), "ISO-8859-1", "(c) declared UTF-8, Latin-1 bytes")
    # Latin-1, German
    case("latin1_de_declared_textxml.xml", render(DE, "iso-8859-1").encode("latin-1"),
         "text/xml", t0(DE), "ISO-8859-1",
         "(a) declared iso-8859-1, HTTP text/xml without charset")
    case("latin1_de_mislabel_http.xml", render(DE, "").encode("latin-1"), CT_UTF8,
         t0(DE), "ISO-8859-1", "(c) HTTP charset=utf-8, version-only declaration, Latin-1 bytes")
    # windows-1252, French
    case("cp1252_fr_declared.xml", render(FR, "windows-1252").encode("cp1252"), "",
         t0(FR), "windows-1252", "(a) declared windows-1252 (bytes 0x80-0x9F)")
    case("cp1252_fr_undeclared.xml", render(FR, "").encode("cp1252"), "",
         t0(FR), "windows-1252", "(b) undeclared windows-1252 (bytes 0x80-0x9F)")
    case("cp1252_fr_mislabel_utf8.xml", render(FR, "UTF-8").encode("cp1252"), "",
         t0(FR), "windows-1252", "(c) declared UTF-8, windows-1252 bytes")
    case("cp1252_fr_declared_latin1.xml", render(FR, "ISO-8859-1").encode("cp1252"), "",
         t0(FR), "windows-1252",
         "(i) declared ISO-8859-1, windows-1252 bytes in 0x80-0x9F: read as windows-1252")
    case("cp1252_fr_http_override.xml", render(FR, "UTF-8").encode("cp1252"),
         "application/rss+xml; charset=windows-1252", t0(FR), "windows-1252",
         "(f) HTTP charset=windows-1252 overrides a wrong UTF-8 declaration")
    # Shift_JIS
    case("sjis_declared.xml", render(JA, "Shift_JIS").encode("shift_jis"), "",
         t0(JA), "Shift_JIS", "(a) declared Shift_JIS")
    case("sjis_undeclared.xml", render(JA, "").encode("shift_jis"), "",
         t0(JA), "Shift_JIS", "(b) undeclared Shift_JIS")
    case("sjis_mislabel_utf8.xml", render(JA, "UTF-8").encode("shift_jis"), "",
         t0(JA), "Shift_JIS", "(c) declared UTF-8, Shift_JIS bytes")
    case("sjis_http_override.xml", render(JA, "ISO-8859-1").encode("shift_jis"),
         "application/rss+xml; charset=Shift_JIS", t0(JA), "Shift_JIS",
         "(f) HTTP charset=Shift_JIS overrides a wrong ISO-8859-1 declaration")
    case("sjis_mislabel_http.xml", render(JA, "Shift_JIS").encode("shift_jis"), CT_UTF8,
         t0(JA), "Shift_JIS",
         "(c) HTTP charset=utf-8 is wrong, the XML declaration (Shift_JIS) is right")
    # GB2312 / GBK
    case("gb2312_declared.xml", render(ZH, "gb2312", quote="'").encode("gb2312"), "",
         t0(ZH), "GB18030", "(a) declared encoding='gb2312' (lower case, single quotes)")
    case("gbk_declared.xml", render(ZH, "GBK", title0=ZH_GBK_TITLE).encode("gbk"), "",
         ZH_GBK_TITLE, "GB18030", "(a) declared GBK, a GBK-only character")
    case("gbk_declared_gb2312.xml", render(ZH, "GB2312", title0=ZH_GBK_TITLE).encode("gbk"),
         "", ZH_GBK_TITLE, "GB18030",
         "(c) declared GB2312 but a GBK-only character (0x954E) occurs")
    case("gb2312_undeclared.xml", render(ZH, None).encode("gb2312"), "",
         t0(ZH), "GB18030", "(b) no XML declaration, GB2312 bytes")
    case("gb2312_mislabel_utf8.xml", render(ZH, "UTF-8").encode("gb2312"), "",
         t0(ZH), "GB18030", "(c) declared UTF-8, GB2312 bytes")
    case("gb2312_mislabel_http.xml", render(ZH, "utf-8").encode("gb2312"), CT_UTF8,
         t0(ZH), "GB18030", "(c) HTTP charset=utf-8 and declared utf-8, GB2312 bytes")
    # KOI8-R
    case("koi8r_declared.xml", render(RU, "KOI8-R", standalone=True).encode("koi8-r"), "",
         t0(RU), "KOI8-R", "(a) declared KOI8-R (standalone=\"yes\")")
    case("koi8r_undeclared.xml", render(RU, "").encode("koi8-r"), "",
         t0(RU), "KOI8-R", "(b) undeclared KOI8-R")
    case("koi8r_mislabel_utf8.xml", render(RU, "UTF-8").encode("koi8-r"), "",
         t0(RU), "KOI8-R", "(c) declared UTF-8, KOI8-R bytes")
    case("koi8r_http_override.xml", render(RU, "windows-1251").encode("koi8-r"),
         "text/xml; charset=\"koi8-r\"", t0(RU), "KOI8-R",
         "(f) HTTP charset=\"koi8-r\" (quoted) overrides a wrong windows-1251 declaration")
    # UTF-8 under single-byte labels
    case("utf8_declared_latin1.xml", render(PT, "ISO-8859-1").encode("utf-8"), "",
         t0(PT), "UTF-8", "(d) declared ISO-8859-1, UTF-8 bytes")
    case("utf8_http_latin1.xml", render(DE, "").encode("utf-8"),
         "application/rss+xml; charset=ISO-8859-1", t0(DE), "UTF-8",
         "(d) HTTP charset=ISO-8859-1, UTF-8 bytes")
    # unknown names
    case("unknown_enc_utf8.xml", render(EN, "x-no-such-charset").encode("utf-8"), "",
         t0(EN), "UTF-8", "(e) encoding=\"x-no-such-charset\", UTF-8 bytes")
    case("unknown_enc_latin1.xml", render(DE, "x-no-such-charset").encode("latin-1"), "",
         t0(DE), "ISO-8859-1", "(e) encoding=\"x-no-such-charset\", Latin-1 bytes")
    # BOMs
    case("utf8_plain.xml", render(EN, "").encode("utf-8"), "",
         t0(EN), "UTF-8", "baseline: undeclared UTF-8")
    case("utf8_bom.xml", BOM8 + render(EN, "").encode("utf-8"), "",
         t0(EN), "UTF-8", "(g) UTF-8 byte order mark, version-only declaration")
    case("utf8_bom_decl_latin1.xml", BOM8 + render(EN, "ISO-8859-1").encode("utf-8"), "",
         t0(EN), "UTF-8", "(g) UTF-8 byte order mark beats a wrong ISO-8859-1 declaration")
    case("utf16le_bom.xml", b"\xff\xfe" + render(EN, "UTF-16").encode("utf-16-le"), "",
         t0(EN), "UTF-16", "(g) UTF-16LE with byte order mark, declared UTF-16")
    case("utf16be_bom.xml", b"\xfe\xff" + render(EN, "UTF-16").encode("utf-16-be"), "",
         t0(EN), "UTF-16", "(g) UTF-16BE with byte order mark, declared UTF-16")
    # invalid UTF-8
    case("utf8_invalid_bytes.xml", splice_bad(render(BAD, "UTF-8").encode("utf-8")), "",
         bad_title(t0(BAD)), "UTF-8",
         "(h) UTF-8 with invalid bytes: lone 0xFF/0xFE/0x80, overlong, surrogate, "
         "> U+10FFFF, truncated sequences (one before '<')")


def write():
    build()
    keep = {"make.py", "cases.tsv"}
    for f in os.listdir(HERE):  # drop fixtures of cases that no longer exist
        if f not in keep and f.endswith(".xml") and f not in {c[0] for c in CASES}:
            os.remove(os.path.join(HERE, f))
    for name, data, ct, title, fam, what in CASES:
        assert "\t" not in title and "\n" not in title
        with open(os.path.join(HERE, name), "wb") as fh:
            fh.write(data)
    with open(os.path.join(HERE, "cases.tsv"), "w", encoding="utf-8", newline="\n") as fh:
        fh.write("# Generated by make.py (see its docstring): do not edit by hand.\n")
        fh.write("# file\tcontent_type\tfirst_title\tencoding\tcase\n")
        for name, data, ct, title, fam, what in CASES:
            fh.write("\t".join((name, ct, title, fam, what)) + "\n")
    print("wrote %d fixtures and cases.tsv in %s" % (len(CASES), HERE))


def check():
    if not shutil.which("uchardet"):
        print("uchardet not found (apt-get install uchardet)", file=sys.stderr)
        return 1
    print("%-32s %-14s %s" % ("file", "expected", "uchardet"))
    for name, data, ct, title, fam, what in CASES:
        guess = subprocess.run(["uchardet", os.path.join(HERE, name)], capture_output=True,
                               text=True).stdout.strip()
        print("%-32s %-14s %s" % (name, fam, guess))
    return 0


if __name__ == "__main__":
    write()
    sys.exit(check() if "--check" in sys.argv[1:] else 0)
