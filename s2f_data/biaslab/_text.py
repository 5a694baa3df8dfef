"""Sentence generators: templates x word lists, hundreds of varied sentences per language.

Every language has a handful of sentence templates whose slots (names, numbers, objects,
places, times, verbs, adjectives) are filled from word lists written for this project. The
number of distinct sentences per language runs into the hundreds of thousands, so a model
trained on the bias lab cannot learn the language from a few memorised sentences.

Mandarin is written in tone-numbered pinyin (read by espeak's ``cmn-latn-pinyin`` voice, which
garbles Chinese characters), Hindi in Devanagari, Japanese in kana and Arabic in Arabic
script. The sentences are simple and meant to be grammatical; they are stimuli, not teaching
material.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["LANGUAGES", "count_sentences", "make_sentence"]

#: Spoken languages of the bias lab (ISO 639-1).
LANGUAGES: tuple[str, ...] = ("en", "zh", "hi", "es", "ar", "ja")

_SLOT = re.compile(r"\{(\w+)\}")

_EN: dict[str, object] = {
    "templates": (
        "{name} bought {num} {obj} at the {place} {time}.",
        "{time}, {name} will {verb} the {adj} {obj1} near the {place}.",
        "Did {name} really {verb} {num} {obj} {time}?",
        "My friend {name} says the {obj1} in the {place} is {adj}.",
        "We have to {verb} the {obj1} before {name} comes back from the {place}.",
        "{name} and {name2} walked to the {place} {time} to {verb} a {adj} {obj1}.",
        "There are {num} {adj} {obj} on the table, and {name} wants to {verb} them.",
        "Please ask {name} where the {adj} {obj1} from the {place} went.",
    ),
    "name": ("Anna", "Peter", "Maria", "David", "Sarah", "Thomas", "Laura", "Michael",
             "Emma", "Robert", "Olivia", "James", "Grace", "Daniel", "Rachel", "Victor",
             "Helen", "George", "Lucy", "Samuel"),
    "num": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "fifteen", "twenty", "thirty", "forty"),
    "obj": ("apples", "books", "chairs", "bottles", "letters", "tickets", "pencils",
            "oranges", "shirts", "candles", "baskets", "clocks", "flowers", "cups", "maps"),
    "obj1": ("apple", "book", "chair", "bottle", "letter", "ticket", "pencil", "orange",
             "shirt", "candle", "basket", "clock", "flower", "cup", "map", "bicycle"),
    "place": ("market", "station", "library", "garden", "kitchen", "office", "harbour",
              "school", "bakery", "theatre", "museum", "village", "river", "hospital"),
    "time": ("this morning", "yesterday", "on Monday", "last week", "tonight",
             "on Friday evening", "tomorrow", "after lunch", "every Sunday", "in the summer"),
    "verb": ("carry", "paint", "repair", "find", "sell", "wash", "borrow", "measure",
             "deliver", "describe", "photograph", "weigh", "open", "move"),
    "adj": ("small", "heavy", "yellow", "broken", "beautiful", "strange", "quiet", "new",
            "wooden", "expensive", "bright", "dusty", "round", "ancient"),
    "name2": ("Anna", "Peter", "Maria", "David", "Sarah", "Thomas", "Laura", "Michael"),
}

_ZH: dict[str, object] = {
    "templates": (
        "{name} {time} zai4 {place} mai3 le5 {num} ge4 {obj}.",
        "{time} {name} yao4 qu4 {place} {verb} {obj}.",
        "wo3 de5 peng2 you5 {name} shuo1 {place} de5 {obj} hen3 {adj}.",
        "{name} he2 {name2} {time} yi4 qi3 qu4 le5 {place}.",
        "zhuo1 zi5 shang4 you3 {num} ge4 {adj} de5 {obj}, {name} xiang3 {verb}.",
        "qing3 wen4 {name}, {place} li3 de5 {obj} zai4 na3 li3?",
        "{name} {time} bu4 xiang3 {verb} na4 ge4 {adj} de5 {obj}.",
        "ni3 zhi1 dao4 {name} wei4 shen2 me5 yao4 {verb} {num} ge4 {obj} ma5?",
    ),
    "name": ("zhang1 wei3", "li3 na4", "wang2 fang1", "liu2 yang2", "chen2 jing4",
             "yang2 lei3", "zhao4 min3", "huang2 qiang2", "zhou1 hong2", "wu2 jie2",
             "xu2 li4", "sun1 tao1", "ma3 lin2", "zhu1 ying1", "hu2 bo2", "guo1 hui1"),
    "name2": ("lao3 wang2", "xiao3 li3", "lao3 zhang1", "xiao3 chen2", "a1 mei3",
              "xiao3 hong2"),
    "num": ("liang3", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3", "shi2",
            "shi2 er4", "er4 shi2", "san1 shi2", "wu3 shi2"),
    "obj": ("ping2 guo3", "shu1", "yi3 zi5", "ping2 zi5", "xin4", "piao4", "qian1 bi3",
            "ju2 zi5", "chen4 shan1", "la4 zhu2", "lan2 zi5", "zhong1", "hua1", "bei1 zi5",
            "di4 tu2", "zi4 xing2 che1"),
    "place": ("shi4 chang3", "huo3 che1 zhan4", "tu2 shu1 guan3", "hua1 yuan2",
              "chu2 fang2", "ban4 gong1 shi4", "xue2 xiao4", "mian4 bao1 dian4",
              "bo2 wu4 guan3", "cun1 zi5", "yi1 yuan4", "shang1 dian4"),
    "time": ("jin1 tian1 zao3 shang5", "zuo2 tian1", "xing1 qi1 yi1", "shang4 ge4 xing1 qi1",
             "jin1 tian1 wan3 shang5", "ming2 tian1", "wu3 fan4 yi3 hou4", "mei3 ge4 zhou1 mo4",
             "qu4 nian2 xia4 tian1"),
    "verb": ("na2", "xiu1 li3", "zhao3", "mai4", "xi3", "jie4", "song4", "kan4", "ban1",
             "da3 kai1", "hua4", "cheng1"),
    "adj": ("xiao3", "zhong4", "huang2", "piao4 liang4", "qi2 guai4", "an1 jing4", "xin1",
            "gui4", "jiu4", "gan1 jing4", "yuan2", "hong2"),
}

_HI: dict[str, object] = {
    "templates": (
        "{name} ने {time} {place} से {num} {obj} खरीदे।",
        "{time} {name} {place} जाकर {obj} {verb}ने वाला है।",
        "मेरे दोस्त {name} कहते हैं कि {place} की {obj} बहुत {adj} है।",
        "{name} और {name2} {time} साथ में {place} गए।",
        "मेज़ पर {num} {adj} {obj} रखे हैं, और {name} उन्हें {verb}ना चाहता है।",
        "कृपया {name} से पूछिए कि {place} वाली {obj} कहाँ गई।",
        "क्या {name} ने सच में {time} {num} {obj} देखे?",
        "हमें {name} के {place} से लौटने से पहले {obj} {verb}नी होगी।",
    ),
    "name": ("राहुल", "प्रिया", "अमित", "सुनीता", "विकास", "अनीता", "रमेश", "कविता",
             "सुरेश", "पूजा", "अर्जुन", "मीना", "संजय", "नेहा", "दीपक", "लता"),
    "name2": ("रवि", "गीता", "मोहन", "सीता", "आशा", "किरण"),
    "num": ("दो", "तीन", "चार", "पाँच", "छह", "सात", "आठ", "नौ", "दस", "बारह", "पंद्रह",
            "बीस", "तीस", "पचास"),
    "obj": ("सेब", "किताबें", "कुर्सियाँ", "बोतलें", "चिट्ठियाँ", "टिकट", "पेंसिलें",
            "संतरे", "कमीज़ें", "मोमबत्तियाँ", "टोकरियाँ", "घड़ियाँ", "फूल", "प्याले", "नक्शे"),
    "place": ("बाज़ार", "स्टेशन", "पुस्तकालय", "बगीचे", "रसोई", "दफ़्तर", "स्कूल",
              "अस्पताल", "गाँव", "नदी", "संग्रहालय", "दुकान"),
    "time": ("आज सुबह", "कल", "सोमवार को", "पिछले हफ़्ते", "आज रात", "शुक्रवार शाम को",
             "दोपहर के बाद", "हर रविवार", "गर्मियों में"),
    "verb": ("उठा", "रंग", "ठीक कर", "ढूँढ", "बेच", "धो", "माँग", "नाप", "पहुँचा", "खोल",
             "देख", "तौल"),
    "adj": ("छोटी", "भारी", "पीली", "टूटी", "सुंदर", "अजीब", "नई", "पुरानी", "महँगी",
            "चमकीली", "गोल", "लकड़ी की"),
}

_ES: dict[str, object] = {
    "templates": (
        "{name} compró {num} {obj} en el {place} {time}.",
        "{time}, {name} va a {verb} el {obj1} {adj} cerca del {place}.",
        "¿De verdad {name} quiere {verb} {num} {obj} {time}?",
        "Mi amigo {name} dice que el {obj1} del {place} es muy {adj}.",
        "Tenemos que {verb} el {obj1} antes de que {name} vuelva del {place}.",
        "{name} y {name2} caminaron al {place} {time} para {verb} un {obj1} {adj}.",
        "Hay {num} {obj} sobre la mesa, y {name} quiere {verb} todos.",
        "Por favor, pregunta a {name} dónde está el {obj1} {adj} del {place}.",
    ),
    "name": ("Carlos", "Lucía", "Javier", "Carmen", "Miguel", "Sofía", "Pablo", "Elena",
             "Diego", "Isabel", "Andrés", "Marta", "Raúl", "Teresa", "Jorge", "Paula"),
    "name2": ("Luis", "Ana", "Pedro", "Rosa", "Tomás", "Inés"),
    "num": ("dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez",
            "doce", "quince", "veinte", "treinta", "cuarenta"),
    "obj": ("libros", "relojes", "platos", "vasos", "lápices", "zapatos", "billetes",
            "mapas", "cuadernos", "sombreros", "paraguas", "cestos", "espejos"),
    "obj1": ("libro", "reloj", "plato", "vaso", "lápiz", "zapato", "billete", "mapa",
             "cuaderno", "sombrero", "paraguas", "cesto", "espejo", "coche"),
    "place": ("mercado", "museo", "hospital", "pueblo", "puerto", "teatro", "colegio",
              "jardín", "despacho", "banco", "parque", "río"),
    "time": ("esta mañana", "ayer", "el lunes", "la semana pasada", "esta noche",
             "el viernes por la tarde", "mañana", "después de comer", "cada domingo",
             "en verano"),
    "verb": ("llevar", "pintar", "arreglar", "buscar", "vender", "lavar", "medir",
             "entregar", "describir", "abrir", "mover", "pesar"),
    "adj": ("pequeño", "pesado", "amarillo", "roto", "bonito", "extraño", "nuevo",
            "viejo", "caro", "brillante", "redondo", "antiguo"),
}

_AR: dict[str, object] = {
    "templates": (
        "اشترى {name} {num} {obj} من {place} {time}.",
        "{time} سيذهب {name} إلى {place} ل{verb} {obj1}.",
        "يقول صديقي {name} إن {obj1} في {place} {adj} جدا.",
        "ذهب {name} و{name2} معا إلى {place} {time}.",
        "على الطاولة {num} {obj}، و{name} يريد أن {verb2}ها.",
        "من فضلك اسأل {name} أين {obj1} الذي كان في {place}.",
        "هل رأى {name} حقا {num} {obj} {time}؟",
        "يجب أن {verb2} {obj1} قبل أن يعود {name} من {place}.",
    ),
    "name": ("محمد", "فاطمة", "أحمد", "مريم", "علي", "سارة", "يوسف", "ليلى", "عمر",
             "نور", "خالد", "هدى", "سامي", "رنا", "كريم", "سلمى"),
    "name2": ("حسن", "زينب", "طارق", "أمل", "ماجد", "دينا"),
    "num": ("ثلاثة", "أربعة", "خمسة", "ستة", "سبعة", "ثمانية", "تسعة", "عشرة", "عشرين",
            "ثلاثين", "أربعين"),
    "obj": ("كتب", "ساعات", "أقلام", "كراسي", "رسائل", "تذاكر", "زجاجات", "خرائط",
            "قمصان", "سلال", "أكواب", "مصابيح"),
    "obj1": ("الكتاب", "الساعة", "القلم", "الكرسي", "الرسالة", "التذكرة", "الزجاجة",
             "الخريطة", "القميص", "السلة", "الكوب", "المصباح"),
    "place": ("السوق", "المحطة", "المكتبة", "الحديقة", "المطبخ", "المكتب", "المدرسة",
              "المستشفى", "القرية", "الميناء", "المتحف", "النهر"),
    "time": ("هذا الصباح", "أمس", "يوم الاثنين", "الأسبوع الماضي", "الليلة", "غدا",
             "بعد الغداء", "كل يوم جمعة", "في الصيف"),
    "verb": ("شراء", "إصلاح", "بيع", "غسل", "قياس", "فتح", "نقل", "رسم", "حمل"),
    "verb2": ("يحمل", "يصلح", "يبيع", "يغسل", "يفتح", "ينقل", "يرسم", "يجد"),
    "adj": ("صغير", "ثقيل", "جميل", "غريب", "جديد", "قديم", "غال", "لامع", "مكسور",
            "هادئ"),
}

_JA: dict[str, object] = {
    "templates": (
        "{name}さんは {time} {place}で {obj}を {num} かいました。",
        "{time} {name}さんは {place}へ {obj}を {verb}に いきます。",
        "ともだちの {name}さんは {place}の {obj}は とても {adj}と いいました。",
        "{name}さんと {name2}さんは {time} いっしょに {place}へ いきました。",
        "つくえの うえに {adj} {obj}が {num} あります。",
        "すみません、{name}さん、{place}の {obj}は どこですか。",
        "{name}さんは ほんとうに {time} {obj}を {num} みましたか。",
        "{name}さんが {place}から かえるまえに {obj}を {verb}なければ なりません。",
    ),
    "name": ("たなか", "すずき", "さとう", "たかはし", "わたなべ", "いとう", "やまもと",
             "なかむら", "こばやし", "かとう", "よしだ", "やまだ", "ささき", "まつもと",
             "いのうえ", "きむら"),
    "name2": ("はるか", "けんじ", "ゆうき", "みさき", "たろう", "あやこ"),
    "num": ("ふたつ", "みっつ", "よっつ", "いつつ", "むっつ", "ななつ", "やっつ",
            "ここのつ", "とお", "じゅうに", "にじゅう", "さんじゅう"),
    "obj": ("りんご", "ほん", "いす", "びん", "てがみ", "きっぷ", "えんぴつ", "みかん",
            "シャツ", "ろうそく", "かご", "とけい", "はな", "コップ", "ちず", "じてんしゃ"),
    "place": ("いちば", "えき", "としょかん", "にわ", "だいどころ", "かいしゃ", "がっこう",
              "パンや", "はくぶつかん", "むら", "びょういん", "みなと"),
    "time": ("けさ", "きのう", "げつようび", "せんしゅう", "こんばん", "あした",
             "ひるごはんの あと", "まいしゅう にちようび", "きょねんの なつ"),
    "verb": ("かい", "なおし", "さがし", "うり", "あらい", "かり", "はかり", "とどけ",
             "あけ", "はこび"),
    "adj": ("ちいさい", "おもい", "きいろい", "きれいな", "ふしぎな", "しずかな",
            "あたらしい", "ふるい", "たかい", "まるい", "あかい"),
}

_GRAMMARS: dict[str, Mapping[str, object]] = {
    "en": _EN,
    "zh": _ZH,
    "hi": _HI,
    "es": _ES,
    "ar": _AR,
    "ja": _JA,
}


def _grammar(language: str) -> Mapping[str, object]:
    if language not in _GRAMMARS:
        raise ValueError(f"language {language!r} is not supported; expected one of {LANGUAGES}")
    return _GRAMMARS[language]


def make_sentence(language: str, rng: np.random.Generator) -> str:
    """Draw one sentence in ``language`` from its templates and word lists.

    Parameters
    ----------
    language : str
        One of :data:`LANGUAGES`.
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same sentence.

    Returns
    -------
    str
        The sentence, in the script espeak-ng reads for that language.

    Examples
    --------
    >>> import numpy as np
    >>> s = make_sentence("en", np.random.default_rng(0))
    >>> s[-1] in ".?"
    True
    """
    grammar = _grammar(language)
    templates: Sequence[str] = grammar["templates"]  # type: ignore[assignment]
    template = templates[int(rng.integers(len(templates)))]

    def fill(match: re.Match[str]) -> str:
        words: Sequence[str] = grammar[match.group(1)]  # type: ignore[assignment]
        return words[int(rng.integers(len(words)))]

    sentence = _SLOT.sub(fill, template)
    return sentence[0].upper() + sentence[1:]


def count_sentences(language: str) -> int:
    """Count the distinct (template, word choice) combinations of a language.

    Parameters
    ----------
    language : str
        One of :data:`LANGUAGES`.

    Returns
    -------
    int
        Sum over templates of the product of the slot list lengths.
    """
    grammar = _grammar(language)
    total = 0
    for template in grammar["templates"]:  # type: ignore[union-attr]
        slots = _SLOT.findall(template)
        total += math.prod(len(grammar[s]) for s in slots)  # type: ignore[arg-type]
    return total
